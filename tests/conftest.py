"""Shared pytest set-up. Fixtures live in one module per area (tests/fixtures_*.py)."""

import os
import sys
from pathlib import Path

# TensorFlow options as the training commands set them (cribside.training.models.prepare_tensorflow),
# before any test imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = [
    "fixtures_face",  # face models, real face images and videos
    "fixtures_data",  # synthetic datasets
    "fixtures_run",  # a small trained run
    "fixtures_models",  # converted TFLite models with a manifest
    "fixtures_broker",  # a real mosquitto broker on a free loopback port
]

DATA = Path(__file__).parent / "data"
