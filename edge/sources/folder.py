"""A folder of frame images (the layout IFPaLD ships: one ordered run of .jpg frames)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import cv2

from cribside.edge.errors import CribsideError
from cribside.edge.sources.base import Frame, pace

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class FolderSource:
    """Images in a folder, in file-name order, at a fixed frame rate.

    ``t_s`` is ``index / fps``; an unreadable image is logged and skipped but
    still counts as one frame interval, so the timeline stays honest.
    """

    live = False

    def __init__(self, path: Path, *, fps: float = 3.0, realtime: bool = False) -> None:
        """List the folder.

        Raises:
            CribsideError: not a folder, no images in it, or fps not a positive finite number.
        """
        self.path = Path(path)
        self.name = str(self.path)
        self.realtime = realtime
        if not self.path.is_dir():
            raise CribsideError(f"frames folder not found: {self.path}")
        if not (math.isfinite(fps) and fps > 0):
            raise CribsideError(f"frames folder {self.path}: fps must be a positive number, got {fps}")
        self.fps = float(fps)
        self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise CribsideError(f"frames folder {self.path} has no {'/'.join(IMAGE_SUFFIXES)} images")

    def frames(self) -> Iterator[Frame]:
        """Yield the images in order."""
        started = time.monotonic()
        for index, file in enumerate(self.files):
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("skipping unreadable frame %s", file)
                continue
            t_s = index / self.fps
            if self.realtime:
                pace(t_s, started)
            yield Frame(image, t_s, index)

    def close(self) -> None:
        """Nothing stays open."""
