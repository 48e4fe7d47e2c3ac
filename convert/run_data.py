"""The data conversion needs from a training run: calibration samples and the held-out test set.

Calibration comes from the run's training split only (faces for the encoder,
windows of cached latents for the classifier), so the test windows used for the
parity report are never seen during conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError

TRAIN, TEST = 0, 2  # parts in Split.window_part


@dataclass(frozen=True)
class HeldOutWindows:
    """Held-out test windows as indices into their distinct face crops (each face encoded once)."""

    faces: np.ndarray  # (F, 64, 64) uint8
    windows: np.ndarray  # (n, L) int64 indices into faces
    cry: np.ndarray  # (n,) int64 truth
    pain: np.ndarray  # (n,) int64 truth


def calibration_faces(run: Any, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` training faces (n, 64, 64) uint8 for int8 calibration of the encoder."""
    faces = run.representative_faces(n, seed=seed)
    if len(faces) == 0:
        raise CribsideError(f"run {run.root} has no training faces to calibrate int8 with")
    return faces


def calibration_windows(run: Any, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` training windows of cached latents (n, L, latent) float32 for the classifier."""
    _, latents = run.frames()
    windows, part = run.windows()
    rows = windows.rows[part == TRAIN]
    if len(rows) == 0:
        raise CribsideError(f"run {run.root} has no training windows to calibrate int8 with")
    if len(rows) > n:
        rows = rows[np.sort(np.random.default_rng(seed).choice(len(rows), size=n, replace=False))]
    return latents[rows]


def held_out_windows(run: Any, max_windows: int | None = None) -> HeldOutWindows:
    """The run's held-out test windows with the face crops they are made of.

    Raises:
        CribsideError: the run has no test windows, or its dataset no longer holds a frame.
    """
    windows, part = run.windows()
    test = windows.select(part == TEST)
    if len(test) == 0:
        raise CribsideError(f"run {run.root} has no held-out test windows to check parity on")
    if max_windows is not None and len(test) > max_windows:
        # Evenly spaced, so every test video stays represented.
        test = test.select(np.linspace(0, len(test) - 1, max_windows).round().astype(np.int64))
    unique_rows, inverse = np.unique(test.rows, return_inverse=True)
    return HeldOutWindows(
        faces=run.faces_of(unique_rows),
        windows=inverse.reshape(test.rows.shape).astype(np.int64),
        cry=np.asarray(test.cry, dtype=np.int64),
        pain=np.asarray(test.pain, dtype=np.int64),
    )
