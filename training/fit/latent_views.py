"""Other views of the training latents, and batches that mix them (``cribside train``).

- mirrored faces (``TrainConfig.mirror``): each crop flipped left-right, encoded like the originals;
- the int8 encoder's latents (``TrainConfig.int8_aware``), simulated by :mod:`cribside.training.nets.int8_view`.

:class:`ViewedWindows` feeds the classifier one pass over its training windows per epoch, each
window's latents drawn at random from the original and the views, so the views cost no epoch time.
TensorFlow is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cribside.training.config import TrainConfig
from cribside.training.data.windows import FrameTable
from cribside.training.fit.latents import encode_faces, latents_for_table
from cribside.training.nets.int8_view import int8_encoder

INT8_CALIBRATION = 500  # training faces that set the simulated int8 ranges (convert's default too)


def latent_views(config: TrainConfig, encoder: Any, faces: np.ndarray, face_part: np.ndarray, table: FrameTable,
                 standardization: tuple[np.ndarray, np.ndarray], *, progress: bool = True) -> tuple[np.ndarray, ...]:
    """The other latents of every frame the classifier trains on, per table frame like the cache:
    mirrored faces (``config.mirror``), the simulated int8 encoder's (``config.int8_aware``), both.

    Args:
        faces: uint8 face crops (in table order of the face frames); face_part: their split part.
        standardization: the classifier's input (mean, std), which the int8 encoder ends with.
    """
    sources = [faces[:, :, ::-1]] if config.mirror else []
    views = [latents_for_table(table, encode_faces(encoder, f, progress=progress)) for f in sources]
    if config.int8_aware:
        calibration = faces[face_part == 0]
        calibration = calibration[np.random.default_rng(config.seed).permutation(len(calibration))[:INT8_CALIBRATION]]
        simulated = int8_encoder(encoder, calibration, standardize=standardization)
        if simulated is not None:
            views += [latents_for_table(table, simulated.latents(f)) for f in [faces, *sources]]
    return tuple(views)


class ViewedWindows:
    """Training batches that take each window's latents from the original or one of the other views
    at random, drawn again every epoch (a ``tf.data`` pipeline per head set, built by :meth:`for_heads`).
    An epoch stays one pass over the windows, so it costs what an epoch without views costs.

    The batches are gathered inside TensorFlow: a Python ``keras.utils.PyDataset`` here cost more
    than the LSTM's own step on a 2-core machine. Deterministic for a seed: the order and the view
    picks come from seeded ``tf.data`` streams. The views are stacked into one TensorFlow constant,
    once, however many head sets (``heads="separate"``) train from them.
    """

    def __init__(self, train_set: tuple, views: list[np.ndarray], batch_size: int, seed: int) -> None:
        import tensorflow as tf

        x, self.y, self.w = train_set
        self.stacked = tf.constant(np.stack([x, *views]))  # (views, windows, L, latent)
        self.batch_size = batch_size
        self.seed = seed

    def for_heads(self, heads: tuple[str, ...]) -> Any:
        """A ``tf.data.Dataset`` of ``(latents, {head: labels}, {head: weights})`` batches for these heads."""
        import tensorflow as tf

        stacked = self.stacked
        labels = {h: tf.constant(self.y[h]) for h in heads}
        weights = {h: tf.constant(self.w[h]) for h in heads}
        n_views, n_windows = int(stacked.shape[0]), int(stacked.shape[1])
        order = tf.data.Dataset.range(n_windows).shuffle(n_windows, seed=self.seed, reshuffle_each_iteration=True)
        picks = tf.data.Dataset.random(seed=self.seed + 1, rerandomize_each_iteration=True)

        @tf.autograph.experimental.do_not_convert  # plain tensor code: nothing for AutoGraph to rewrite
        def gather(index: Any, pick: Any) -> tuple:
            view = pick % n_views
            x = tf.gather_nd(stacked, tf.stack([view, index], axis=1))
            return x, {h: tf.gather(labels[h], index) for h in heads}, {h: tf.gather(weights[h], index) for h in heads}

        batches = tf.data.Dataset.zip(order, picks).batch(self.batch_size).map(gather)
        return batches.prefetch(1)
