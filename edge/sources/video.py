"""OpenCV sources: video files, V4L2/USB cameras, RTSP/HTTP streams and GStreamer pipelines."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.sources.base import Frame, SourceLost, pace

log = logging.getLogger(__name__)

# A file that reports no usable frame rate is assumed to be at this rate;
# OpenCV returns 0 or nan for some containers.
_FALLBACK_FPS = 30.0


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """Cameras can hand out grayscale or BGRA; the rest of the pipeline expects BGR."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class VideoFileSource:
    """A video file, read as fast as possible or at its own pace (``realtime``).

    ``t_s`` is media time (frame index / the file's frame rate), so sampling a
    30 fps file at 3 fps keeps every 10th frame whatever the processing speed.
    """

    live = False

    def __init__(self, path: Path, *, realtime: bool = False) -> None:
        """Open and probe the file.

        Raises:
            CribsideError: missing file, or OpenCV cannot decode a first frame.
        """
        self.path = Path(path)
        self.name = str(self.path)
        self.realtime = realtime
        if not self.path.is_file():
            raise CribsideError(f"video not found: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        try:
            ok, first = cap.read() if cap.isOpened() else (False, None)
            if not ok or first is None:
                raise CribsideError(f"cannot read video {self.path}: not a video OpenCV can decode")
            fps = cap.get(cv2.CAP_PROP_FPS)
            self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        finally:
            cap.release()
        self.fps = float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else _FALLBACK_FPS
        self.size = (int(first.shape[1]), int(first.shape[0]))

    def frames(self) -> Iterator[Frame]:
        """Yield every frame of the file in order (opens the file afresh each call)."""
        cap = cv2.VideoCapture(str(self.path))
        started = time.monotonic()
        try:
            index = 0
            while True:
                ok, image = cap.read()
                if not ok or image is None:
                    return
                t_s = index / self.fps
                if self.realtime:
                    pace(t_s, started)
                yield Frame(_as_bgr(image), t_s, index)
                index += 1
        finally:
            cap.release()

    def close(self) -> None:
        """Nothing stays open between ``frames()`` calls."""


class CameraSource:
    """A live OpenCV capture: a V4L2 index, an RTSP/HTTP URL or a GStreamer pipeline.

    Opening happens in ``frames()``; a failure to open or to read raises
    :class:`SourceLost`, and the capture thread reconnects with backoff.
    """

    live = True

    def __init__(
        self,
        target: int | str,
        *,
        name: str,
        width: int | None = None,
        height: int | None = None,
        gstreamer: bool = False,
    ) -> None:
        self.target = target
        self.name = name
        self.width = width
        self.height = height
        self.gstreamer = gstreamer
        self._cap: Any = None

    def _open(self) -> Any:
        if self.gstreamer:
            cap = cv2.VideoCapture(str(self.target), cv2.CAP_GSTREAMER)
        else:
            cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            raise SourceLost(f"cannot open camera {self.name}")
        if isinstance(self.target, int) and self.width and self.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        return cap

    def frames(self) -> Iterator[Frame]:
        """Yield frames until the camera fails (raises SourceLost)."""
        self._cap = self._open()
        log.info("camera %s opened", self.name)
        index = 0
        try:
            while True:
                ok, image = self._cap.read()
                if not ok or image is None:
                    raise SourceLost(f"camera {self.name} stopped delivering frames")
                yield Frame(_as_bgr(image), time.monotonic(), index)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        """Release the capture device."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
