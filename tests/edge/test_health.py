"""Capture health: stalls, frozen frames, lost signal and no face (pure, time passed in)."""

import numpy as np
import pytest

from cribside.edge.sources.health import HealthMonitor, HealthSettings, frame_digest

WALL0 = 1_700_000_000.0
SETTINGS = HealthSettings(stall_after_s=5.0, no_signal_after_s=30.0, frozen_frames=30)


def noisy_frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def feed(monitor: HealthMonitor, frames: list[np.ndarray], t0: float, fps: float = 30.0) -> list[str]:
    changes = []
    for i, frame in enumerate(frames):
        t = t0 + i / fps
        status = monitor.on_frame(frame, t, WALL0 + t)
        if status:
            changes.append(status.capture)
    return changes


def test_fresh_frames_with_face_are_ok() -> None:
    monitor = HealthMonitor(SETTINGS, 0.0, WALL0)
    assert feed(monitor, [noisy_frame(i) for i in range(60)], 0.0) == ["ok"]
    assert monitor.status.capture == "ok"


def test_camera_without_a_frame_yet_is_starting_not_ok() -> None:
    monitor = HealthMonitor(SETTINGS, 0.0, WALL0)
    assert monitor.status.capture == "starting" and not monitor.status.live
    assert monitor.tick(4.9, WALL0 + 4.9) is None
    assert monitor.on_frame(noisy_frame(0), 4.95, WALL0 + 4.95).capture == "ok"


def test_no_face_then_face() -> None:
    monitor = HealthMonitor(SETTINGS, 0.0, WALL0)
    monitor.on_frame(noisy_frame(0), 0.05, WALL0)
    assert monitor.on_face(False, 0.1, WALL0).capture == "no_face"
    assert monitor.on_face(False, 0.2, WALL0) is None  # no repeated status messages
    assert monitor.on_face(True, 0.3, WALL0).capture == "ok"


def test_silence_stalls_then_loses_signal_then_recovers() -> None:
    monitor = HealthMonitor(SETTINGS, 0.0, WALL0)
    feed(monitor, [noisy_frame(1)], 0.0)
    assert monitor.tick(4.9, WALL0 + 4.9) is None
    stalled = monitor.tick(5.0, WALL0 + 5.0)
    assert stalled.capture == "stalled" and "no frame" in stalled.reason
    assert stalled.since_ts == pytest.approx(WALL0)
    lost = monitor.tick(30.0, WALL0 + 30.0)
    assert lost.capture == "no_signal"
    back = monitor.on_frame(noisy_frame(2), 31.0, WALL0 + 31.0)
    assert back.capture == "ok"


def test_camera_that_never_delivers_stalls_from_start() -> None:
    monitor = HealthMonitor(SETTINGS, 100.0, WALL0)
    assert monitor.tick(105.0, WALL0 + 5).capture == "stalled"


def test_frozen_frames_stall_then_lose_signal() -> None:
    monitor = HealthMonitor(SETTINGS, 0.0, WALL0)
    frozen = noisy_frame(3)
    changes = feed(monitor, [frozen] * 29, 0.0)
    assert changes == ["ok"] and not monitor.frozen
    changes = feed(monitor, [frozen], 29 / 30)
    assert changes == ["stalled"] and monitor.frozen
    assert "frozen" in monitor.status.reason
    # Still the same image 30 s after it froze: as good as no camera.
    status = monitor.on_frame(frozen, 30.5, WALL0 + 30.5)
    assert status.capture == "no_signal" and "frozen" in status.reason
    assert monitor.on_frame(noisy_frame(4), 31.0, WALL0 + 31.0).capture == "ok"
    assert not monitor.frozen


def test_frozen_detection_off_for_files() -> None:
    monitor = HealthMonitor(HealthSettings(frozen_frames=0), 0.0, WALL0)
    still = noisy_frame(5)
    assert feed(monitor, [still] * 100, 0.0) == ["ok"]
    assert not monitor.frozen


def test_digest_sees_small_changes() -> None:
    frame = noisy_frame(6)
    changed = frame.copy()
    changed[0, 0, 0] ^= 1  # one sampled pixel, one bit
    assert frame_digest(frame) == frame_digest(frame.copy())
    assert frame_digest(frame) != frame_digest(changed)
