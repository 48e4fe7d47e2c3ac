"""A disk-backed, bounded, ordered queue of MQTT messages: nothing leaves before the broker has it.

Messages are rows of an SQLite table in WAL mode, written (committed) before
:meth:`Outbox.put` returns. The publisher sends pending rows in id order and
calls :meth:`Outbox.ack` only when the broker's PUBACK arrives, so a broker
outage, a lost network or a killed process loses nothing: the next process
replays whatever is still here, in order (a consumer may then see a message
twice and drops the duplicate by its ``msg_id``).

Durability: ``synchronous=FULL`` (default) fsyncs the WAL on every commit, so a
message survives a power cut as well as a killed process; messages are a few per
second at most, and one fsync costs a few milliseconds even on an SD card.
``synchronous=NORMAL`` survives a killed process but may lose the last commits
on power loss; it is offered for slow storage.

Bound and drop policy, when a put would exceed ``max_messages`` (oldest first in
each step, one row per step until there is room):

1. ``stats`` messages (best effort by nature);
2. superseded retained messages: an older ``state`` or ``status`` with a newer
   one queued on the same topic (the broker would replace it anyway);
3. ``status``, then 4. ``state``;
5. ``alert`` messages only when nothing else remains (logged as an error).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cribside.edge.errors import CribsideError

log = logging.getLogger(__name__)

KINDS = ("alert", "state", "status", "stats", "other")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created_ts REAL NOT NULL
);
"""

# Each step deletes the oldest row matching its WHERE clause (see module docstring).
_DROP_STEPS = (
    ("stats", "kind = 'stats'"),
    ("other", "kind = 'other'"),
    (
        "superseded",
        "kind IN ('state', 'status') AND retain = 1 AND EXISTS "
        "(SELECT 1 FROM messages AS newer WHERE newer.topic = messages.topic AND newer.id > messages.id)",
    ),
    ("status", "kind = 'status'"),
    ("state", "kind = 'state'"),
    ("alert", "1 = 1"),
)


@dataclass(frozen=True)
class OutboxMessage:
    """One queued message, as stored."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: str
    created_ts: float


class Outbox:
    """SQLite-backed message queue, safe to share between threads.

    Args:
        path: the SQLite file (its folder is created if missing).
        max_messages: bound on queued rows (see the drop policy in the module docstring).
        sync: ``"full"`` or ``"normal"`` (SQLite ``synchronous`` mode in WAL).

    Raises:
        CribsideError: the file cannot be created or opened as a database.
    """

    def __init__(self, path: str | Path, max_messages: int = 10000, *, sync: str = "full") -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be >= 1")
        if sync not in ("full", "normal"):
            raise ValueError("sync must be 'full' or 'normal'")
        self.path = Path(path)
        self.max_messages = max_messages
        self.dropped: dict[str, int] = {}
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection shared by the caller's thread, the sender and paho's
            # network thread; every use is under self._lock.
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={sync.upper()}")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise CribsideError(f"cannot open outbox {self.path}: {exc}") from None

    def put(self, topic: str, payload: bytes, qos: int, retain: bool, kind: str) -> int:
        """Queue a message durably (committed before returning); returns its row id.

        Drops older rows by the documented policy when the outbox is full.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}; expected one of {KINDS}")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._make_room()
                cur = self._db.execute(
                    "INSERT INTO messages (topic, payload, qos, retain, kind, created_ts) VALUES (?, ?, ?, ?, ?, ?)",
                    (topic, bytes(payload), int(qos), int(bool(retain)), kind, time.time()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return int(cur.lastrowid or 0)

    def _make_room(self) -> None:
        (depth,) = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
        while depth >= self.max_messages:
            for step, where in _DROP_STEPS:
                row = self._db.execute(f"SELECT id, topic FROM messages WHERE {where} ORDER BY id LIMIT 1").fetchone()
                if row is not None:
                    self._db.execute("DELETE FROM messages WHERE id = ?", (row[0],))
                    self.dropped[step] = self.dropped.get(step, 0) + 1
                    level = logging.ERROR if step == "alert" else logging.WARNING
                    log.log(level, "outbox full (%d): dropped the oldest %s message on %s", self.max_messages, step, row[1])
                    break
            depth -= 1

    def pending(self, limit: int = 100, *, after_id: int = 0, topic_prefix: str | None = None) -> list[OutboxMessage]:
        """Queued messages in order (oldest first), optionally after a row id and under a topic prefix."""
        sql = "SELECT id, topic, payload, qos, retain, kind, created_ts FROM messages WHERE id > ?"
        params: list[object] = [after_id]
        if topic_prefix is not None:
            # substr, not LIKE: '_' in device ids would be a LIKE wildcard.
            sql += " AND substr(topic, 1, ?) = ?"
            params += [len(topic_prefix), topic_prefix]
        sql += " ORDER BY id LIMIT ?"
        params.append(int(limit))
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [OutboxMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5], r[6]) for r in rows]

    def ack(self, message_id: int) -> None:
        """Forget a message the broker has acknowledged."""
        with self._lock:
            self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def depth(self, *, topic_prefix: str | None = None) -> int:
        """Number of queued messages (optionally under a topic prefix)."""
        with self._lock:
            if topic_prefix is None:
                (n,) = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
            else:
                (n,) = self._db.execute(
                    "SELECT COUNT(*) FROM messages WHERE substr(topic, 1, ?) = ?", (len(topic_prefix), topic_prefix)
                ).fetchone()
        return int(n)

    def close(self) -> None:
        """Close the database (pending rows stay on disk for the next run)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
