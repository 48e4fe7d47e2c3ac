"""Capture health: is the camera delivering fresh frames, and is there a face in them?

A dead camera must never look like a calm baby. This monitor turns the frame
stream (and its absence) into the ``status`` topic's ``capture`` value:

* ``starting``: no frame has arrived yet (the camera is opening); not live;
* ``ok``: fresh frames with a face;
* ``no_face``: fresh frames, no face in the latest sampled frame;
* ``stalled``: no frame for ``stall_after_s``, or ``frozen_frames`` identical
  frames in a row (a hung driver or a frozen stream repeats the last image);
* ``no_signal``: stalled for longer than ``no_signal_after_s``; the loop then
  raises a ``no_signal`` alert episode, which ends when fresh frames return.

Time is passed in (``time.monotonic()`` seconds), so the monitor is pure.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds (the device config's ``health`` section)."""

    stall_after_s: float = 5.0
    no_signal_after_s: float = 30.0
    frozen_frames: int = 30  # 0 turns frozen-frame detection off (e.g. for video files)


@dataclass(frozen=True)
class CaptureStatus:
    """One ``status`` payload: capture state, why, and since when (monotonic and unix)."""

    capture: str  # starting | ok | stalled | no_signal | no_face
    reason: str
    since_s: float
    since_ts: float

    def to_payload(self) -> dict[str, object]:
        """The status payload fields of the MQTT contract."""
        return {"capture": self.capture, "reason": self.reason, "since_ts": self.since_ts}

    @property
    def live(self) -> bool:
        """True when frames are arriving (ok or no_face)."""
        return self.capture in ("ok", "no_face")


def frame_digest(image: np.ndarray) -> int:
    """A cheap fingerprint for spotting repeated frames: crc32 of every 8th pixel.

    Sensor noise changes at least one of ~14,000 sampled values of a live
    640x480 image; a frozen pipeline repeats them exactly.
    """
    return zlib.crc32(np.ascontiguousarray(image[::8, ::8]).tobytes())


class HealthMonitor:
    """Tracks frames, faces and time; reports the capture status when it changes."""

    def __init__(self, settings: HealthSettings, now_s: float, now_ts: float) -> None:
        self.settings = settings
        self._last_frame_s = now_s  # a camera that never delivers stalls from start-up
        self._last_digest: int | None = None
        self._repeats = 0
        self._frozen_since: tuple[float, float] | None = None
        self._face = True
        self._seen_frame = False
        self.status = CaptureStatus("starting", "no frame yet", now_s, now_ts)

    def on_frame(self, image: np.ndarray, now_s: float, now_ts: float) -> CaptureStatus | None:
        """Record a captured frame; return the new status if it changed."""
        self._last_frame_s = now_s
        self._seen_frame = True
        if self.settings.frozen_frames > 0:
            digest = frame_digest(image)
            self._repeats = self._repeats + 1 if digest == self._last_digest else 0
            self._last_digest = digest
            if self._repeats == 0:
                self._frozen_since = None
            elif self._frozen_since is None:
                self._frozen_since = (now_s, now_ts)
        return self.tick(now_s, now_ts)

    @property
    def frozen(self) -> bool:
        """True while the last ``frozen_frames`` frames were identical (do not classify them)."""
        limit = self.settings.frozen_frames
        return limit > 0 and self._repeats + 1 >= max(2, limit)

    def on_face(self, visible: bool, now_s: float, now_ts: float) -> CaptureStatus | None:
        """Record whether the latest sampled frame had a face."""
        self._face = visible
        return self.tick(now_s, now_ts)

    def tick(self, now_s: float, now_ts: float) -> CaptureStatus | None:
        """Re-evaluate with the time now; return the new status if it changed."""
        capture, reason, since = self._evaluate(now_s, now_ts)
        if capture == self.status.capture:
            return None
        self.status = CaptureStatus(capture, reason, *since)
        return self.status

    def _evaluate(self, now_s: float, now_ts: float) -> tuple[str, str, tuple[float, float]]:
        settings = self.settings
        silent_s = now_s - self._last_frame_s
        if silent_s >= settings.stall_after_s:
            since = (self._last_frame_s, now_ts - silent_s)
            if silent_s >= settings.no_signal_after_s:
                return "no_signal", f"no frame for {silent_s:.0f} s", since
            return "stalled", f"no frame for {silent_s:.1f} s", since
        if not self._seen_frame:
            return "starting", "no frame yet", (now_s, now_ts)
        if self.frozen and self._frozen_since is not None:
            frozen_s = now_s - self._frozen_since[0]
            if frozen_s >= settings.no_signal_after_s:
                return "no_signal", f"frozen: same frame for {frozen_s:.0f} s", self._frozen_since
            return "stalled", f"frozen: {self._repeats + 1} identical frames", self._frozen_since
        if not self._face:
            return "no_face", "no face in view", (now_s, now_ts)
        return "ok", "frames and face", (now_s, now_ts)
