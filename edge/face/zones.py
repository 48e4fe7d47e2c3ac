"""Crib zones: where in a camera's view the infant can be, and where never to look.

A zone is given in frame fractions (0..1 from the left and top edges), so it survives a change of
capture size: one polygon where the infant lies (the crib), and masks (a screen, a poster, a window)
where no face is ever taken. A face counts as in the crib when its centre is inside the crib polygon
and outside every mask; with no crib polygon the whole frame is the crib (masks still apply).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Point = tuple[float, float]
Polygon = tuple[Point, ...]


@dataclass(frozen=True)
class CribZone:
    """The crib polygon (None: the whole frame) and the masks, in frame fractions."""

    crib: Polygon | None = None
    masks: tuple[Polygon, ...] = field(default=())

    @classmethod
    def from_lists(cls, crib: Sequence[Sequence[float]] | None, masks: Sequence[Sequence[Sequence[float]]] = ()) -> CribZone:
        """From plain lists (the config file's form)."""
        return cls(None if crib is None else _polygon(crib), tuple(_polygon(m) for m in masks))

    @property
    def is_whole_frame(self) -> bool:
        """True when nothing restricts where a face may be."""
        return self.crib is None and not self.masks

    def describe(self) -> str:
        """One line for a technician: the crib's share of the frame and the masks."""
        masks = f", {len(self.masks)} mask{'s' if len(self.masks) != 1 else ''}" if self.masks else ""
        if self.crib is None:
            return "no crib zone (the whole frame)" + masks
        return f"crib zone of {len(self.crib)} points, {area(self.crib):.0%} of the frame" + masks

    def contains(self, point_px: Sequence[float], shape: Sequence[int]) -> bool:
        """Whether a point (x, y) in pixels of an (H, W, ...) frame is in the crib and in no mask."""
        if self.masked(point_px, shape):
            return False
        return self.crib is None or inside(_fraction(point_px, shape), self.crib)

    def masked(self, point_px: Sequence[float], shape: Sequence[int]) -> bool:
        """Whether a point (x, y) in pixels of an (H, W, ...) frame is in a mask."""
        point = _fraction(point_px, shape)
        return any(inside(point, mask) for mask in self.masks)

    def pixels(self, shape: Sequence[int]) -> tuple[np.ndarray | None, list[np.ndarray]]:
        """The crib and the masks as int32 pixel polygons of an (H, W, ...) frame (for drawing)."""
        h, w = int(shape[0]), int(shape[1])
        scale = np.array([w, h], np.float64)

        def px(poly: Polygon) -> np.ndarray:
            return np.round(np.asarray(poly, np.float64) * scale).astype(np.int32)

        return (None if self.crib is None else px(self.crib)), [px(m) for m in self.masks]


def _fraction(point_px: Sequence[float], shape: Sequence[int]) -> Point:
    h, w = int(shape[0]), int(shape[1])
    return float(point_px[0]) / max(w, 1), float(point_px[1]) / max(h, 1)


def _polygon(points: Sequence[Sequence[float]]) -> Polygon:
    return tuple((float(p[0]), float(p[1])) for p in points)


def area(polygon: Polygon) -> float:
    """Area of a simple polygon (shoelace), in the square of its units: a fraction of the frame here."""
    xs = np.array([p[0] for p in polygon])
    ys = np.array([p[1] for p in polygon])
    return float(abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2)


def inside(point: Point, polygon: Polygon) -> bool:
    """Even-odd ray casting: is ``point`` inside ``polygon`` (same units)."""
    x, y = point
    result = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross:
                result = not result
    return result
