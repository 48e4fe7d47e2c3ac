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

from typing import Any, Callable

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
    column, row = _gaussian_kernels(tf)
    # One depthwise pass over the five maps stacked as channels, and the 2-D Gaussian split
    # into an 11x1 and a 1x11 pass (22 multiplies per pixel instead of 121): the loss was
    # three quarters of the autoencoder's training time before.
    stacked = tf.concat([x, y, x * x, y * y, x * y], axis=-1)
    blurred = tf.nn.depthwise_conv2d(stacked, tf.tile(column, [1, 1, 5, 1]), [1, 1, 1, 1], "VALID")
    blurred = tf.nn.depthwise_conv2d(blurred, tf.tile(row, [1, 1, 5, 1]), [1, 1, 1, 1], "VALID")
    mu_x, mu_y, e_xx, e_yy, e_xy = tf.split(blurred, 5, axis=-1)
    # E[x^2] - E[x]^2 under the window (biased, as in Wang et al.).
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    ssim_map = _ssim_formula(mu_x, mu_y, var_x, var_y, cov, c1, c2)
    return tf.reduce_mean(ssim_map, axis=[1, 2, 3])


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


def _gaussian_kernels(tf: Any) -> tuple[Any, Any]:
    """The normalised 1-D Gaussian as a column (11x1) and a row (1x11) conv kernel."""
    coords = tf.range(GAUSS_SIZE, dtype=tf.float32) - (GAUSS_SIZE - 1) / 2.0
    g = tf.exp(-(coords**2) / (2.0 * GAUSS_SIGMA**2))
    g = g / tf.reduce_sum(g)
    return tf.reshape(g, [GAUSS_SIZE, 1, 1, 1]), tf.reshape(g, [1, GAUSS_SIZE, 1, 1])
