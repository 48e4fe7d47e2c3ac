"""Shared pytest set-up. Fixtures live in ``tests/support/``, one module per area, registered here.

``tests/`` is on the import path through ``pythonpath`` in pyproject.toml (no ``sys.path`` edits).
The device tests (``tests/edge``, and the e2e tests that need no trained models) run with only the
``edge`` and ``dev`` extras: TensorFlow is set up here only when it is installed, and the fixtures that
train or convert models skip without it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

if importlib.util.find_spec("tensorflow") is not None:
    from cribside.training.nets.session import prepare_tensorflow

    prepare_tensorflow()  # TensorFlow's options as the training commands set them, before any test imports it

pytest_plugins = [
    "support.face",  # face models, real face images and videos
    "support.data",  # synthetic datasets
    "support.run",  # a small trained run
    "support.models",  # converted TFLite models with a manifest
    "support.broker",  # a real mosquitto broker on a free loopback port
    "support.acl",  # mosquitto with deploy/mosquitto/ (the real ACL file) and cribside users
    "support.mqtt",  # started MQTT publishers
    "support.storage",  # a tiny file system for disk-full tests
    "support.device",  # SYNTHETIC videos and configs for whole-device runs
    "support.release",  # release bundles from `cribside bundle`, and releases installed from them
    "support.debian",  # a clean Debian bookworm root (debootstrap) to install bundles into
]

DATA = Path(__file__).parent / "data"
