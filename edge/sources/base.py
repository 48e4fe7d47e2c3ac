"""Frames and the interface every frame source implements, plus the spec registry.

A *source spec* is the one string a user writes in the config or on the command
line (``picamera2``, ``v4l2:0``, ``rtsp://...``, ``gst:<pipeline>``,
``file:/path.mp4``, ``frames:/dir``, or a plain path). :func:`open_source` maps
it to an implementation; each implementation lives in its own module and is
imported only when used, so a Jetson never imports picamera2.
"""

from __future__ import annotations

import math
import re
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


# Stream URLs OpenCV's FFmpeg backend opens; a scheme is matched case-insensitively.
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def file_source_path(spec: str) -> Path | None:
    """The video, folder or path a file-like spec names, or None for cameras and streams.

    File-like specs are ``file:<video>``, ``frames:<dir>`` (without its ``?fps=``
    part) and plain paths; ``picamera2``, ``v4l2:``, ``gst:`` and URLs are not files.
    """
    spec = spec.strip()
    if spec == "picamera2" or spec.startswith(("v4l2:", "gst:")):
        return None
    if spec.startswith("frames:"):
        return Path(spec[len("frames:") :].partition("?fps=")[0]).expanduser()
    if spec.startswith("file:"):
        return Path(spec[len("file:") :]).expanduser()
    if _SCHEME.match(spec):
        return None
    return Path(spec).expanduser()


def open_source(spec: str, options: SourceOptions | None = None) -> FrameSource:
    """Build the source a spec names.

    Files and folders are checked now (a missing or unreadable video is a
    startup error); live sources are opened lazily by their ``frames()`` so a
    camera that comes up late is retried rather than fatal.

    Raises:
        CribsideError: unknown spec or URL scheme, missing file, unreadable video,
            empty folder, picamera2 missing off a Raspberry Pi, or a ``gst:``
            pipeline on an OpenCV built without GStreamer.
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
    scheme = _SCHEME.match(spec)
    if scheme and scheme.group(1).lower() != "file":
        if scheme.group(1).lower() not in STREAM_SCHEMES:
            raise CribsideError(
                f"camera source {redact_url(spec)!r}: unknown URL scheme {scheme.group(1)}:// "
                f"(known: {', '.join(s + '://' for s in STREAM_SCHEMES)})"
            )
        from cribside.edge.sources.video import CameraSource

        return CameraSource(spec, name=redact_url(spec), width=opts.width, height=opts.height)
    if spec.startswith("gst:"):
        from cribside.edge.sources.video import CameraSource

        if not spec[len("gst:") :].strip():
            raise CribsideError("camera source 'gst:': expected gst:<pipeline> ending in appsink")
        return CameraSource(spec[len("gst:") :], name="gst", gstreamer=True)
    path = file_source_path(spec)
    assert path is not None  # every live spec returned above
    if spec.startswith(("file:", "frames:")) and not spec.split(":", 1)[1].partition("?fps=")[0].strip():
        kind, example = ("file", "file:/data/clip.mp4") if spec.startswith("file:") else ("frames", "frames:/data/clips")
        raise CribsideError(f"camera source {spec!r}: expected {kind}:<path>, e.g. {example}")
    if spec.startswith("frames:") or path.is_dir():
        return _open_folder(path, spec.partition("?fps=")[2] if spec.startswith("frames:") else "", opts)
    if path.exists() and not path.is_file():
        raise CribsideError(f"video {path} is not a regular file (for a camera device use v4l2:<index>)")
    from cribside.edge.sources.video import VideoFileSource

    return VideoFileSource(path, realtime=opts.realtime)


def _open_folder(path: Path, fps_text: str, opts: SourceOptions) -> FrameSource:
    """``frames:/dir`` or ``frames:/dir?fps=N`` (or a plain path to a folder)."""
    from cribside.edge.sources.folder import FolderSource

    fps = opts.folder_fps
    if fps_text:
        try:
            fps = float(fps_text)
        except ValueError:
            fps = math.nan
        if not (math.isfinite(fps) and fps > 0):
            raise CribsideError(f"frames source {path}?fps={fps_text}: fps must be a positive number, e.g. ?fps=3")
    return FolderSource(path, fps=fps, realtime=opts.realtime)


# scheme://user:password@, up to the last '@' before a blank or a quote, so a password
# holding '/', '?' or '@' is cut too (a path with an '@' is cut short: harmless in a name);
# then the values of secret-looking query parameters and GStreamer rtspsrc properties.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s\"']*@")
_SECRET_PARAM = re.compile(
    r"((?:[?&;]|\s)(?:user|username|usr|pass|passwd|password|pwd|token|access_token|auth|key|apikey|api_key|secret"
    r"|sig|signature|user-id|user-pw|proxy-id|proxy-pw)=)[^&#;\s\"']*",
    re.IGNORECASE,
)


def redact_url(text: str) -> str:
    """Drop ``user:password@`` from every URL in ``text`` and mask secret query values.

    ``rtsp://nurse:pw@10.0.0.5/crib`` becomes ``rtsp://10.0.0.5/crib`` and
    ``http://cam/video.cgi?user=admin&pwd=x`` becomes ``http://cam/video.cgi?user=***&pwd=***``,
    so a stream URL can be logged, printed or published. Works on a bare URL, a
    ``gst:`` pipeline (``rtspsrc user-pw=...`` too) or any message holding URLs.
    """
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1", text))


def pace(t_s: float, started_mono: float) -> None:
    """Sleep until media time ``t_s`` is due, for files played at their own pace."""
    delay = started_mono + t_s - time.monotonic()
    if delay > 0:
        time.sleep(delay)
