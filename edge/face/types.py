"""The aligner's output record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AlignedFace:
    """One aligned face.

    Attributes:
        crop: (crop_size, crop_size) uint8 grayscale, eyes level, brows to chin.
        box: (x, y, w, h) of the face mesh's bounding box in input pixels.
        left_eye: (x, y) input pixels of the eye with the smaller x in the upright
            face (the subject's right eye).
        right_eye: (x, y) of the other eye.
        eye_angle_deg: atan2(right.y - left.y, right.x - left.x) in degrees, y down
            (positive = the face is turned clockwise on screen).
        landmarks: (468, 2) float32 mesh points in input pixels.
        score: face-presence probability from the landmark model.
    """

    crop: np.ndarray
    box: tuple[float, float, float, float]
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    eye_angle_deg: float
    landmarks: np.ndarray
    score: float

    def to_json(self) -> dict[str, Any]:
        """The JSON fields of ``cribside align`` for this face (pixels to 0.1 px)."""
        return {
            "face": True,
            "box": [round(float(v), 1) for v in self.box],
            "left_eye": [round(float(v), 1) for v in self.left_eye],
            "right_eye": [round(float(v), 1) for v in self.right_eye],
            "eye_angle_deg": round(float(self.eye_angle_deg), 2),
            "score": round(float(self.score), 3),
        }
