"""The open-episode journal: an alert episode open when the process dies still gets its ``end``.

An episode's ``end`` is sent by the process that saw it end. If that process is
killed, loses power or crashes, nurse stations would keep a ``start`` without
an ``end`` for ever. Each camera loop therefore writes the episodes it has
announced and not yet ended to a small JSON file beside the outbox (atomic
replace, mode 0600) whenever that set changes; the next boot reads it and
sends, for each, an ``end`` with ``reason: "restart"`` before watching again.

Writes happen on episode start and end only (a few a day). A write that fails
(full or read-only disk) is logged and retried at the next change; it never
stops monitoring.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EpisodeJournal:
    """Open episodes per device id, kept in one JSON file.

    Args:
        path: the journal file (``<outbox>.episodes.json`` by default).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._open: dict[str, list[dict[str, Any]]] = self._read()
        self._failed = False

    def _read(self) -> dict[str, list[dict[str, Any]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("episode journal %s is unreadable (%s): episodes open at the last stop cannot be closed", self.path, exc)
            return {}
        if not isinstance(data, dict):
            log.error("episode journal %s is not a JSON object: ignored", self.path)
            return {}
        return {str(k): [r for r in v if isinstance(r, dict) and "episode_id" in r] for k, v in data.items() if isinstance(v, list)}

    def left_open(self, device_id: str) -> list[dict[str, Any]]:
        """Episodes the previous process announced for this device and never ended."""
        with self._lock:
            return list(self._open.get(device_id, []))

    def record(self, device_id: str, episodes: list[dict[str, Any]]) -> None:
        """Replace this device's open episodes (written at once if they changed)."""
        with self._lock:
            if self._open.get(device_id, []) == episodes and not self._failed:
                return
            self._open[device_id] = list(episodes)
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({k: v for k, v in self._open.items() if v}, f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            if not self._failed:
                log.error("cannot write episode journal %s: %s (retried at the next episode change)", self.path, exc.strerror or exc)
            self._failed = True
            return
        if self._failed:
            log.info("episode journal %s written again", self.path)
        self._failed = False


def restart_end(record: dict[str, Any], now_ts: float) -> dict[str, Any]:
    """The ``end`` alert payload that closes an episode left open by a previous process."""
    started = float(record.get("started_ts") or now_ts)
    return {
        "event": "end",
        "episode_id": str(record["episode_id"]),
        "type": str(record.get("type", "distress")),
        "level": str(record.get("level", "cry")),
        "peak": {k: float(v) for k, v in dict(record.get("peak") or {}).items()},
        "started_ts": started,
        "ended_ts": now_ts,
        "duration_s": round(max(0.0, now_ts - started), 3),
        "acknowledged": bool(record.get("acknowledged", False)),
        "snoozed_until": None,
        "reason": "restart",
    }
