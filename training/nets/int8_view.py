"""Latents as the full-integer (int8) encoder will compute them, simulated while training.

``cribside convert --quant int8`` rounds the encoder's weights to int8 per output channel and
every activation to int8 per tensor, with ranges calibrated on training faces. The rounding
of the early activations travels through the later layers, and the classifier's per-feature
standardisation magnifies it for features with a small spread: a classifier trained on float
latents alone can change its answer on borderline windows once the encoder is int8.

:class:`Int8Encoder` repeats that arithmetic in numpy (same scheme: symmetric per-channel
weights, asymmetric per-tensor activations from the calibration faces' min and max), so the
classifier can also train on these latents (``TrainConfig.int8_aware``): it learns to give
the same answer whichever encoder feeds it. Only Conv2D, LeakyReLU/ReLU and Flatten layers
are simulated; for any other encoder :func:`int8_encoder` returns None and training goes on
without the view.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_BATCH = 512
_SIMULATED = ("InputLayer", "Conv2D", "LeakyReLU", "ReLU", "Flatten")


class Int8Encoder:
    """The encoder with int8 rounding simulated, calibrated once (ranges, int8 weights, the
    standardisation's spans); :meth:`latents` then encodes any number of face sets."""

    def __init__(self, encoder: Any, calibration: np.ndarray,
                 standardize: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """
        Args:
            calibration: uint8 training faces that set the activation ranges (as the converter's
                representative dataset does).
            standardize: the classifier's (mean, std): the exported int8 encoder ends with
                ``(latent - mean) / std``, each step rounded to int8 again (convert/export.py); those
                roundings are simulated too, and the result is mapped back to raw latents (exactly,
                in float), so the classifier's own standardisation sees the int8 values.
        """
        self.layers = [layer for layer in encoder.layers if type(layer).__name__ != "InputLayer"]
        self.kernels = {id(layer): _int8_kernel(layer) for layer in self.layers if type(layer).__name__ == "Conv2D"}
        self.ranges = self._activation_ranges(_pixels(calibration))
        self.standardize = None
        if standardize is not None:
            mean, std = (np.asarray(a, np.float32) for a in standardize)
            centred = self._encode(calibration) - mean
            self.standardize = (mean, std, _span(centred), _span(centred / std))

    def latents(self, faces: np.ndarray) -> np.ndarray:
        """Latents (N, latent) float32 of uint8 ``faces`` (N, H, W) as the int8 encoder computes them."""
        latents = self._encode(faces)
        if self.standardize is None:
            return latents
        mean, std, centred_span, scaled_span = self.standardize
        scaled = _fake_quant(_fake_quant(latents - mean, *centred_span) / std, *scaled_span)
        return (scaled * std + mean).astype(np.float32)

    def _encode(self, faces: np.ndarray) -> np.ndarray:
        out = [self._forward(_pixels(faces[i : i + _BATCH])) for i in range(0, len(faces), _BATCH)]
        return np.concatenate(out).reshape(len(faces), -1).astype(np.float32)

    def _apply(self, layer: Any, x: np.ndarray) -> np.ndarray:
        if id(layer) not in self.kernels:
            return np.asarray(layer(x))
        kernel, bias = self.kernels[id(layer)]
        return np.asarray(layer.convolution_op(x, kernel)) + bias

    def _activation_ranges(self, faces: np.ndarray) -> list[tuple[float, float]]:
        """Min and max of every layer's output over the calibration faces (float activations)."""
        lows = [np.inf] * len(self.layers)
        highs = [-np.inf] * len(self.layers)
        for i in range(0, len(faces), _BATCH):
            x = faces[i : i + _BATCH]
            for k, layer in enumerate(self.layers):
                x = self._apply(layer, x)
                lows[k], highs[k] = min(lows[k], float(x.min())), max(highs[k], float(x.max()))
        return list(zip(lows, highs))

    def _forward(self, x: np.ndarray) -> np.ndarray:
        for layer, (low, high) in zip(self.layers, self.ranges):
            x = self._apply(layer, x)
            if type(layer).__name__ != "Flatten":  # a reshape keeps its input's quantization
                x = _fake_quant(x, low, high)
        return x


def int8_encoder(encoder: Any, calibration: np.ndarray,
                 standardize: tuple[np.ndarray, np.ndarray] | None = None) -> Int8Encoder | None:
    """An :class:`Int8Encoder`, or None when the encoder has layers this simulation does not cover."""
    kinds = {type(layer).__name__ for layer in encoder.layers}
    unknown = sorted(kinds - set(_SIMULATED))
    if unknown:
        log.warning("int8-aware training skipped: the encoder has %s layers", ", ".join(unknown))
        return None
    return Int8Encoder(encoder, calibration, standardize)


def _int8_kernel(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    """A Conv2D's kernel rounded to symmetric int8 per output channel (as the converter does), and its bias."""
    kernel, bias = (np.asarray(w) for w in layer.get_weights())
    scale = np.maximum(np.abs(kernel).max(axis=(0, 1, 2)), 1e-12) / 127.0
    return np.round(kernel / scale) * scale, bias


def _span(x: np.ndarray) -> tuple[float, float]:
    return float(x.min()), float(x.max())


def _pixels(faces: np.ndarray) -> np.ndarray:
    # uint8 / 255 is exact in the int8 input (scale 1/255, zero point -128): no rounding here.
    return (np.asarray(faces, np.float32) / 255.0)[..., None]


def _fake_quant(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Round to the int8 grid spanning [low, high] (widened to hold 0, as TFLite requires)."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255.0 or 1.0
    zero = np.round(-128 - low / scale)
    q = np.clip(np.round(x / scale) + zero, -128, 127)
    return ((q - zero) * scale).astype(np.float32)
