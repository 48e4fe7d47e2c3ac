"""The source registry: a camera spec (``picamera2``, ``v4l2:N``, a URL, ``gst:...``, a file or folder) -> its source.

Each implementation is imported only when a spec names it, so a Jetson never
imports picamera2 and a Pi never needs GStreamer.
"""

from __future__ import annotations

import math
from pathlib import Path

from cribside.edge.errors import CribsideError
from cribside.edge.sources.base import SCHEME, STREAM_SCHEMES, SourceOptions, file_source_path, redact_url
from cribside.edge.types import FrameSource


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
        if index.startswith("/dev/"):  # a stable path (/dev/v4l/by-id/...): two USB cameras never swap at boot
            return CameraSource(index, name=spec, width=opts.width, height=opts.height)
        if not index.isdigit():
            raise CribsideError(f"camera source {spec!r}: expected v4l2:<index> or v4l2:/dev/<path>, "
                                "e.g. v4l2:0 or v4l2:/dev/v4l/by-id/usb-...-video-index0")
        return CameraSource(int(index), name=spec, width=opts.width, height=opts.height)
    scheme = SCHEME.match(spec)
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
