"""A SYNTHETIC face video (a drawn cartoon face), for benchmarks only.

No real child's video ships with cribside; ``cribside bench align`` uses this when no
``--source`` is given. The drawing is detected by MediaPipe's models, which is all a
timing needs; it says nothing about accuracy on real infants.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

_BACKGROUND = (200, 215, 225)  # BGR, a pale cot sheet


def render_synthetic_face(width: int, height: int, t: float) -> np.ndarray:
    """One BGR frame of a drawn face that drifts and tilts slowly with time ``t`` (s)."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = _BACKGROUND
    scale = height / 480.0
    cx = width / 2 + 40 * scale * math.sin(t)
    cy = height / 2 + 20 * scale * math.cos(0.7 * t)
    tilt = 10.0 * math.sin(0.5 * t)
    c, s = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))

    def blob(dx: float, dy: float, ax: float, ay: float, colour: tuple[int, int, int]) -> None:
        # Face-frame offsets turned with the head so the whole face tilts together.
        x = cx + (dx * c - dy * s) * scale
        y = cy + (dx * s + dy * c) * scale
        cv2.ellipse(img, (int(x), int(y)), (max(1, int(ax * scale)), max(1, int(ay * scale))), tilt, 0, 360,
                    colour, -1, cv2.LINE_AA)

    blob(0, -30, 95, 100, (40, 50, 70))  # hair
    blob(0, 0, 80, 100, (150, 175, 215))  # skin
    for side in (-1, 1):
        blob(side * 80, 5, 12, 22, (140, 165, 205))  # ear
        blob(side * 32, -15, 18, 9, (245, 245, 245))  # eye white
        blob(side * 32, -15, 8, 8, (60, 40, 30))  # iris
        blob(side * 32, -15, 4, 4, (10, 10, 10))  # pupil
        blob(side * 32, -38, 22, 5, (50, 60, 80))  # eyebrow
    blob(0, 15, 9, 20, (130, 155, 200))  # nose
    blob(0, 30, 12, 6, (110, 135, 185))
    blob(0, 58, 28, 9, (90, 90, 170))  # mouth
    blob(0, 54, 26, 3, (60, 60, 120))
    return cv2.GaussianBlur(img, (5, 5), 1.5)


def synthetic_face_frames(width: int, height: int, count: int, fps: float = 30.0) -> Iterator[np.ndarray]:
    """``count`` frames of the SYNTHETIC face video."""
    for index in range(count):
        yield render_synthetic_face(width, height, index / fps)
