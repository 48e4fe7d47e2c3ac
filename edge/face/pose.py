"""How a face is seen: how far it is turned from the camera (yaw, from the mesh), how clearly the landmark
model sees it (its presence score), and when either is too poor to classify.

The nose tip's offset from the midpoint of the outer eye corners, along the eye line, in units of the
eye-corner distance: about 0 for a frontal face, growing with the turn (a 3/4 view is about 0.5). The
classifier is trained on frontal faces; a face in profile shows one eye and half a mouth, so the device
says ``profile`` and does not classify it (labels ``unknown``) rather than guess.

Measured here: 48 photos of 24 frontal adults (the London set in tests/data): |yaw| median 0.019,
max 0.093; Lookit webcam clips of toddlers and parents (3/4 views and profiles): median 0.37.

A face is found (and followed) from a presence of 0.5, but classified only from ``CLEAR`` (0.9): below it
the landmark model has fitted a face to something it is unsure of, most often a head bent down with the
face hidden, the top or back of a head, a blurred or half-covered face. Such a face is ``unclear`` and,
like a profile, not classified: an infant face-down must not read as a calm one. Measured on the Lookit
clips with a crib zone (benchmarks/RESULTS.md): of the faces taken on frames where a person sees no
child's face, 29 of 42 score below 0.9 (the median is about 0.8); of those on frames with the child's
face visible, 41 of 205 (the median is 1.0). London's frontal photos and the synthetic faces score 1.0.
"""

from __future__ import annotations

import numpy as np

import cribside.edge.face.mesh as mesh

NOSE_TIP = 1
TURNED = 0.2  # |yaw| from here: "turned" (still classified)
PROFILE = 0.45  # |yaw| from here: "profile" (not classified)
CLEAR = 0.9  # presence below this: "unclear" (not classified)
POSES = ("frontal", "turned", "profile", "unclear")
NOT_CLASSIFIED = ("profile", "unclear")


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


def pose_of(yaw: float, presence: float = 1.0) -> str:
    """``frontal``, ``turned`` or ``profile`` for a yaw ratio; ``unclear`` for a face that is not in
    profile but that the landmark model sees with a presence below ``CLEAR``."""
    turn = abs(yaw)
    if turn >= PROFILE:
        return "profile"
    if presence < CLEAR:
        return "unclear"
    return "turned" if turn >= TURNED else "frontal"
