"""From a face mesh to the paper's crop: eyes level, eyebrows to chin, gray, 64x64."""

from __future__ import annotations

import math

import cv2
import numpy as np

import cribside.edge.face.mesh as mesh
from cribside.edge.face.geometry import RotatedRect, face_frame_extent, frame_to_image, rect_to_image
from cribside.edge.face.settings import AlignerSettings

# Largest supersampling factor before the area-average down to the crop size: enough
# to stop aliasing for faces up to ~4x the crop, and cheap at 64x64.
_MAX_SUPERSAMPLE = 4


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each eye's contour: (left, right) where left is the subject's right eye."""
    left = landmarks[list(mesh.SUBJECT_RIGHT_EYE)].mean(axis=0)
    right = landmarks[list(mesh.SUBJECT_LEFT_EYE)].mean(axis=0)
    return left, right


def eye_angle_rad(left: np.ndarray, right: np.ndarray) -> float:
    """Angle of the eye line, y down."""
    return math.atan2(float(right[1] - left[1]), float(right[0] - left[0]))


def crop_rect(landmarks: np.ndarray, angle_rad: float, settings: AlignerSettings) -> RotatedRect | None:
    """The brow-to-chin rectangle in the face's upright frame (see AlignerSettings).

    Returns:
        The rectangle, or None when the mesh is degenerate (chin not below the brows).
    """
    u, v = face_frame_extent(landmarks.astype(np.float64), angle_rad)
    top = float(v[list(mesh.BROWS)].min())
    chin = float(v[mesh.CHIN])
    height = chin - top
    oval_u = u[list(mesh.FACE_OVAL)]
    left, right = float(oval_u.min()), float(oval_u.max())
    width = right - left
    if height <= 1.0 or width <= 1.0:
        return None
    v0 = top - settings.margin_top * height
    v1 = chin + settings.margin_bottom * height
    u0 = left - settings.margin_side * width
    u1 = right + settings.margin_side * width
    cx, cy = frame_to_image((u0 + u1) / 2, (v0 + v1) / 2, angle_rad)
    return RotatedRect(cx, cy, u1 - u0, v1 - v0, angle_rad)


def warp_crop(bgr: np.ndarray, rect: RotatedRect, size: int) -> np.ndarray:
    """One affine warp from the input straight to a gray ``size`` x ``size`` crop.

    A face larger than the crop is warped to a small multiple of the crop size and
    area-averaged down, so the crop is not aliased; gray conversion happens on the
    small patch, never on the whole frame.
    """
    factor = int(min(_MAX_SUPERSAMPLE, max(1, rect.height // size, rect.width // size)))
    out = size * factor
    patch = cv2.warpAffine(bgr, rect_to_image(rect, out, out), (out, out),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    gray = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    if factor > 1:
        gray = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)
    return gray
