"""SSIM and the autoencoder's SSIM loss (paper eq. 3-5), in TensorFlow.

SSIM(x, y) = (2 mu_x mu_y + c1)(2 sigma_xy + c2) / ((mu_x^2 + mu_y^2 + c1)(sigma_x^2 + sigma_y^2 + c2)),
c1 = (0.01 L)^2, c2 = (0.03 L)^2, where L is the pixel range. The paper used
L = 255 on 8-bit pixels; the models here see pixels scaled to [0, 1], so L = 1
gives the same constants relative to the signal.

Two ways to take the statistics:
- ``"gaussian"`` (default): Wang et al.'s local SSIM, statistics under an 11x11
  Gaussian window (sigma 1.5), averaged over the valid map. It is the
  reference the paper cites [33] and rewards local structure (edges of eyes,
  mouth), which is what the classifier needs.
- ``"global"``: eq. (3) taken literally, once over the whole image.

Loss = 1 - mean SSIM (0 for a perfect reconstruction; the paper's best 0.037).
TensorFlow is imported inside the functions (this module is imported by CLIs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

K1 = 0.01
K2 = 0.03
GAUSS_SIZE = 11
GAUSS_SIGMA = 1.5


def ssim(y_true: Any, y_pred: Any, *, window: str = "gaussian", max_val: float = 1.0) -> Any:
    """SSIM per image of two batches shaped (batch, H, W, 1), float in [0, max_val].

    Returns:
        A (batch,) float32 tensor; 1.0 for identical images.
    """
    import tensorflow as tf

    x = tf.cast(y_true, tf.float32)
    y = tf.cast(y_pred, tf.float32)
    c1 = (K1 * max_val) ** 2
    c2 = (K2 * max_val) ** 2
    if window == "global":
        axes = [1, 2, 3]
        mu_x = tf.reduce_mean(x, axes, keepdims=True)
        mu_y = tf.reduce_mean(y, axes, keepdims=True)
        var_x = tf.reduce_mean(tf.square(x - mu_x), axes)
        var_y = tf.reduce_mean(tf.square(y - mu_y), axes)
        cov = tf.reduce_mean((x - mu_x) * (y - mu_y), axes)
        mu_x, mu_y = tf.reshape(mu_x, [-1]), tf.reshape(mu_y, [-1])
        return _ssim_formula(mu_x, mu_y, var_x, var_y, cov, c1, c2)
    if window != "gaussian":
        raise ValueError(f"unknown SSIM window {window!r}")
    # The five maps go through the separable Gaussian as two matrix products, G @ map @ G^T,
    # with G the (H-10, H) band matrix of the 1-D window ("valid" placement). Same sums as an
    # 11x1 and a 1x11 convolution; CPU matrix kernels run them about ten times faster than
    # depthwise convolutions, which had made the loss half the autoencoder's training time.
    band_rows = _gaussian_band(tf, int(x.shape[1]))
    band_cols = _gaussian_band(tf, int(x.shape[2]))
    stacked = tf.stack([x, y, x * x, y * y, x * y], axis=1)[..., 0]  # (batch, 5, H, W)
    blurred = tf.einsum("ij,bcjk,lk->bcil", band_rows, stacked, band_cols)
    mu_x, mu_y, e_xx, e_yy, e_xy = tf.unstack(blurred, axis=1)
    # E[x^2] - E[x]^2 under the window (biased, as in Wang et al.).
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    ssim_map = _ssim_formula(mu_x, mu_y, var_x, var_y, cov, c1, c2)
    return tf.reduce_mean(ssim_map, axis=[1, 2])


def ssim_loss(window: str = "gaussian") -> Callable[[Any, Any], Any]:
    """A Keras loss ``1 - SSIM`` per image, for pixels in [0, 1]."""

    def loss(y_true: Any, y_pred: Any) -> Any:
        return 1.0 - ssim(y_true, y_pred, window=window, max_val=1.0)

    loss.__name__ = f"ssim_loss_{window}"
    return loss


def _ssim_formula(mu_x: Any, mu_y: Any, var_x: Any, var_y: Any, cov: Any, c1: float, c2: float) -> Any:
    numerator = (2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return numerator / denominator


def _gaussian_band(tf: Any, size: int) -> Any:
    """(size - 10, size) matrix whose row i holds the normalised 11-tap Gaussian at columns i..i+10."""
    if size < GAUSS_SIZE:
        raise ValueError(f"images must be at least {GAUSS_SIZE} pixels a side for the Gaussian SSIM, got {size}")
    coords = tf.range(GAUSS_SIZE, dtype=tf.float32) - (GAUSS_SIZE - 1) / 2.0
    g = tf.exp(-(coords**2) / (2.0 * GAUSS_SIGMA**2))
    g = g / tf.reduce_sum(g)
    rows = size - GAUSS_SIZE + 1
    # Row i is g padded with i zeros before and rows - 1 - i after: gather from [g, 0].
    index = tf.range(size)[None, :] - tf.range(rows)[:, None]  # column j of row i holds g[j - i]
    padded = tf.concat([g, tf.zeros([1], tf.float32)], axis=0)
    inside = (index >= 0) & (index < GAUSS_SIZE)
    return tf.gather(padded, tf.where(inside, index, GAUSS_SIZE))
