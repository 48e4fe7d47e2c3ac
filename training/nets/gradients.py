"""The ``hog`` per-frame features: gradient-orientation histograms and a coarse image, as a Keras encoder.

A fixed (untrained) encoder in the same slot as the paper's autoencoder: (64, 64, 1) float32 in
[0, 1] -> one feature vector per face, converted to TFLite and run on the device like any encoder,
so training and the device compute the features with the same graph.

- Gradients: central differences ``[-1, 0, 1]`` along x and y (a fixed 3x3 convolution), zero on
  the crop's border pixels.
- Orientation histograms: every pixel votes its gradient magnitude into ``BINS`` unsigned
  orientation bins (0-180 degrees) with a cosine-shaped kernel of half-width one bin, the
  smooth form of HOG's linear vote (Dalal and Triggs, 2005), computed without an angle:
  ``cos 2(theta - theta_k)`` is a linear function of ``(gx^2 - gy^2) / |g|`` and ``2 gx gy / |g|``.
- ``CELL`` x ``CELL``-pixel cells, 2x2-cell blocks at a one-cell stride, each block L2-Hys normalised
  (L2, clipped at 0.2, L2 again):
  7 x 7 blocks x 36 = 1,764 values, the layout of the HOG baseline in training/evaluate/baseline.py.
- A 32x32 thumbnail of the face (2x2 mean), 1,024 values: the coarse shading that a smile or a cry
  changes (cheeks, open mouth) and that normalised gradients discard.

Measured on real faces of people never seen in training (``cribside bench real-faces``; README):
these features with mirrored training faces carry an expression across people better than the
paper's 640-value latent, which spends itself on identity and lighting.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CELL = 8
BINS = 9
BLOCK = 2
THUMB_POOL = 2
EPS = 1e-6
HYS_CLIP = 0.2


def feature_size(image_side: int = 64) -> int:
    """Length of the feature vector for a square crop."""
    cells = image_side // CELL
    blocks = (cells - BLOCK + 1) ** 2 * BLOCK * BLOCK * BINS
    return blocks + (image_side // THUMB_POOL) ** 2


def _register() -> Any:
    import keras

    @keras.saving.register_keras_serializable(package="cribside")
    class OrientationHistograms(keras.layers.Layer):
        """(batch, H, W, 1) image -> (batch, H/CELL-1, W/CELL-1, 4*BINS) L2-normalised HOG blocks."""

        def call(self, image: Any) -> Any:
            from keras import ops

            kx = np.zeros((3, 3, 1, 2), np.float32)
            kx[1, 0, 0, 0], kx[1, 2, 0, 0] = -1.0, 1.0  # gx
            kx[0, 1, 0, 1], kx[2, 1, 0, 1] = -1.0, 1.0  # gy
            # Inside the crop only: the border pixels get no gradient (zero padding would invent edges there).
            g = ops.pad(ops.conv(image, ops.convert_to_tensor(kx), strides=1, padding="valid"),
                        [[0, 0], [1, 1], [1, 1], [0, 0]])
            gx, gy = g[..., 0:1], g[..., 1:2]
            energy = gx * gx + gy * gy + EPS
            inv = ops.rsqrt(energy)
            magnitude = energy * inv
            basis = ops.concatenate([(gx * gx - gy * gy) * inv, 2.0 * gx * gy * inv, magnitude], axis=-1)
            # Bin k's centre is (k + 0.5) * 180 / BINS degrees; its vote is
            # |g| * max(0, cos 2(theta - theta_k) - cos(2 * half-width)) / (1 - cos(2 * half-width)).
            centres = (np.arange(BINS) + 0.5) * math.pi / BINS
            floor = math.cos(2.0 * math.pi / BINS)
            w = np.stack([np.cos(2 * centres), np.sin(2 * centres), np.full(BINS, -floor)]) / (1.0 - floor)
            votes = ops.relu(ops.matmul(basis, ops.convert_to_tensor(w.astype(np.float32))))
            cells = ops.average_pool(votes, pool_size=CELL, strides=CELL, padding="valid")
            n = cells.shape[1] - BLOCK + 1
            m = cells.shape[2] - BLOCK + 1
            blocks = ops.concatenate(
                [cells[:, i:i + n, j:j + m, :] for i in range(BLOCK) for j in range(BLOCK)], axis=-1
            )
            # L2-Hys, as Dalal and Triggs: normalise, clip at HYS_CLIP (no single edge dominates a block), again.
            blocks = blocks * ops.rsqrt(ops.sum(blocks * blocks, axis=-1, keepdims=True) + EPS)
            blocks = ops.minimum(blocks, HYS_CLIP)
            return blocks * ops.rsqrt(ops.sum(blocks * blocks, axis=-1, keepdims=True) + EPS)

        def compute_output_shape(self, input_shape: tuple) -> tuple:
            cells_h, cells_w = input_shape[1] // CELL, input_shape[2] // CELL
            return (input_shape[0], cells_h - BLOCK + 1, cells_w - BLOCK + 1, BLOCK * BLOCK * BINS)

    return OrientationHistograms


_LAYER: Any = None


def orientation_histograms() -> Any:
    """The registered Keras layer class (registering it once, so saved encoders load)."""
    global _LAYER
    if _LAYER is None:
        _LAYER = _register()
    return _LAYER


def build_hog_encoder(image_shape: tuple[int, int, int] = (64, 64, 1)) -> Any:
    """The fixed ``hog`` encoder: (64, 64, 1) float32 in [0, 1] -> (feature_size,) float32."""
    import keras
    from keras import layers

    image = keras.Input(shape=image_shape, name="face")
    blocks = orientation_histograms()(name="hog_blocks")(image)
    hog = layers.Flatten(name="hog")(blocks)
    thumb = layers.Flatten(name="thumbnail")(layers.AveragePooling2D(THUMB_POOL, name="thumbnail_pool")(image))
    features = layers.Concatenate(name="latent")([hog, thumb])
    return keras.Model(image, features, name="encoder")
