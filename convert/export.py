"""Keras -> SavedModel with named signatures -> TFLite bytes in one quantization mode.

The models are exported through ``keras.export.ExportArchive`` with an explicit
``serving_default`` signature whose inputs and outputs carry the names the device
binds by (``face`` -> ``latent``; ``window`` -> ``cry``, ``pain``). TFLite renames
output tensors (``StatefulPartitionedCall:0``...) and may reorder them; signature
names survive, so cry and pain are bound by name and can never swap.

TensorFlow and Keras are imported inside the functions.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from cribside.convert.modes import QuantMode
from cribside.edge.errors import CribsideError

SIGNATURE = "serving_default"
FACE, LATENT, WINDOW = "face", "latent", "window"
HEADS = ("cry", "pain")

Representative = Callable[[], Iterator[dict[str, np.ndarray]]]


def export_encoder(encoder: Any, out_dir: Path) -> Path:
    """Export the encoder (H, W, 1) float32 -> latent, batch 1, as a SavedModel in ``out_dir``."""
    import keras
    import tensorflow as tf

    shape = (1, *tuple(encoder.input_shape[1:]))

    def serve(face: Any) -> dict[str, Any]:
        latent = encoder(face, training=False)
        return {LATENT: tf.reshape(latent, (1, -1))}

    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.add_endpoint(SIGNATURE, serve, input_signature=[tf.TensorSpec(shape, tf.float32, name=FACE)])
    archive.write_out(str(out_dir), verbose=False)
    return out_dir


def export_classifier(classifier: Any, out_dir: Path) -> Path:
    """Export the classifier (L, latent) -> {cry, pain}, batch 1, as a SavedModel in ``out_dir``.

    Raises:
        CribsideError: the model has no outputs named cry and pain.
    """
    import keras
    import tensorflow as tf

    shape = (1, *tuple(classifier.input_shape[1:]))
    names = list(getattr(classifier, "output_names", []) or [])
    if not set(HEADS) <= set(names):
        raise CribsideError(f"classifier outputs are {names}; expected outputs named {', '.join(HEADS)}")

    def serve(window: Any) -> dict[str, Any]:
        out = classifier(window, training=False)
        by_name = out if isinstance(out, dict) else dict(zip(names, out))
        return {head: by_name[head] for head in HEADS}

    archive = keras.export.ExportArchive()
    archive.track(classifier)
    archive.add_endpoint(SIGNATURE, serve, input_signature=[tf.TensorSpec(shape, tf.float32, name=WINDOW)])
    archive.write_out(str(out_dir), verbose=False)
    return out_dir


def convert_saved_model(saved_dir: Path, mode: QuantMode, representative: Representative | None = None) -> bytes:
    """Convert one exported SavedModel to TFLite bytes in ``mode``.

    Args:
        representative: for int8, yields ``{input name: float32 batch of 1}`` calibration samples.

    Raises:
        CribsideError: int8 without calibration data, or the converter fails.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_dir), signature_keys=[SIGNATURE])
    if mode.name != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode.name == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode.needs_calibration:
        if representative is None:
            raise CribsideError(f"{mode.name} conversion needs calibration data")
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        with warnings.catch_warnings():
            # int8 calibration runs TF's own (deprecated) interpreter internally; nothing for the user to do.
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises many types; one line for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CribsideError(f"TFLite conversion ({mode.name}) of {saved_dir.name} failed: {first}") from exc
