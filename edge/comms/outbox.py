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

Storage faults (the outbox must never stop the monitoring):

- A write that fails (disk full, I/O error) raises :class:`OutboxWriteError`
  with one line naming the file and the reason; the transaction is rolled back
  if SQLite has not already done so, and the next put works once space returns.
  :meth:`Outbox.free_bytes` and :meth:`Outbox.low_space` (below
  ``LOW_SPACE_BYTES``) let the caller warn before that happens.
- Every row carries a checksum (``crc``): the unsigned zlib CRC-32 of
  ``<len(topic)>:<topic>|<qos>|<retain>|<kind>|<payload>`` (topic and kind in
  UTF-8, ``len`` in bytes, qos and retain as decimal digits; ``id`` and
  ``created_ts`` are not covered). :meth:`Outbox.pending` never returns a row
  whose checksum or field types do not match: it is moved to the
  ``quarantine`` table (the newest ``QUARANTINE_KEEP`` rows are kept there for
  inspection), counted in ``Outbox.corrupted`` and logged as an error; if even
  that write fails (disk full) the row is skipped for the rest of the process.
  A file from the previous version (no ``crc`` column) gets the column on open,
  and every row without a checksum is given one then, i.e. trusted as it is.
- A file that is not a database or fails ``PRAGMA quick_check`` at open (run on
  a read-only connection, so a damaged file and its WAL are kept exactly as
  found; about 10 ms for 10000 rows on a laptop SSD) is moved aside with its
  ``-wal``/``-shm``/``-journal`` files to ``<name>.damaged-<unix time>`` (``.1``,
  ``.2``... appended if taken; ``-wal`` etc. appended after it, so SQLite opens
  the set together), an empty outbox is started and ``Outbox.recovered_from``
  names where it went, so the caller can raise an alert. Messages queued in it
  are lost to delivery but kept on disk. A path that is a directory is never
  moved: it is a :class:`~cribside.edge.errors.CribsideError`.

File modes: the outbox holds alert payloads, so a new file is created with mode
0600 before SQLite opens it (SQLite gives its ``-wal`` and ``-shm`` the mode of
the database file). An existing file (or ``-wal``/``-shm``) readable or writable
by group or others is tightened to 0600 at open and a warning names it; if it
cannot be changed (not the owner) a warning says so and the file is used as it is.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cribside.edge.errors import CribsideError

log = logging.getLogger(__name__)

KINDS = ("alert", "state", "status", "stats", "other")

LOW_SPACE_BYTES = 16 * 1024 * 1024
"""Free space on the outbox's file system below which :meth:`Outbox.low_space` is True."""

QUARANTINE_KEEP = 100
"""Corrupted rows kept in the ``quarantine`` table (the newest ones)."""

FILE_MODE = 0o600

_SIDE_FILES = ("-wal", "-shm", "-journal")

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created_ts REAL NOT NULL,
    crc INTEGER
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    topic,
    payload,
    qos,
    retain,
    kind,
    created_ts,
    crc,
    quarantined_ts REAL NOT NULL,
    reason TEXT NOT NULL
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

# Text columns are read as blobs and decoded here: a flipped byte in a topic must
# become a quarantined row, not a UnicodeDecodeError out of the sqlite3 module.
_ROW_COLUMNS = (
    "id, CAST(topic AS BLOB), CAST(payload AS BLOB), qos, retain, CAST(kind AS BLOB), created_ts, crc"
)


class OutboxWriteError(CribsideError):
    """The outbox's storage failed while in use (disk full, I/O error, damaged pages).

    Raised by :meth:`Outbox.put` and :meth:`Outbox.ack` (a write failed) and by
    :meth:`Outbox.pending`, :meth:`Outbox.depth` and :meth:`Outbox.free_bytes`
    (reading failed). The message is one line naming the file and the reason,
    e.g. ``outbox /var/lib/cribside/outbox.sqlite: cannot write: database or disk
    is full (212 KB free)``. The outbox stays usable: the next call is tried afresh.
    """


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


