"""The paper's two networks, built from a :class:`TrainConfig` and returned compiled.

- :func:`build_autoencoder`: ``conv_layers`` Conv2D (3x3, ``filters``, stride 2,
  same padding, LeakyReLU 0.2, no pooling) to an 8x8x10 latent, mirrored by as
  many Conv2DTranspose layers; the last one has one filter and a sigmoid so the
  reconstruction lives in [0, 1] like the input. Loss: 1 - SSIM.
- :func:`build_classifier`: windows of ``seq_len`` latents -> LSTM(``units``,
  L2 ``l2``) -> dropout -> two softmax heads named ``cry`` (no, yes) and
  ``pain`` (none, moderate, severe). ``heads="separate"`` gives each head its
  own LSTM (the paper's best dropout differs per task: 0.5 cry, 0.25 pain).
- :func:`predict_windows`: the classifier's cry and pain probabilities for windows, as arrays.

The LSTM is built with ``unroll=True``: with Keras 3 the looped LSTM fails TFLite
conversion ("tf.TensorListReserve requires element_shape to be static"), and
with 4 time steps unrolling costs nothing.

Keras is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cribside.training.config import TrainConfig
from cribside.training.nets.ssim import ssim_loss

IMAGE_SHAPE = (64, 64, 1)
CRY_CLASSES = 2
PAIN_CLASSES = 3


@dataclass(frozen=True)
class Classifier:
    """The classifier as trained: one combined model, plus the per-head models when separate.

    ``combined`` maps ``(batch, seq_len, latent)`` to ``{"cry": (batch, 2), "pain": (batch, 3)}``.
    With ``heads="separate"``, ``cry_model`` and ``pain_model`` share their layers
    with ``combined`` and are trained one after the other; otherwise they are None.
    """

    combined: Any
    cry_model: Any = None
    pain_model: Any = None


def build_autoencoder(config: TrainConfig) -> tuple[Any, Any]:
    """Build the convolutional autoencoder.

    Returns:
        ``(autoencoder, encoder)``: the autoencoder (64,64,1) -> (64,64,1), compiled
        with the SSIM loss and Adam(``ae_learning_rate``); the encoder (64,64,1) ->
        (latent_size,) float32, sharing its layers (flattened 8x8x10 = 640 by default).
    """
    import keras
    from keras import layers

    from cribside.training.nets.fused_adam import FusedAdam

    image = keras.Input(shape=IMAGE_SHAPE, name="face")
    x = image
    for i in range(config.conv_layers):
        x = layers.Conv2D(config.filters, config.kernel_size, strides=2, padding="same", name=f"enc_conv{i + 1}")(x)
        x = _activation(config, f"enc_act{i + 1}")(x)
    latent_grid = x
    latent = layers.Flatten(name="latent")(latent_grid)
    encoder = keras.Model(image, latent, name="encoder")

    y = layers.Reshape(tuple(latent_grid.shape[1:]), name="latent_grid")(latent)
    for i in range(config.conv_layers):
        last = i == config.conv_layers - 1
        y = layers.Conv2DTranspose(
            1 if last else config.filters, config.kernel_size, strides=2, padding="same", name=f"dec_deconv{i + 1}"
        )(y)
        y = layers.Activation("sigmoid", name="reconstruction")(y) if last else _activation(config, f"dec_act{i + 1}")(y)
    autoencoder = keras.Model(image, y, name="autoencoder")
    autoencoder.compile(
        optimizer=FusedAdam(config.ae_learning_rate),
        loss=ssim_loss(config.ssim_window),
    )
    return autoencoder, encoder


def build_classifier(
    config: TrainConfig,
    latent_size: int,
    latent_mean: np.ndarray | None = None,
    latent_var: np.ndarray | None = None,
    raw_noise_std: float = 0.0,
) -> Classifier:
    """Build the sequence classifier, compiled (sparse categorical cross-entropy per head).

    Args:
        config: ``seq_len``, ``units``, ``dropout``, ``pain_dropout``, ``l2``, ``heads``, ``lstm_learning_rate``.
        latent_size: length of one frame's latent (640 for the paper's encoder).
        latent_mean, latent_var: per-feature statistics of the training latents; when
            given (and ``config.normalize_latents``), the model standardises its input
            itself, so the device feeds raw encoder output.
        raw_noise_std: std of training-time Gaussian noise on the raw latents, before the
            standardisation (absolute units; see ``TrainConfig.raw_latent_noise_steps``).
    """
    import keras
    from keras import layers

    window = keras.Input(shape=(config.seq_len, latent_size), name="latents")
    x = window
    if raw_noise_std > 0:
        # Before standardisation: features with tiny spread would otherwise turn int8 rounding of the
        # encoder output into large standardised jumps; inactive at inference.
        x = layers.GaussianNoise(float(raw_noise_std), name="raw_latent_noise")(x)
    if config.normalize_latents and latent_mean is not None and latent_var is not None:
        x = layers.Normalization(
            axis=-1, mean=np.asarray(latent_mean, "float32"), variance=np.asarray(latent_var, "float32"),
            name="standardize",
        )(x)
    if config.input_noise > 0:
        # Training-time jitter of the (standardised) latents: an identity-invariance aid; inactive at inference.
        x = layers.GaussianNoise(config.input_noise, name="latent_noise")(x)
    if config.heads == "shared":
        features = _lstm_branch(config, x, config.dropout, "shared")
        cry = layers.Dense(CRY_CLASSES, activation="softmax", name="cry")(features)
        pain = layers.Dense(PAIN_CLASSES, activation="softmax", name="pain")(features)
        combined = keras.Model(window, {"cry": cry, "pain": pain}, name="classifier")
        _compile(combined, config, ("cry", "pain"))
        return Classifier(combined)
    cry = layers.Dense(CRY_CLASSES, activation="softmax", name="cry")(_lstm_branch(config, x, config.dropout, "cry"))
    pain = layers.Dense(PAIN_CLASSES, activation="softmax", name="pain")(
        _lstm_branch(config, x, config.pain_dropout, "pain")
    )
    cry_model = keras.Model(window, {"cry": cry}, name="classifier_cry")
    pain_model = keras.Model(window, {"pain": pain}, name="classifier_pain")
    combined = keras.Model(window, {"cry": cry, "pain": pain}, name="classifier")
    _compile(cry_model, config, ("cry",))
    _compile(pain_model, config, ("pain",))
    _compile(combined, config, ("cry", "pain"))
    return Classifier(combined, cry_model, pain_model)


def predict_windows(model: Any, latents: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Cry (n, 2) and pain (n, 3) probabilities of the classifier for windows (n, L, 640)."""
    if len(latents) == 0:
        return np.zeros((0, CRY_CLASSES), np.float32), np.zeros((0, PAIN_CLASSES), np.float32)
    out = model.predict(latents, batch_size=batch_size, verbose=0)
    return np.asarray(out["cry"]), np.asarray(out["pain"])


def _lstm_branch(config: TrainConfig, x: Any, dropout: float, name: str) -> Any:
    from keras import layers, regularizers

    x = layers.LSTM(
        config.units,
        unroll=True,  # converts to TFLite in every quantization mode (see module docstring)
        kernel_regularizer=regularizers.l2(config.l2),
        recurrent_regularizer=regularizers.l2(config.l2),
        name=f"lstm_{name}",
    )(x)
    return layers.Dropout(dropout, name=f"dropout_{name}")(x)


def _compile(model: Any, config: TrainConfig, heads: tuple[str, ...]) -> None:
    from cribside.training.nets.fused_adam import FusedAdam

    model.compile(
        optimizer=FusedAdam(config.lstm_learning_rate),
        loss={head: "sparse_categorical_crossentropy" for head in heads},
        metrics={head: ["accuracy"] for head in heads},
    )


def _activation(config: TrainConfig, name: str) -> Any:
    from keras import layers

    if config.activation == "leaky_relu":
        return layers.LeakyReLU(negative_slope=config.leaky_alpha, name=name)
    return layers.ReLU(name=name)
