"""The Raspberry Pi camera through picamera2 (from Raspberry Pi OS, not PyPI)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from cribside.edge.errors import CribsideError
from cribside.edge.sources.base import Frame, SourceLost

log = logging.getLogger(__name__)


def _picamera2_class() -> Any:
    try:
        from picamera2 import Picamera2  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise CribsideError(
            "picamera2 not available: on Raspberry Pi OS install python3-picamera2 "
            "(and create the venv with --system-site-packages)"
        ) from None
    return Picamera2


class PiCameraSource:
    """The Pi camera module, BGR frames at the requested size.

    picamera2 is imported when the source is built, so a missing package is a
    startup error; a camera that fails later raises SourceLost and is reopened.
    """

    live = True
    name = "picamera2"
    fps: float | None = None  # a live camera: its rate is measured, not declared

    def __init__(self, *, width: int = 640, height: int = 480) -> None:
        self._cls = _picamera2_class()
        self.width = width
        self.height = height
        self._camera: Any = None

    def frames(self) -> Iterator[Frame]:
        """Yield frames until the camera fails."""
        try:
            camera = self._cls()
            # picamera2's "RGB888" is laid out B, G, R in memory: OpenCV's BGR.
            config = camera.create_video_configuration(main={"size": (self.width, self.height), "format": "RGB888"})
            camera.configure(config)
            camera.start()
        except Exception as exc:  # libcamera raises a variety of types
            raise SourceLost(f"cannot open picamera2: {exc}") from exc
        self._camera = camera
        index = 0
        try:
            while True:
                try:
                    image = camera.capture_array("main")
                except Exception as exc:
                    raise SourceLost(f"picamera2 stopped delivering frames: {exc}") from exc
                yield Frame(image[:, :, :3], time.monotonic(), index)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        """Stop and release the camera."""
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            finally:
                self._camera = None