class _Damaged(Exception):
    """The file at hand is not a usable SQLite database (internal to :class:`Outbox`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _checksum(topic: bytes, payload: bytes, qos: int, retain: int, kind: bytes) -> int:
    """The row checksum documented in the module docstring."""
    data = b"%d:%s|%d|%d|%s|%s" % (len(topic), topic, qos, retain, kind, payload)
    return zlib.crc32(data) & 0xFFFFFFFF


def _sql_checksum(topic: object, payload: object, qos: object, retain: object, kind: object) -> int | None:
    """:func:`_checksum` as an SQL function for the migration; NULL for values of the wrong type."""
    if not (isinstance(topic, bytes) and isinstance(payload, bytes) and isinstance(kind, bytes)):
        return None
    if type(qos) is not int or type(retain) is not int:
        return None
    return _checksum(topic, payload, qos, retain, kind)


def _decode_row(row: tuple[Any, ...]) -> OutboxMessage | str:
    """The message of a row read with ``_ROW_COLUMNS``, or why the row cannot be trusted."""
    rid, topic, payload, qos, retain, kind, created_ts, crc = row
    if not (isinstance(topic, bytes) and isinstance(payload, bytes) and isinstance(kind, bytes)):
        return "a text or blob field has the wrong type"
    if type(qos) is not int or type(retain) is not int or type(created_ts) not in (int, float):
        return "a number field has the wrong type"
    if type(crc) is not int:
        return "no checksum"
    actual = _checksum(topic, payload, qos, retain, kind)
    if crc != actual:
        return f"checksum mismatch (stored {crc:#010x}, computed {actual:#010x})"
    try:
        topic_text, kind_text = topic.decode("utf-8"), kind.decode("utf-8")
    except UnicodeDecodeError:
        return "topic or kind is not UTF-8"
    if kind_text not in KINDS or qos not in (0, 1, 2) or retain not in (0, 1):
        return "kind, qos or retain out of range"
    return OutboxMessage(rid, topic_text, payload, qos, bool(retain), kind_text, float(created_ts))


def _is_damage(exc: sqlite3.Error) -> bool:
    """True when SQLite says the file is not a database or its pages are malformed."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is None:
        return type(exc) is sqlite3.DatabaseError  # CORRUPT and NOTADB map to the base class
    return (code & 0xFF) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "full" in str(exc)
    return (int(code) & 0xFF) == _SQLITE_FULL


