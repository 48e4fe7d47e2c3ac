"""How far a face is turned from the camera (yaw), from the mesh, and when it is too far to classify.

The nose tip's offset from the midpoint of the outer eye corners, along the eye line, in units of the
eye-corner distance: about 0 for a frontal face, growing with the turn (a 3/4 view is about 0.5). The
classifier is trained on frontal faces; a face in profile shows one eye and half a mouth, so the device
says ``profile`` and does not classify it (labels ``unknown``) rather than guess.

Measured here: 48 photos of 24 frontal adults (the London set in tests/data): |yaw| median 0.019,
max 0.093; Lookit webcam clips of toddlers and parents (3/4 views and profiles): median 0.37.
"""

from __future__ import annotations

import numpy as np

import cribside.edge.face.mesh as mesh

NOSE_TIP = 1
TURNED = 0.2  # |yaw| from here: "turned" (still classified)
PROFILE = 0.45  # |yaw| from here: "profile" (not classified)
POSES = ("frontal", "turned", "profile")


def yaw_ratio(landmarks: np.ndarray) -> float:
    """Signed nose offset along the eye line, in eye-corner distances (positive: towards the subject's left eye)."""
    a = landmarks[mesh.SUBJECT_RIGHT_EYE_OUTER].astype(np.float64)
    b = landmarks[mesh.SUBJECT_LEFT_EYE_OUTER].astype(np.float64)
    eye_line = b - a
    distance = float(np.linalg.norm(eye_line))
    if distance < 1e-6:
        return 0.0
    offset = landmarks[NOSE_TIP].astype(np.float64) - (a + b) / 2
    return float(np.dot(offset, eye_line) / distance**2)


def pose_of(yaw: float) -> str:
    """``frontal``, ``turned`` or ``profile`` for a yaw ratio."""
    turn = abs(yaw)
    return "profile" if turn >= PROFILE else ("turned" if turn >= TURNED else "frontal")
