"""The capture thread: reads a source, never waits for the slow side, reconnects live sources.

Live cameras hand frames to the loop through a small bounded queue with
``put_nowait``; when the loop is behind, the *oldest* queued frame is dropped
and counted, so the loop always works on the freshest image. Files are read
lossless (blocking put): every frame is processed, as fast as possible.
A live source that fails is reopened with exponential backoff plus jitter
(so several devices that lost the same RTSP server do not retry in lockstep).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cribside.edge.sources.base import Frame, FrameSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: min_s, doubling up to max_s, each scaled by 1 +- jitter."""

    min_s: float = 1.0
    max_s: float = 30.0
    jitter: float = 0.2

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Delay before reconnect attempt ``attempt`` (0-based)."""
        base = min(self.max_s, self.min_s * 2.0 ** min(attempt, 30))
        return base * (1.0 + self.jitter * rng.uniform(-1.0, 1.0))


class EndOfSource:
    """Queued after the last frame of a file; carries the error if reading failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class Capture:
    """Runs ``source.frames()`` on its own thread."""

    def __init__(
        self,
        source: FrameSource,
        *,
        on_captured: Callable[[int, int], None],
        queue_size: int = 4,
        backoff: Backoff | None = None,
        lossless: bool | None = None,
    ) -> None:
        """Args:
        source: where frames come from.
        on_captured: called with (captured, dropped) increments (the stats counters).
        queue_size: frames buffered between capture and the loop.
        backoff: reconnect delays for live sources.
        lossless: block instead of dropping; default: True for files, False for live sources.
        """
        self.source = source
        self._on_captured = on_captured
        self._queue: queue.Queue[Frame | EndOfSource] = queue.Queue(maxsize=max(1, queue_size))
        self._backoff = backoff or Backoff()
        self._lossless = (not source.live) if lossless is None else lossless
        self._stop = threading.Event()
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name=f"capture-{source.name}", daemon=True)

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def get(self, timeout_s: float) -> Frame | EndOfSource | None:
        """Next frame, the end marker, or None when nothing arrived within ``timeout_s``."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the thread to stop; a camera blocked in a read is abandoned (daemon thread)."""
        self._stop.set()
        self._thread.join(timeout_s)
        self.source.close()

    def _run(self) -> None:
        if not self.source.live:
            try:
                for frame in self.source.frames():
                    if not self._put(frame):
                        return
            except Exception as exc:  # surfaced to the loop, which reports it
                self._put(EndOfSource(exc))
                return
            self._put(EndOfSource())
            return
        self._run_live()

    def _run_live(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                for frame in self.source.frames():
                    attempt = 0
                    if not self._put(frame):
                        return
                reason = "source ended"
            except Exception as exc:  # SourceLost, cv2.error, driver errors: all mean reconnect
                reason = str(exc)
            delay = self._backoff.delay_s(attempt, self._rng)
            log.warning("camera %s lost (%s); reconnecting in %.1f s", self.source.name, reason, delay)
            attempt += 1
            if self._stop.wait(delay):
                return

    def _put(self, item: Frame | EndOfSource) -> bool:
        """Queue an item; False when asked to stop."""
        if isinstance(item, Frame):
            self._on_captured(1, 0)
        if self._lossless or isinstance(item, EndOfSource):
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            try:
                self._queue.get_nowait()  # drop the oldest: the loop should see the freshest frame
                self._on_captured(0, 1)
            except queue.Empty:
                pass
            self._queue.put_nowait(item)
        return not self._stop.is_set()
