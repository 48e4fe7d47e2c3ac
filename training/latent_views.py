"""Other views of the training latents, and batches that mix them (``cribside train``).

- mirrored faces (``TrainConfig.mirror``): each crop flipped left-right, encoded like the originals;
- the int8 encoder's latents (``TrainConfig.int8_aware``), simulated by :mod:`cribside.training.int8_view`.

:class:`ViewedWindows` feeds the classifier one pass over its training windows per epoch, each
window's latents drawn at random from the original and the views, so the views cost no epoch time.
Keras is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cribside.training.config import TrainConfig
from cribside.training.int8_view import int8_encoder
from cribside.training.latents import encode_faces, latents_for_table
from cribside.training.windows import FrameTable

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
    at random, drawn again every epoch (a Keras ``PyDataset`` per head set, built by :meth:`for_heads`).
    An epoch stays one pass over the windows, so it costs what an epoch without views costs."""

    def __init__(self, train_set: tuple, views: list[np.ndarray], batch_size: int, seed: int) -> None:
        self.x, self.y, self.w = train_set
        self.views = [self.x, *views]
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def for_heads(self, heads: tuple[str, ...]) -> Any:
        import keras

        outer = self

        class Batches(keras.utils.PyDataset):
            def __init__(self) -> None:
                super().__init__()
                self.on_epoch_end()

            def __len__(self) -> int:
                return -(-len(outer.x) // outer.batch_size)

            def __getitem__(self, i: int) -> tuple:
                idx = self.order[i * outer.batch_size : (i + 1) * outer.batch_size]
                x = np.empty_like(outer.x[idx])
                for v, view in enumerate(outer.views):
                    take = self.view[idx] == v
                    x[take] = view[idx[take]]
                return x, {h: outer.y[h][idx] for h in heads}, {h: outer.w[h][idx] for h in heads}

            def on_epoch_end(self) -> None:
                self.order = outer.rng.permutation(len(outer.x))
                self.view = outer.rng.integers(len(outer.views), size=len(outer.x))

        return Batches()
