"""What a person sees in the terminal, and the per-window results file.

The machine-readable side is the publisher (MQTT, or ``NullPublisher`` without a broker).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol, TextIO

from cribside.edge.display.views import state_key
from cribside.edge.errors import CribsideError
from cribside.edge.face.pose import NOT_CLASSIFIED


def _clock(t_s: float | None, wall_ts: float | None) -> str:
    if t_s is None:
        return time.strftime("%H:%M:%S", time.localtime(wall_ts))
    minutes, seconds = divmod(max(t_s, 0.0), 60.0)
    return f"{int(minutes):02d}:{seconds:04.1f}"


class ConsolePrinter:
    """One readable line per alert event, state change and status change.

    Times are media time (mm:ss.s) for files, so a demo run shows where in the
    video things happened, and the local time of day for cameras.
    """

    def __init__(self, stream: TextIO | None = None, *, show_stats: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.show_stats = show_stats
        self._lock = threading.Lock()
        self._last_state: dict[str, tuple[Any, ...]] = {}

    def show(self, device_id: str, kind: str, payload: dict[str, Any], *, t_s: float | None = None,
             wall_ts: float | None = None) -> None:
        """Print ``payload`` if a person would want to see it.

        Args:
            t_s: media time (files); when None, ``wall_ts`` is shown as a time of day.
        """
        line = getattr(self, f"_{kind}")(device_id, payload)
        if line:
            with self._lock:
                print(f"[{_clock(t_s, wall_ts)}] {device_id:<10} {line}", file=self.stream, flush=True)

    def _alert(self, device_id: str, p: dict[str, Any]) -> str:
        peaks = " ".join(f"{k}={v:.2f}" for k, v in p["peak"].items() if v > 0)
        flags = (" acknowledged" if p["acknowledged"] else "") + (" snoozed" if p["snoozed_until"] else "")
        return (
            f"ALERT {p['event'].upper():<6} {p['level']:<13} episode {p['episode_id']} "
            f"{p['duration_s']:.1f}s{(' peak ' + peaks) if peaks else ''}{flags}"
        )

    def _state(self, device_id: str, p: dict[str, Any]) -> str | None:
        key = state_key(p)
        if self._last_state.get(device_id) == key:
            return None
        self._last_state[device_id] = key

        def fmt(part: dict[str, Any]) -> str:
            prob = part["p"][part["label"]] if part["p"] and part["label"] in part["p"] else None
            return str(part["label"]) + (f" ({prob:.2f})" if prob is not None else "")

        face = (p["pose"].upper() if p.get("pose") in NOT_CLASSIFIED else "face") if p["face_visible"] else "NO FACE"
        signal = " NO SIGNAL" if p.get("no_signal") and p["alert_level"] != "no_signal" else ""
        caregiver = " +CAREGIVER" if p.get("caregiver_present") else ""
        return (f"state  {face:<7} cry {fmt(p['cry']):<12} pain {fmt(p['pain']):<16} alert {p['alert_level']}"
                f"{signal}{caregiver}")

    def _status(self, device_id: str, p: dict[str, Any]) -> str:
        return f"status {p['capture']}: {p['reason']}"

    def _stats(self, device_id: str, p: dict[str, Any]) -> str | None:
        if not self.show_stats:
            return None
        total = p["latency_ms"].get("total", {})
        return (
            f"stats  frames {p['frames']} fps {p['fps']} total p50 {(total.get('p50') or 0):.1f} ms "
            f"cpu {p['cpu_percent']}% rss {p['rss_mb']} MB"
        )


class ResultsSink(Protocol):
    """Where the per-frame result rows go: a JSONL file (:class:`ResultsWriter`) or memory (:class:`MemoryResults`)."""

    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class MemoryResults:
    """Result rows kept in memory, in order (``replay``: no file to write and parse back)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def write(self, row: dict[str, Any]) -> None:
        """Keep one row (thread-safe: every camera of a device shares the sink)."""
        with self._lock:
            self.rows.append(row)

    def close(self) -> None:
        """Nothing to release."""


class ResultsWriter:
    """``--results OUT.jsonl``: one JSON line per sampled frame, shared by every camera."""

    def __init__(self, path: Path) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # 0600: the results describe a patient; other users of the machine have no business reading them.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            self._file = os.fdopen(fd, "w", encoding="utf-8")
        except OSError as exc:
            raise CribsideError(f"cannot write results file {path}: {exc.strerror}") from None
        self._lock = threading.Lock()

    def write(self, row: dict[str, Any]) -> None:
        """Append one row and flush (a killed run keeps what it wrote)."""
        with self._lock:
            self._file.write(json.dumps(row, separators=(",", ":")) + "\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()
