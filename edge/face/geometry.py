"""Rotated rectangles and the affine maps between them and the image.

Coordinates are OpenCV pixel coordinates (x right, y down, integer = pixel centre).
An angle is the direction of a rectangle's x axis in the image, in radians, measured
with y down (so a positive angle turns clockwise on screen).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RotatedRect:
    """A rectangle in the image: centre, size and the angle of its x axis."""

    center_x: float
    center_y: float
    width: float
    height: float
    angle_rad: float

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors of the rectangle's x and y axes in image coordinates."""
        c, s = math.cos(self.angle_rad), math.sin(self.angle_rad)
        return np.array([c, s]), np.array([-s, c])


def rect_to_image(rect: RotatedRect, out_w: int, out_h: int) -> np.ndarray:
    """2x3 affine taking pixel (u, v) of an ``out_w`` x ``out_h`` crop of ``rect`` to the image.

    Use with ``cv2.warpAffine(..., flags=cv2.WARP_INVERSE_MAP)``: one warp produces
    the rotated, scaled crop straight from the input (no full-image rotation).
    """
    x_axis, y_axis = rect.axes()
    sx, sy = rect.width / out_w, rect.height / out_h
    col_u = x_axis * sx
    col_v = y_axis * sy
    # Pixel centre u sits at (u + 0.5) / out_w of the width from the left edge.
    origin = np.array([rect.center_x, rect.center_y]) - x_axis * rect.width / 2 - y_axis * rect.height / 2
    origin = origin + 0.5 * col_u + 0.5 * col_v
    return np.array([[col_u[0], col_v[0], origin[0]], [col_u[1], col_v[1], origin[1]]], dtype=np.float64)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to an (N, 2) array of points."""
    pts = np.asarray(points, dtype=np.float64)
    return np.asarray(pts @ matrix[:, :2].T + matrix[:, 2])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def rotation_about(center: tuple[float, float], angle_rad: float) -> np.ndarray:
    """2x3 affine rotating points by ``angle_rad`` (y-down convention) about ``center``."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    cx, cy = center
    return np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy]], dtype=np.float64)


def face_frame_extent(points: np.ndarray, angle_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """Project points onto the axes of a frame rotated by ``angle_rad``.

    Returns:
        (u, v): each point's coordinate along the rotated x and y axes.
    """
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    u = points[:, 0] * c + points[:, 1] * s
    v = -points[:, 0] * s + points[:, 1] * c
    return u, v


def frame_to_image(u: float, v: float, angle_rad: float) -> tuple[float, float]:
    """Inverse of ``face_frame_extent`` for one point."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return u * c - v * s, u * s + v * c
