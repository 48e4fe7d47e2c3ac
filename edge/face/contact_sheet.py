"""A contact sheet: aligned crops in a labelled grid, a grey tile where there was no face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

_TILE = 96  # crops are upscaled (nearest) so a 64x64 crop is easy to inspect
_LABEL_H = 14
_BG = 255
_NO_FACE_GREY = 128


def _tile(crop: np.ndarray | None, label: str) -> np.ndarray:
    tile = np.full((_TILE + _LABEL_H, _TILE), _BG, np.uint8)
    if crop is None:
        tile[:_TILE] = _NO_FACE_GREY
        cv2.putText(tile, "no face", (12, _TILE // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 255, 1, cv2.LINE_AA)
    else:
        tile[:_TILE] = cv2.resize(crop, (_TILE, _TILE), interpolation=cv2.INTER_NEAREST)
    cv2.putText(tile, label[:16], (2, _TILE + _LABEL_H - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.32, 0, 1, cv2.LINE_AA)
    return tile


def contact_sheet(items: list[tuple[np.ndarray | None, str]], columns: int = 8) -> np.ndarray:
    """Grid of labelled tiles, one per (crop or None, label), gray uint8."""
    if not items:
        return np.full((_TILE + _LABEL_H, _TILE), _BG, np.uint8)
    tiles = [_tile(crop, label) for crop, label in items]
    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    blank = np.full_like(tiles[0], _BG)
    tiles += [blank] * (rows * columns - len(tiles))

    def pad(t: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.copyMakeBorder(t, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=_BG))

    return np.vstack([np.hstack([pad(t) for t in tiles[r * columns:(r + 1) * columns]]) for r in range(rows)])


def write_contact_sheet(path: Path, items: list[tuple[np.ndarray | None, str]], columns: int = 8) -> None:
    """Write ``contact_sheet(items)`` as PNG."""
    cv2.imwrite(str(path), contact_sheet(items, columns))
