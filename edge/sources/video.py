"""OpenCV sources: video files, V4L2/USB cameras, RTSP/HTTP streams and GStreamer pipelines.

A video file that stops delivering frames well before the length its container
declares is damaged or truncated: its ``frames()`` raises a CribsideError at that
point instead of ending as if the recording were over.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.sources.base import Frame, SourceLost, pace

log = logging.getLogger(__name__)

# A file that reports no usable frame rate is assumed to be at this rate;
# OpenCV returns 0 or nan for some containers.
_FALLBACK_FPS = 30.0
# A file ending this much before its declared length is damaged, not finished: the
# larger of 1 s and 5 % (a container's frame count can be approximate, never by this much).
_EARLY_END_MIN_S = 1.0
_EARLY_END_FRACTION = 0.05


@functools.lru_cache(maxsize=1)
def opencv_has_gstreamer() -> bool:
    """True when this OpenCV was built with the GStreamer video I/O backend."""
    match = re.search(r"^\s*GStreamer:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    return match is not None and match.group(1).upper() not in ("NO", "OFF")


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
                raise CribsideError(
                    f"cannot read video {self.path}: not a video OpenCV can decode (or damaged, or truncated)"
                )
            fps = cap.get(cv2.CAP_PROP_FPS)
            count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        finally:
            cap.release()
        self.fps = float(fps) if fps and math.isfinite(fps) and 0 < fps < 1000 else _FALLBACK_FPS
        # The container's frame count (0 when it declares none): how long the file says it is.
        self.frame_count = int(count) if count and math.isfinite(count) and count > 0 else 0
        self.size = (int(first.shape[1]), int(first.shape[0]))

    @property
    def duration_s(self) -> float | None:
        """The length the file declares, in seconds (None when it declares no frame count)."""
        return self.frame_count / self.fps if self.frame_count else None

    def frames(self) -> Iterator[Frame]:
        """Yield every frame of the file in order (opens the file afresh each call).

        Raises:
            CribsideError: the file can no longer be opened, or it ends well before
                its declared length (damaged or truncated).
        """
        cap = cv2.VideoCapture(str(self.path))
        started = time.monotonic()
        index = 0
        try:
            if not cap.isOpened():
                raise CribsideError(f"cannot open video {self.path} again (moved, deleted or unreadable)")
            while True:
                ok, image = cap.read()
                if not ok or image is None:
                    break
                t_s = index / self.fps
                if self.realtime:
                    pace(t_s, started)
                yield Frame(_as_bgr(image), t_s, index)
                index += 1
        finally:
            cap.release()
        self._check_complete(index)

    def _check_complete(self, frames_read: int) -> None:
        """Raise when the decoder stopped well before the declared length."""
        declared_s = self.duration_s
        if declared_s is None:
            return
        reached_s = frames_read / self.fps
        if declared_s - reached_s > max(_EARLY_END_MIN_S, _EARLY_END_FRACTION * declared_s):
            raise CribsideError(
                f"{self.path.name} ended at {reached_s:.1f} s of {declared_s:.1f} s "
                f"(frame {frames_read} of {self.frame_count}): the file is damaged or truncated"
            )

    def close(self) -> None:
        """Nothing stays open between ``frames()`` calls."""


class CameraSource:
    """A live OpenCV capture: a V4L2 index, an RTSP/HTTP URL or a GStreamer pipeline.

    Opening happens in ``frames()``; a failure to open or to read raises
    :class:`SourceLost`, and the capture thread reconnects with backoff. A
    GStreamer pipeline on an OpenCV without GStreamer can never open, so that
    is a startup error instead.
    """

    live = True
    fps: float | None = None  # a live camera: its rate is measured, not declared

    def __init__(
        self,
        target: int | str,
        *,
        name: str,
        width: int | None = None,
        height: int | None = None,
        gstreamer: bool = False,
    ) -> None:
        """Describe the capture; nothing is opened yet.

        Args:
            target: V4L2 index or device path (``/dev/v4l/by-id/...``), stream URL, or GStreamer pipeline text.
            name: what logs call it (a URL without its credentials).
            width: requested width (V4L2 only).
            height: requested height (V4L2 only).
            gstreamer: ``target`` is a GStreamer pipeline.

        Raises:
            CribsideError: a GStreamer pipeline and OpenCV has no GStreamer backend.
        """
        if gstreamer and not opencv_has_gstreamer():
            raise CribsideError(
                f"gst: source needs OpenCV built with GStreamer; this OpenCV {cv2.__version__} has none "
                "(the pip opencv-python-headless never has): use Debian's python3-opencv, "
                "or a v4l2:<index> or rtsp:// source"
            )
        self.target = target
        self.name = name
        self.width = width
        self.height = height
        self.gstreamer = gstreamer
        self._cap: Any = None

    def _open(self) -> Any:
        device = isinstance(self.target, int) or str(self.target).startswith("/dev/")
        if self.gstreamer:
            cap = cv2.VideoCapture(str(self.target), cv2.CAP_GSTREAMER)
        elif isinstance(self.target, str) and device:
            cap = cv2.VideoCapture(self.target, cv2.CAP_V4L2)
        else:
            cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            raise SourceLost(f"cannot open camera {self.name}")
        if device and self.width and self.height:
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
