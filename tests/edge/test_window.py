"""The ring of latents that feeds the classifier."""

import numpy as np
import pytest

from cribside.edge.temporal.window import LatentWindow

L, D = 4, 640
PERIOD = 1 / 3


def latent(i: int) -> np.ndarray:
    return np.full(D, float(i), dtype=np.float32)


def test_window_after_l_latents_in_order() -> None:
    ring = LatentWindow(L, D)
    outs = [ring.push(latent(i), i * PERIOD, i * 10) for i in range(L + 2)]
    assert outs[: L - 1] == [None] * (L - 1)
    full = [w for w in outs if w is not None]
    assert len(full) == 3  # one window per latent once full (sliding by one)
    last = full[-1]
    assert last.latents.shape == (L, D) and last.latents.dtype == np.float32
    assert last.latents[:, 0].tolist() == [2.0, 3.0, 4.0, 5.0]  # oldest first
    assert last.frame_indices == (20, 30, 40, 50)
    assert last.span_s == pytest.approx(3 * PERIOD)


def test_windows_are_copies() -> None:
    ring = LatentWindow(L, D)
    for i in range(L):
        first = ring.push(latent(i), i * PERIOD, i)
    ring.push(latent(99), L * PERIOD, L)
    assert first is not None and first.latents[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_clear_restarts_filling() -> None:
    ring = LatentWindow(L, D)
    for i in range(L):
        ring.push(latent(i), i * PERIOD, i)
    ring.clear()  # no face
    assert len(ring) == 0
    assert [ring.push(latent(i), i * PERIOD, i) is None for i in range(L - 1)] == [True] * (L - 1)
    assert ring.push(latent(9), 9 * PERIOD, 9) is not None


def test_gap_clears_window() -> None:
    ring = LatentWindow(L, D, max_gap_s=1.5 * PERIOD)
    for i in range(L - 1):
        ring.push(latent(i), i * PERIOD, i)
    # frames lost: the next latent is 2 s later, the window must not bridge the gap
    assert ring.push(latent(9), 2.0 + 2 * PERIOD, 9) is None
    assert len(ring) == 1


def test_wrong_latent_size_is_an_error() -> None:
    ring = LatentWindow(L, D)
    with pytest.raises(ValueError):
        ring.push(np.zeros(D + 1, np.float32), 0.0, 0)
