"""Counters and per-stage latencies for the ``stats`` topic and ``bench run``."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np
import psutil

# capture: from capture to the loop picking the frame up (queue wait);
# total: from capture to the last publish for that frame.
STAGES = ("capture", "align", "encode", "classify", "publish", "total")

# Latest samples per stage kept for percentiles: at 3 fps, 512 covers ~3 minutes.
_SAMPLES = 512


class LatencyRecorder:
    """Recent latency samples per stage, in milliseconds."""

    def __init__(self, samples: int = _SAMPLES) -> None:
        self._samples = {stage: deque[float](maxlen=samples) for stage in STAGES}

    def add(self, stage: str, ms: float) -> None:
        """Record one latency (stages outside STAGES are an error in the caller)."""
        self._samples[stage].append(ms)

    def percentiles(self, stage: str, qs: tuple[float, ...] = (50, 95)) -> tuple[float, ...] | None:
        """Percentiles in ms of the recent samples, or None with no samples."""
        values = self._samples[stage]
        if not values:
            return None
        return tuple(float(v) for v in np.percentile(np.fromiter(values, float), qs))

    def summary(self) -> dict[str, dict[str, float | None]]:
        """``{stage: {p50, p95}}`` for every stage; null values for a stage without samples yet."""
        out: dict[str, dict[str, float | None]] = {}
        for stage in STAGES:
            pct = self.percentiles(stage)
            out[stage] = {"p50": None, "p95": None} if pct is None else {"p50": round(pct[0], 3), "p95": round(pct[1], 3)}
        return out


class RunStats:
    """Frame counters (shared with the capture thread) and latencies of one camera."""

    def __init__(self, started_s: float) -> None:
        self._lock = threading.Lock()
        self.started_s = started_s
        self.captured = 0
        self.sampled = 0
        self.dropped = 0
        self.latency = LatencyRecorder()
        self._last = (started_s, 0, 0)  # (time, captured, sampled) at the last snapshot
        self._process = psutil.Process()
        self._process.cpu_percent(interval=None)  # the first call only starts the measurement

    def count(self, *, captured: int = 0, sampled: int = 0, dropped: int = 0) -> None:
        """Add to the counters (thread-safe)."""
        with self._lock:
            self.captured += captured
            self.sampled += sampled
            self.dropped += dropped

    def snapshot(self, now_s: float, *, delegate: str, variant: str, outbox_depth: int) -> dict[str, Any]:
        """The stats payload fields of the MQTT contract (fps over the time since the last snapshot)."""
        with self._lock:
            captured, sampled, dropped = self.captured, self.sampled, self.dropped
        last_s, last_captured, last_sampled = self._last
        self._last = (now_s, captured, sampled)
        span = max(now_s - last_s, 1e-6)
        return {
            "frames": {"captured": captured, "sampled": sampled, "dropped": dropped},
            "latency_ms": self.latency.summary(),
            "delegate": delegate,
            "variant": variant,
            # Process-wide figures: with several cameras each reports the same process.
            "cpu_percent": round(self._process.cpu_percent(interval=None), 1),
            "rss_mb": round(self._process.memory_info().rss / 2**20, 1),
            "outbox_depth": outbox_depth,
            "uptime_s": round(now_s - self.started_s, 1),
            "fps": {
                "captured": round((captured - last_captured) / span, 2),
                "sampled": round((sampled - last_sampled) / span, 2),
            },
        }
