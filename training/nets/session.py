"""TensorFlow's set-up for every training command: process options before it loads, seeds and determinism.

TensorFlow and Keras are imported inside :func:`start_training_session` only.
"""

from __future__ import annotations


def prepare_tensorflow() -> None:
    """Set TensorFlow's process options; call before TensorFlow is imported. Environment values
    the user already set win.

    - ``TF_CPP_MIN_LOG_LEVEL=2``: hide the C++ info and warning lines (CPU feature banners);
      errors still show.
    - ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow's oneDNN kernels. TensorFlow turns them on by
      itself only on CPUs with AVX-512 or newer; on AVX2-only CPUs (many cloud VMs, AMD EPYC)
      its default kernels run the autoencoder's 1- and 10-channel convolutions markedly slower
      (benchmarks/RESULTS.md, training times).
    """
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def start_training_session(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, ask TensorFlow for deterministic ops, and turn off
    Grappler's remapper.

    The remapper: with oneDNN (:func:`prepare_tensorflow`), TensorFlow
    2.21's remapper fails on the autoencoder's training graph (it fuses Conv2D + BiasAdd +
    LeakyReLU although the LeakyReLU gradient reads the BiasAdd output), logs an error line and
    skips the pass anyway; turning it off changed neither model's epoch time.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.config.optimizer.set_experimental_options({"remapping": False})
