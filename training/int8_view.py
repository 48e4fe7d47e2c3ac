"""Latents as the full-integer (int8) encoder will compute them, simulated while training.

``cribside convert --quant int8`` rounds the encoder's weights to int8 per output channel and
every activation to int8 per tensor, with ranges calibrated on training faces. The rounding
of the early activations travels through the later layers, and the classifier's per-feature
standardisation magnifies it for features with a small spread: a classifier trained on float
latents alone can change its answer on borderline windows once the encoder is int8.

:func:`int8_latents` repeats that arithmetic in numpy (same scheme: symmetric per-channel
weights, asymmetric per-tensor activations from the calibration faces' min and max), so the
classifier can also train on these latents (``TrainConfig.int8_aware``): it learns to give
the same answer whichever encoder feeds it. Only Conv2D, LeakyReLU/ReLU and Flatten layers
are simulated; for any other encoder :func:`int8_latents` returns None and training goes on
without the view.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_BATCH = 512
_SIMULATED = ("InputLayer", "Conv2D", "LeakyReLU", "ReLU", "Flatten")


def int8_latents(encoder: Any, faces: np.ndarray, calibration: np.ndarray,
                 standardize: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray | None:
    """Latents (N, latent) float32 of uint8 ``faces`` (N, H, W) through a simulated int8 encoder.

    Args:
        calibration: uint8 training faces that set the activation ranges (as the converter's
            representative dataset does).
        standardize: the classifier's (mean, std): the exported int8 encoder ends with
            ``(latent - mean) / std``, each step rounded to int8 again (convert/export.py); those
            roundings are simulated too, and the result is mapped back to raw latents (exactly,
            in float), so the classifier's own standardisation sees the int8 values.

    Returns:
        The latents, or None when the encoder has layers this simulation does not cover.
    """
    layers = [layer for layer in encoder.layers if type(layer).__name__ != "InputLayer"]
    unknown = sorted({type(layer).__name__ for layer in layers} - set(_SIMULATED))
    if unknown:
        log.warning("int8-aware training skipped: the encoder has %s layers", ", ".join(unknown))
        return None
    ranges = _activation_ranges(layers, _pixels(calibration))
    out = [_forward(layers, _pixels(faces[i : i + _BATCH]), ranges) for i in range(0, len(faces), _BATCH)]
    latents = np.concatenate(out).reshape(len(faces), -1).astype(np.float32)
    if standardize is None:
        return latents
    mean, std = (np.asarray(a, np.float32) for a in standardize)
    reference = np.concatenate(
        [_forward(layers, _pixels(calibration[i : i + _BATCH]), ranges) for i in range(0, len(calibration), _BATCH)]
    ).reshape(len(calibration), -1)
    centred = _fake_quant(latents - mean, *_span(reference - mean))
    scaled = _fake_quant(centred / std, *_span((reference - mean) / std))
    return (scaled * std + mean).astype(np.float32)


def _span(x: np.ndarray) -> tuple[float, float]:
    return float(x.min()), float(x.max())


def _pixels(faces: np.ndarray) -> np.ndarray:
    # uint8 / 255 is exact in the int8 input (scale 1/255, zero point -128): no rounding here.
    return (np.asarray(faces, np.float32) / 255.0)[..., None]


def _activation_ranges(layers: list[Any], faces: np.ndarray) -> list[tuple[float, float]]:
    """Min and max of every layer's output over the calibration faces (float pass)."""
    lows = [np.inf] * len(layers)
    highs = [-np.inf] * len(layers)
    for i in range(0, len(faces), _BATCH):
        x = faces[i : i + _BATCH]
        for k, layer in enumerate(layers):
            x = _apply(layer, x, quantize_weights=True)
            lows[k], highs[k] = min(lows[k], float(x.min())), max(highs[k], float(x.max()))
    return list(zip(lows, highs))


def _forward(layers: list[Any], x: np.ndarray, ranges: list[tuple[float, float]]) -> np.ndarray:
    for layer, (low, high) in zip(layers, ranges):
        x = _apply(layer, x, quantize_weights=True)
        if type(layer).__name__ != "Flatten":  # a reshape keeps its input's quantization
            x = _fake_quant(x, low, high)
    return x


def _apply(layer: Any, x: np.ndarray, *, quantize_weights: bool) -> np.ndarray:
    if type(layer).__name__ != "Conv2D":
        return np.asarray(layer(x))
    kernel, bias = (np.asarray(w) for w in layer.get_weights())
    if quantize_weights:  # symmetric int8 per output channel, as the converter does
        scale = np.maximum(np.abs(kernel).max(axis=(0, 1, 2)), 1e-12) / 127.0
        kernel = np.round(kernel / scale) * scale
    return np.asarray(layer.convolution_op(x, kernel)) + bias


def _fake_quant(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Round to the int8 grid spanning [low, high] (widened to hold 0, as TFLite requires)."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255.0 or 1.0
    zero = np.round(-128 - low / scale)
    q = np.clip(np.round(x / scale) + zero, -128, 127)
    return ((q - zero) * scale).astype(np.float32)
