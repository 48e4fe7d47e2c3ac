"""Frames and the interface every frame source implements, plus the spec registry.

A *source spec* is the one string a user writes in the config or on the command
line (``picamera2``, ``v4l2:0``, ``rtsp://...``, ``gst:<pipeline>``,
``file:/path.mp4``, ``frames:/dir``, or a plain path). :func:`open_source` maps
it to an implementation; each implementation lives in its own module and is
imported only when used, so a Jetson never imports picamera2.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from cribside.edge.types import Frame, FrameSource

__all__ = ["Frame", "FrameSource", "SourceLost", "SourceOptions", "STREAM_SCHEMES", "file_source_path", "redact_url"]


class SourceLost(Exception):
    """A live source failed to open or stopped delivering; the capture thread retries it."""


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
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


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
    if SCHEME.match(spec):
        return None
    return Path(spec).expanduser()


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