def _side_file(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _fmt_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{n // 1024} KB"


class Outbox:
    """SQLite-backed message queue, safe to share between threads.

    Opening checks the file (``PRAGMA quick_check``) and recovers from a damaged
    one, migrates a file from the previous version and tightens its mode (see the
    module docstring).

    Args:
        path: the SQLite file (its folder is created if missing).
        max_messages: bound on queued rows (see the drop policy in the module docstring).
        sync: ``"full"`` or ``"normal"`` (SQLite ``synchronous`` mode in WAL).

    Attributes:
        path: the SQLite file.
        dropped: rows dropped by the bound, per drop step (``stats``, ``superseded``, ...).
        corrupted: rows found corrupted by :meth:`pending` (never returned) in this process.
        recovered_from: where a damaged file was moved aside at open, or None.

    Raises:
        CribsideError: the folder cannot be created, the path is a directory, the
            file cannot be opened (permissions, locked), or it is damaged and cannot
            be moved aside.
    """

    def __init__(self, path: str | Path, max_messages: int = 10000, *, sync: str = "full") -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be >= 1")
        if sync not in ("full", "normal"):
            raise ValueError("sync must be 'full' or 'normal'")
        self.path = Path(path)
        self.max_messages = max_messages
        self.dropped: dict[str, int] = {}
        self.corrupted = 0
        self.recovered_from: Path | None = None
        self._sync = sync
        self._skipped: set[int] = set()  # corrupted rows that could not be moved to quarantine
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_dir():
                raise CribsideError(f"cannot open outbox {self.path}: it is a directory")
            if self.path.exists() and not self.path.is_file():
                raise CribsideError(f"cannot open outbox {self.path}: not a regular file")
            try:
                # One connection shared by the caller's thread, the sender and paho's
                # network thread; every use is under self._lock.
                self._db = self._open()
            except _Damaged as damaged:
                self.recovered_from = self._move_aside(damaged.reason)
                try:
                    self._db = self._open()
                except _Damaged as again:
                    raise CribsideError(f"cannot open outbox {self.path}: a new outbox is damaged too: {again.reason}") from None
        except (OSError, sqlite3.Error) as exc:
            raise CribsideError(f"cannot open outbox {self.path}: {exc}") from None
        try:
            free = self.free_bytes()
        except OutboxWriteError as exc:
            log.warning("%s", exc)
        else:
            if free < LOW_SPACE_BYTES:
                log.warning(
                    "outbox %s: only %s free on its file system (below %s): new messages may fail to be stored",
                    self.path, _fmt_bytes(free), _fmt_bytes(LOW_SPACE_BYTES),
                )

    # -- opening ----------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        """Connect, check, create or migrate the schema; raises _Damaged for a damaged file."""
        if not self._create_file():
            self._tighten_mode(self.path)
            self._check()
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        try:
            db.create_function("cribside_checksum", 5, _sql_checksum, deterministic=True)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._sync.upper()}")
            db.executescript(_SCHEMA)
            self._migrate(db)
        except sqlite3.Error as exc:
            db.close()
            if _is_damage(exc):
                raise _Damaged(str(exc)) from None
            raise
        except BaseException:
            db.close()
            raise
        for suffix in ("-wal", "-shm"):
            self._tighten_mode(_side_file(self.path, suffix))
        return db

    def _check(self) -> None:
        """Raise _Damaged when the file fails ``PRAGMA quick_check``.

        The check runs on a read-only connection: closing a read-write one would
        checkpoint a damaged file's WAL into it and delete the WAL, changing what is
        kept for inspection. Errors other than damage are left to the read-write open.
        """
        uri = "file:" + urllib.parse.quote(str(self.path.absolute())) + "?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True)
        except sqlite3.Error:
            return
        try:
            problems = [str(row[0]) for row in db.execute("PRAGMA quick_check(3)")]
        except sqlite3.Error as exc:
            if _is_damage(exc):
                raise _Damaged(str(exc)) from None
            return
        finally:
            db.close()
        if problems != ["ok"]:
            raise _Damaged("quick_check: " + "; ".join(p.replace("\n", " ") for p in problems))

    def _create_file(self) -> bool:
        """Create an empty database file with mode 0600 if there is none; True if created."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
        except FileExistsError:
            return False
        try:
            os.fchmod(fd, FILE_MODE)  # exactly 0600 whatever the umask
        finally:
            os.close(fd)
        return True

    def _tighten_mode(self, path: Path) -> None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            return
        if not mode & 0o077:
            return
        try:
            os.chmod(path, FILE_MODE)
        except OSError as exc:
            log.warning("outbox file %s is accessible to group/others (mode %04o) and cannot be tightened: %s",
                        path, mode, exc.strerror or exc)
        else:
            log.warning("outbox file %s was accessible to group/others (mode %04o): changed it to 0600 "
                        "(it holds alert payloads)", path, mode)

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Add the checksum column of a previous version's file and checksum rows that have none."""
        columns = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
        if "crc" in columns:
            (unchecked,) = db.execute("SELECT EXISTS (SELECT 1 FROM messages WHERE crc IS NULL)").fetchone()
            if not unchecked:
                return
        db.execute("BEGIN IMMEDIATE")
        try:
            if "crc" not in columns:
                db.execute("ALTER TABLE messages ADD COLUMN crc INTEGER")
            n = db.execute(
                "UPDATE messages SET crc = cribside_checksum(CAST(topic AS BLOB), CAST(payload AS BLOB), qos, retain, "
                "CAST(kind AS BLOB)) WHERE crc IS NULL"
            ).rowcount
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolled back already; the original error says why
            raise
        log.info("outbox %s: added checksums to %d row(s) written without one (previous version)", self.path, n)

    def _move_aside(self, reason: str) -> Path:
        """Rename the damaged file and its side files to ``<name>.damaged-<unix time>``; returns the new path."""
        stamp = int(time.time())
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 0
        while any(_side_file(target, s).exists() for s in ("", *_SIDE_FILES)):
            n += 1
            target = self.path.with_name(f"{self.path.name}.damaged-{stamp}.{n}")
        try:
            # Side files first: a WAL left behind would be replayed into the new, empty database.
            for suffix in (*_SIDE_FILES, ""):
                source = _side_file(self.path, suffix)
                if source.exists():
                    os.replace(source, _side_file(target, suffix))
        except OSError as exc:
            raise CribsideError(
                f"cannot open outbox {self.path}: the file is damaged ({reason}) and cannot be moved aside: {exc}"
            ) from None
        log.error("outbox %s is damaged (%s): moved it to %s and started an empty outbox; "
                  "messages queued in it will not be sent", self.path, reason, target)
        return target

    # -- storage errors ---------------------------------------------------------------------------

    def _storage_error(self, action: str, exc: BaseException) -> OutboxWriteError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = f"outbox {self.path}: {action}: {reason}"
        if _is_full(exc):
            try:
                message += f" ({_fmt_bytes(shutil.disk_usage(self.path.parent).free)} free)"
            except OSError:
                pass
        return OutboxWriteError(message)

    def _rollback(self) -> None:
        """Roll back an open transaction; SQLite may already have rolled it back (disk full, I/O error)."""
        if not self._db.in_transaction:
            return
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.debug("outbox %s: rollback failed: %s", self.path, exc)

    # -- queue ------------------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes, qos: int, retain: bool, kind: str) -> int:
        """Queue a message durably (committed before returning); returns its row id.

        Drops older rows by the documented policy when the outbox is full.

        Raises:
            ValueError: unknown ``kind``.
            OutboxWriteError: the row cannot be written (disk full, I/O error);
                nothing was queued or dropped.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}; expected one of {KINDS}")
        data, qos, flag = bytes(payload), int(qos), int(bool(retain))
        crc = _checksum(topic.encode("utf-8"), data, qos, flag, kind.encode("utf-8"))
        with self._lock:
            try:
                self._rollback()  # left open only if an earlier rollback failed
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    drops = self._make_room()
                    cur = self._db.execute(
                        "INSERT INTO messages (topic, payload, qos, retain, kind, created_ts, crc) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (topic, data, qos, flag, kind, time.time(), crc),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except (sqlite3.Error, OSError) as exc:
                raise self._storage_error("cannot write", exc) from exc
            for step, dropped_topic in drops:
                self.dropped[step] = self.dropped.get(step, 0) + 1
                level = logging.ERROR if step == "alert" else logging.WARNING
                log.log(level, "outbox full (%d): dropped the oldest %s message on %s", self.max_messages, step, dropped_topic)
            return int(cur.lastrowid or 0)

    def _make_room(self) -> list[tuple[str, str]]:
        """Delete rows by the drop policy (inside put's transaction); returns (step, topic) per row."""
        drops: list[tuple[str, str]] = []
        (depth,) = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
        while depth >= self.max_messages:
            for step, where in _DROP_STEPS:
                row = self._db.execute(
                    f"SELECT id, CAST(topic AS BLOB) FROM messages WHERE {where} ORDER BY id LIMIT 1"
                ).fetchone()
                if row is not None:
                    self._db.execute("DELETE FROM messages WHERE id = ?", (row[0],))
                    topic = row[1].decode("utf-8", "replace") if isinstance(row[1], bytes) else str(row[1])
                    drops.append((step, topic))
                    break
            depth -= 1
        return drops

    def pending(self, limit: int = 100, *, after_id: int = 0, topic_prefix: str | None = None) -> list[OutboxMessage]:
        """Queued messages in order (oldest first), optionally after a row id and under a topic prefix.

        Each row's checksum is verified; a corrupted row is never returned: it is
        moved to the ``quarantine`` table, counted in :attr:`corrupted` and logged
        (the list is then filled up from the following rows).

        Raises:
            OutboxWriteError: the rows cannot be read.
        """
        sql = f"SELECT {_ROW_COLUMNS} FROM messages WHERE id > ?"
        extra: list[object] = []
        if topic_prefix is not None:
            # substr, not LIKE: '_' in device ids would be a LIKE wildcard.
            sql += " AND substr(topic, 1, ?) = ?"
            extra = [len(topic_prefix), topic_prefix]
        sql += " ORDER BY id LIMIT ?"
        messages: list[OutboxMessage] = []
        cursor = after_id
        with self._lock:
            while len(messages) < limit:
                want = limit - len(messages)
                try:
                    rows = self._db.execute(sql, [cursor, *extra, int(want)]).fetchall()
                except sqlite3.Error as exc:
                    raise self._storage_error("cannot read", exc) from exc
                for row in rows:
                    cursor = row[0]
                    if row[0] in self._skipped:
                        continue
                    message = _decode_row(row)
                    if isinstance(message, OutboxMessage):
                        messages.append(message)
                    else:
                        self._quarantine(row[0], message)
                if len(rows) < want:
                    break
        return messages

    def _quarantine(self, row_id: int, reason: str) -> None:
        """Move a corrupted row out of the queue (under the lock)."""
        self.corrupted += 1
        try:
            self._rollback()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO quarantine "
                    "(id, topic, payload, qos, retain, kind, created_ts, crc, quarantined_ts, reason) "
                    "SELECT id, topic, payload, qos, retain, kind, created_ts, crc, ?, ? FROM messages WHERE id = ?",
                    (time.time(), reason, row_id),
                )
                self._db.execute("DELETE FROM messages WHERE id = ?", (row_id,))
                self._db.execute(
                    "DELETE FROM quarantine WHERE id NOT IN (SELECT id FROM quarantine ORDER BY id DESC LIMIT ?)",
                    (QUARANTINE_KEEP,),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            self._skipped.add(row_id)
            log.error("outbox %s: row %d is corrupted (%s) and cannot be moved to quarantine (%s): "
                      "skipped, never sent", self.path, row_id, reason, exc)
            return
        log.error("outbox %s: row %d is corrupted (%s): moved to the quarantine table, never sent",
                  self.path, row_id, reason)

    def ack(self, message_id: int) -> None:
        """Forget a message the broker has acknowledged.

        Raises:
            OutboxWriteError: the row cannot be deleted (it is then sent again after a restart).
        """
        with self._lock:
            try:
                self._rollback()
                self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            except sqlite3.Error as exc:
                raise self._storage_error(f"cannot delete acknowledged row {message_id}", exc) from exc
            self._skipped.discard(message_id)

    def depth(self, *, topic_prefix: str | None = None) -> int:
        """Number of queued messages (optionally under a topic prefix).

        Raises:
            OutboxWriteError: the rows cannot be counted.
        """
        with self._lock:
            try:
                if topic_prefix is None:
                    (n,) = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
                else:
                    (n,) = self._db.execute(
                        "SELECT COUNT(*) FROM messages WHERE substr(topic, 1, ?) = ?", (len(topic_prefix), topic_prefix)
                    ).fetchone()
            except sqlite3.Error as exc:
                raise self._storage_error("cannot read", exc) from exc
        return int(n)

    # -- free space -------------------------------------------------------------------------------

    def free_bytes(self) -> int:
        """Bytes free (for this user) on the file system holding the outbox.

        Raises:
            OutboxWriteError: the file system cannot be queried.
        """
        try:
            return int(shutil.disk_usage(self.path.parent).free)
        except OSError as exc:
            raise self._storage_error("cannot read free space", exc) from exc

    def low_space(self) -> bool:
        """True when :meth:`free_bytes` is below ``LOW_SPACE_BYTES`` (writes may soon fail)."""
        return self.free_bytes() < LOW_SPACE_BYTES

    def close(self) -> None:
        """Close the database (pending rows stay on disk for the next run)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
