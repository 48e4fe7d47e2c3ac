"""Keras -> SavedModel with named signatures -> TFLite bytes in one quantization mode.

The classifier's input standardisation (per-feature mean and variance of the training
latents, a ``Normalization`` layer named ``standardize``) moves to the end of the
exported encoder: :func:`split_standardization`. The TFLite encoder then outputs
standardised latents and the TFLite classifier starts at its LSTM. The arithmetic is
the same, but the int8 encoder now rounds every latent feature in units of its own
spread: rounding raw latents with one per-tensor scale and standardising afterwards
magnified the rounding of low-spread features into large jumps (the int8 parity
failure of earlier releases).

The models are exported through ``keras.export.ExportArchive`` with an explicit
``serving_default`` signature whose inputs and outputs carry the names the device
binds by (``face`` -> ``latent``; ``window`` -> ``cry``, ``pain``). TFLite renames
output tensors (``StatefulPartitionedCall:0``...) and may reorder them; signature
names survive, so cry and pain are bound by name and can never swap.

TensorFlow and Keras are imported inside the functions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cribside.convert.lstm_graph import fused_classifier
from cribside.convert.modes import QuantMode
from cribside.edge.errors import CribsideError

SIGNATURE = "serving_default"
FACE, LATENT, WINDOW = "face", "latent", "window"
HEADS = ("cry", "pain")

STANDARDIZE = "standardize"  # the classifier's Normalization layer (training/nets/networks.py)
_EPSILON = 1e-7  # keras.backend.epsilon(): Normalization divides by max(sqrt(variance), epsilon)

Representative = Callable[[], Iterator[dict[str, np.ndarray]]]


@dataclass(frozen=True)
class LatentScaling:
    """Per-feature standardisation of latents: ``(latent - mean) / std``, as Keras' Normalization."""

    mean: np.ndarray  # (latent,) float32
    std: np.ndarray  # (latent,) float32, already floored at epsilon

    def apply(self, latents: np.ndarray) -> np.ndarray:
        """Standardise latents (..., latent) float32."""
        return ((np.asarray(latents, np.float32) - self.mean) / self.std).astype(np.float32)


def split_standardization(classifier: Any) -> tuple[LatentScaling | None, Any]:
    """Split the classifier's input standardisation off the rest of it.

    Returns:
        ``(scaling, core)``: ``core`` maps standardised windows to ``{cry, pain}`` with the
        classifier's own layers and weights. Without a ``standardize`` layer: ``(None, classifier)``.
    """
    import keras

    try:
        layer = classifier.get_layer(STANDARDIZE)
    except ValueError:
        return None, classifier
    mean = np.asarray(layer.mean, np.float32).reshape(-1)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float32).reshape(-1)), _EPSILON).astype(np.float32)
    # Layers before it (training-time noise) are inactive at inference; the core starts at its output.
    core = keras.Model(layer.output, {head: classifier.get_layer(head).output for head in HEADS}, name="classifier_core")
    return LatentScaling(mean, std), core


def export_encoder(encoder: Any, out_dir: Path, scaling: LatentScaling | None = None) -> Path:
    """Export the encoder (H, W, 1) float32 -> latent, batch 1, as a SavedModel in ``out_dir``.

    With ``scaling``, the exported latent is standardised (see :func:`split_standardization`).
    """
    import keras
    import tensorflow as tf

    shape = (1, *tuple(encoder.input_shape[1:]))

    def serve(face: Any) -> dict[str, Any]:
        latent = tf.reshape(encoder(face, training=False), (1, -1))
        if scaling is not None:
            latent = (latent - tf.constant(scaling.mean)) / tf.constant(scaling.std)
        return {LATENT: latent}

    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.add_endpoint(SIGNATURE, serve, input_signature=[tf.TensorSpec(shape, tf.float32, name=FACE)])
    archive.write_out(str(out_dir), verbose=False)
    return out_dir


def export_classifier(classifier: Any, out_dir: Path, *, batched: bool = True) -> Path:
    """Export the classifier (L, latent) -> {cry, pain}, batch 1, as a SavedModel in ``out_dir``.

    ``batched``: the LSTM's input projection done once per window (convert/lstm_graph.py) when the
    model has the known structure; False exports Keras' own unrolled graph (for comparison).

    Raises:
        CribsideError: the model has no outputs named cry and pain.
    """
    import keras
    import tensorflow as tf

    shape = (1, *tuple(classifier.input_shape[1:]))
    names = list(getattr(classifier, "output_names", []) or [])
    if not set(HEADS) <= set(names):
        raise CribsideError(f"classifier outputs are {names}; expected outputs named {', '.join(HEADS)}")

    fused = fused_classifier(classifier, HEADS) if batched else None  # lstm_graph.py

    def serve(window: Any) -> dict[str, Any]:
        if fused is not None:
            return fused(window)
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
