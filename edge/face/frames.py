"""Reading the frames of an image or a video file, sampled at a frame rate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from cribside.edge.errors import CribsideError

_FALLBACK_FPS = 30.0  # when a container does not say its frame rate


def sampled_indices(source_fps: float, fps: float) -> Iterator[int]:
    """Yield frame indices to keep: one per 1/fps seconds; every frame when fps <= 0."""
    index = 0
    next_t = 0.0
    while True:
        t = index / source_fps
        if fps <= 0 or t + 1e-9 >= next_t:
            yield index
            if fps > 0:
                next_t += 1.0 / fps
        index += 1


def read_frames(path: Path, fps: float) -> tuple[bool, Iterator[tuple[int, np.ndarray]]]:
    """Open an image or a video.

    Args:
        path: the file.
        fps: sampling rate for videos (frames per second of video time); <= 0 keeps
            every frame. Images give one frame, index 0.

    Returns:
        (is_video, iterator of (frame index, BGR uint8 frame)).

    Raises:
        CribsideError: missing, empty, or neither a readable image nor a video.
    """
    if not path.exists():
        raise CribsideError(f"{path}: no such file")
    if path.is_dir():
        raise CribsideError(f"{path}: is a folder, not an image or video")
    if path.stat().st_size == 0:
        raise CribsideError(f"{path}: empty file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is not None:
        return False, iter([(0, image)])
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok or first is None:
        capture.release()
        raise CribsideError(f"{path}: not a readable image or video")
    source_fps = capture.get(cv2.CAP_PROP_FPS) or _FALLBACK_FPS
    return True, _video_frames(capture, first, source_fps, fps)


def _video_frames(capture: cv2.VideoCapture, first: np.ndarray, source_fps: float, fps: float) -> Iterator[tuple[int, np.ndarray]]:
    try:
        wanted = sampled_indices(source_fps, fps)
        target = next(wanted)
        if target == 0:
            yield 0, first
            target = next(wanted)
        index = 0
        while capture.grab():  # grab without decoding colour for frames we skip
            index += 1
            if index == target:
                ok, frame = capture.retrieve()
                if ok:
                    yield index, frame
                target = next(wanted)
    finally:
        capture.release()
