"""Shared pytest set-up. Fixtures live in one module per area (tests/fixtures_*.py)."""

import sys
from pathlib import Path

from cribside.training.models import prepare_tensorflow

prepare_tensorflow()  # TensorFlow's options as the training commands set them, before any test imports it

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = [
    "fixtures_face",  # face models, real face images and videos
    "fixtures_data",  # synthetic datasets
    "fixtures_run",  # a small trained run
    "fixtures_models",  # converted TFLite models with a manifest
    "fixtures_broker",  # a real mosquitto broker on a free loopback port
    "fixtures_acl",  # mosquitto with deploy/mosquitto/ (the real ACL file) and cribside users
]

DATA = Path(__file__).parent / "data"
