"""Frames and the interface every frame source implements, plus the spec registry.

A *source spec* is the one string a user writes in the config or on the command
line (``picamera2``, ``v4l2:0``, ``rtsp://...``, ``gst:<pipeline>``,
``file:/path.mp4``, ``frames:/dir``, or a plain path). :func:`open_source` maps
it to an implementation; each implementation lives in its own module and is
imported only when used, so a Jetson never imports picamera2.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol, runtime_checkable

import numpy as np

from cribside.edge.errors import CribsideError


@dataclass(frozen=True)
class Frame:
    """One captured image.

    Attributes:
        image: BGR uint8 array (H, W, 3).
        t_s: seconds on the source's own clock: media time for files and folders
            (frame index / fps), ``time.monotonic()`` at capture for live cameras.
            Sampling, windows and alert timing all use this clock, so a file
            processed faster than real time behaves as if it were watched live.
        index: 0-based frame number since the source was opened.
        wall_ts: unix seconds at capture (stamped into published messages).
        captured_s: ``time.monotonic()`` at capture (for latency measurements).
    """

    image: np.ndarray
    t_s: float
    index: int
    wall_ts: float = field(default_factory=time.time)
    captured_s: float = field(default_factory=time.monotonic)


class SourceLost(Exception):
    """A live source failed to open or stopped delivering; the capture thread retries it."""


@runtime_checkable
class FrameSource(Protocol):
    """Something that yields frames: a camera, a stream, a video file, a folder.

    ``live`` sources (cameras, streams) can stall or drop out; the capture
    thread reconnects them with backoff. Non-live sources (files) end.
    """

    name: str
    live: bool

    def frames(self) -> Iterator[Frame]:
        """Yield frames until the source ends or fails (then the iterator stops or raises)."""
        ...

    def close(self) -> None:
        """Release the device or file; safe to call twice."""
        ...


@dataclass(frozen=True)
class SourceOptions:
    """Options that apply to every source kind.

    Attributes:
        realtime: play files at their own pace instead of as fast as possible.
        width: requested capture width in pixels (cameras only).
        height: requested capture height in pixels (cameras only).
        folder_fps: frame rate assumed for a folder of frames (the paper's
            IFPaLD frames were extracted at 3 fps).
    """

    realtime: bool = False
    width: int = 640
    height: int = 480
    folder_fps: float = 3.0


def open_source(spec: str, options: SourceOptions | None = None) -> FrameSource:
    """Build the source a spec names.

    Files and folders are checked now (a missing or unreadable video is a
    startup error); live sources are opened lazily by their ``frames()`` so a
    camera that comes up late is retried rather than fatal.

    Raises:
        CribsideError: unknown spec, missing file, unreadable video, empty folder,
            or picamera2 missing off a Raspberry Pi.
    """
    opts = options or SourceOptions()
    spec = spec.strip()
    if not spec:
        raise CribsideError("empty camera source: give e.g. picamera2, v4l2:0, rtsp://..., or a video path")
    if spec == "picamera2":
        from cribside.edge.sources.picamera import PiCameraSource

        return PiCameraSource(width=opts.width, height=opts.height)
    if spec.startswith("v4l2:"):
        from cribside.edge.sources.video import CameraSource

        index = spec[len("v4l2:") :]
        if not index.isdigit():
            raise CribsideError(f"camera source {spec!r}: expected v4l2:<index>, e.g. v4l2:0")
        return CameraSource(int(index), name=spec, width=opts.width, height=opts.height)
    if spec.startswith(("rtsp://", "rtsps://", "http://", "https://")):
        from cribside.edge.sources.video import CameraSource

        return CameraSource(spec, name=_redact_url(spec), width=opts.width, height=opts.height)
    if spec.startswith("gst:"):
        from cribside.edge.sources.video import CameraSource

        return CameraSource(spec[len("gst:") :], name="gst", gstreamer=True)
    if spec.startswith("frames:"):
        return _open_folder(spec[len("frames:") :], opts)
    path = Path(spec[len("file:") :] if spec.startswith("file:") else spec).expanduser()
    if path.is_dir():
        return _open_folder(str(path), opts)
    from cribside.edge.sources.video import VideoFileSource

    return VideoFileSource(path, realtime=opts.realtime)


def _open_folder(rest: str, opts: SourceOptions) -> FrameSource:
    """``frames:/dir`` or ``frames:/dir?fps=N``."""
    from cribside.edge.sources.folder import FolderSource

    path, _, query = rest.partition("?fps=")
    fps = opts.folder_fps
    if query:
        try:
            fps = float(query)
        except ValueError:
            raise CribsideError(f"frames source {rest!r}: fps must be a number") from None
    return FolderSource(Path(path).expanduser(), fps=fps, realtime=opts.realtime)


def _redact_url(url: str) -> str:
    """Drop ``user:password@`` from a stream URL so it never reaches a log."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def pace(t_s: float, started_mono: float) -> None:
    """Sleep until media time ``t_s`` is due, for files played at their own pace."""
    delay = started_mono + t_s - time.monotonic()
    if delay > 0:
        time.sleep(delay)
