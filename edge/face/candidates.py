"""From detections to the ROIs the landmark model tries, in the user's order of preference."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

import cribside.edge.face.mesh as mesh
from cribside.edge.face.detector import Detection
from cribside.edge.face.geometry import RotatedRect, face_frame_extent, frame_to_image

# Below this the second ROI guess would repeat the first.
_SAME_ANGLE_RAD = math.radians(10.0)


def order_by_select(detections: list[Detection], select: str, shape: tuple[int, int]) -> list[Detection]:
    """Sort faces by preference: ``largest`` box, nearest the image ``center``, or best ``score``."""
    if select == "score":
        key: Callable[[Detection], float] = lambda d: -d.score
    elif select == "center":
        cx, cy = (shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0
        key = lambda d: math.hypot(d.center_px[0] - cx, d.center_px[1] - cy)
    else:
        key = lambda d: -d.area
    return sorted(detections, key=key)


def rois_from_detection(det: Detection, scale: float) -> list[RotatedRect]:
    """Square landmark ROIs to try for one detection, best guess first.

    First the box enlarged and turned so the detector's eye keypoints are level (as
    MediaPipe does). The keypoints are unreliable on profile and downward-looking
    faces, so the second guess keeps the orientation the detector looked at.
    """
    eye_r, eye_l = det.keypoints_px[0], det.keypoints_px[1]
    angle = math.atan2(float(eye_l[1] - eye_r[1]), float(eye_l[0] - eye_r[0]))
    side = max(det.size_px) * scale
    rois = [RotatedRect(det.center_px[0], det.center_px[1], side, side, angle)]
    turn = (angle - det.view_angle_rad + math.pi) % (2 * math.pi) - math.pi
    if abs(turn) > _SAME_ANGLE_RAD:
        rois.append(RotatedRect(det.center_px[0], det.center_px[1], side, side, det.view_angle_rad))
    return rois


def roi_from_landmarks(landmarks: np.ndarray, scale: float) -> RotatedRect:
    """Square ROI placed by a mesh: for the next video frame, or to refine this one.

    Turned so the outer eye corners are level, as MediaPipe's face mesh tracks; the
    extent is measured in the face's own rotated frame, so a tilted face gets the
    same ROI size as an upright one.
    """
    a, b = landmarks[mesh.SUBJECT_RIGHT_EYE_OUTER], landmarks[mesh.SUBJECT_LEFT_EYE_OUTER]
    angle = math.atan2(float(b[1] - a[1]), float(b[0] - a[0]))
    u, v = face_frame_extent(landmarks.astype(np.float64), angle)
    cx, cy = frame_to_image((u.min() + u.max()) / 2, (v.min() + v.max()) / 2, angle)
    side = max(u.max() - u.min(), v.max() - v.min()) * scale
    return RotatedRect(cx, cy, side, side, angle)
