"""Sampling at the model's frame rate, whatever the camera's rate."""

import numpy as np
import pytest

from cribside.edge.temporal.sampling import Sampler

MODEL_FPS = 3.0


def kept_times(source_fps: float, seconds: float, model_fps: float | None = MODEL_FPS) -> list[float]:
    sampler = Sampler(model_fps)
    times = [i / source_fps for i in range(int(round(seconds * source_fps)))]
    return [t for t in times if sampler.keep(t)]


@pytest.mark.parametrize("source_fps", [3.0, 10.0, 25.0, 29.97, 30.0, 60.0])
def test_kept_rate_equals_model_fps(source_fps: float) -> None:
    seconds = 60.0
    kept = kept_times(source_fps, seconds)
    # Over a minute the kept rate is the model's, to within one frame.
    assert abs(len(kept) - seconds * MODEL_FPS) <= 1
    # Consecutive kept frames are one period apart, give or take one source frame.
    gaps = np.diff(kept)
    period = 1 / MODEL_FPS
    assert gaps.min() >= period - 1 / source_fps - 1e-9
    assert gaps.max() <= period + 1 / source_fps + 1e-9


def test_30fps_keeps_every_tenth_frame() -> None:
    sampler = Sampler(MODEL_FPS)
    kept = [i for i in range(90) if sampler.keep(i / 30.0)]
    assert kept == list(range(0, 90, 10))
    assert sampler.seen == 90 and sampler.kept == 9


def test_window_of_four_spans_one_second_like_training() -> None:
    kept = kept_times(30.0, 5.0)
    assert kept[3] - kept[0] == pytest.approx(3 / MODEL_FPS, abs=1 / 30)


def test_gap_restarts_schedule_without_burst() -> None:
    sampler = Sampler(MODEL_FPS)
    assert sampler.keep(0.0)
    # The camera stalls for 5 s; the next frames arrive at 30 fps again.
    after = [5.0 + i / 30 for i in range(30)]
    kept = [t for t in after if sampler.keep(t)]
    assert kept[0] == 5.0
    assert len(kept) == 3  # one second of frames: 3 kept, no catch-up burst


def test_none_keeps_every_frame() -> None:
    assert len(kept_times(30.0, 2.0, model_fps=None)) == 60


def test_slow_camera_keeps_every_frame() -> None:
    # A 2 fps camera is slower than the model: every frame is used (windows then span more time).
    assert len(kept_times(2.0, 10.0)) == 20
