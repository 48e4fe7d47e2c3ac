"""Storage faults of the outbox, reproduced on real files with real SQLite: none may stop the monitoring.

- a full disk (a 600 KB tmpfs, mounted when running as root): a clear OutboxWriteError,
  nothing lost or dropped, and the next put works once space returns;
- a flipped byte in a stored row: never delivered, quarantined and counted;
- a damaged file at open (random bytes, an overwritten page, truncated, a text file):
  moved aside, a working empty outbox, ``recovered_from`` set;
- file modes (0600) and the migration of a previous version's file.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.storage import fill

from cribside.edge.comms import outbox as outbox_module
from cribside.edge.comms.outbox import LOW_SPACE_BYTES, Outbox, OutboxWriteError
from cribside.edge.errors import CribsideError

LOGGER = "cribside.edge.comms.outbox"


def put(box: Outbox, body: str, topic: str = "p/d/alerts") -> int:
    return box.put(topic, body.encode(), 1, False, "alert")


def bodies(box: Outbox) -> list[str]:
    return [m.payload.decode() for m in box.pending(10_000)]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def quarantined(path: Path) -> list[tuple[int, bytes, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, payload, reason FROM quarantine ORDER BY id").fetchall()


# -- (a) disk full ------------------------------------------------------------------------------


def test_disk_full_put_is_a_clear_error_and_the_next_put_works_once_space_returns(tiny_fs: Path, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    path = tiny_fs / "outbox.sqlite"
    box = Outbox(path, 1000)
    for i in range(3):
        put(box, f"a{i}")
    filler = tiny_fs / "filler"
    fill(filler)

    with pytest.raises(OutboxWriteError) as caught:
        box.put("p/d/alerts", b"y" * 3000, 1, False, "alert")
    message = str(caught.value)
    assert type(caught.value) is OutboxWriteError and isinstance(caught.value, CribsideError)
    assert message.startswith(f"outbox {path}: cannot write: ") and "full" in message
    assert "rollback" not in message and "\n" not in message
    with pytest.raises(OutboxWriteError, match="cannot delete acknowledged row"):
        box.ack(1)
    assert bodies(box) == ["a0", "a1", "a2"] and box.depth() == 3 and box.dropped == {}
    assert box.low_space() and box.free_bytes() < 4096 < LOW_SPACE_BYTES
    assert any("free" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    # Restarting on the full disk still opens (nothing to write to open an existing outbox).
    box.close()
    box = Outbox(path, 1000)
    assert bodies(box) == ["a0", "a1", "a2"]
    with pytest.raises(OutboxWriteError):
        put(box, "still full")

    filler.unlink()
    assert not box.low_space() or box.free_bytes() > 500 * 1024
    new_id = put(box, "after")
    assert bodies(box) == ["a0", "a1", "a2", "after"]
    box.ack(1)
    box.close()
    with Outbox(path, 1000) as box:
        assert bodies(box) == ["a1", "a2", "after"] and box.pending()[-1].id == new_id


def test_disk_full_put_drops_nothing_at_the_bound(tiny_fs: Path):
    path = tiny_fs / "outbox.sqlite"
    with Outbox(path, 3) as box:
        box.put("p/d/stats", b"s0", 0, False, "stats")
        put(box, "a0")
        put(box, "a1")
        filler = tiny_fs / "filler"
        fill(filler)
        with pytest.raises(OutboxWriteError):
            put(box, "lost")
        assert box.dropped == {} and bodies(box) == ["s0", "a0", "a1"]
        filler.unlink()
        put(box, "a2")
        assert box.dropped == {"stats": 1} and bodies(box) == ["a0", "a1", "a2"]


def test_corrupted_row_on_a_full_disk_is_skipped_not_sent(tiny_fs: Path, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    path = tiny_fs / "outbox.sqlite"
    with Outbox(path, 100) as box:
        ids = [put(box, f"a{i}") for i in range(3)]
        with sqlite3.connect(path) as db:
            db.execute("UPDATE messages SET payload = ? WHERE id = ?", (b"a9", ids[1]))
        fill(tiny_fs / "filler")
        assert bodies(box) == ["a0", "a2"]  # the quarantine write fails: the row is skipped
        assert bodies(box) == ["a0", "a2"] and box.corrupted == 1
        assert any(f"row {ids[1]} " in r.getMessage() for r in caplog.records)


# -- (b) a flipped byte in a stored row ---------------------------------------------------------


def test_row_changed_behind_the_outbox_is_quarantined_not_sent(tmp_path: Path, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    path = tmp_path / "o.sqlite"
    with Outbox(path, 100) as box:
        ids = [put(box, f"a{i}") for i in range(6)]
        with sqlite3.connect(path) as db:  # payload changed, crc left as it was
            db.execute("UPDATE messages SET payload = ? WHERE id = ?", (b"a1-changed", ids[1]))
        # limit 3: the two good rows before it and the next one after it
        assert [m.payload for m in box.pending(3)] == [b"a0", b"a2", b"a3"]
        assert box.corrupted == 1 and box.depth() == 5
        assert bodies(box) == ["a0", "a2", "a3", "a4", "a5"] and box.corrupted == 1
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and f"row {ids[1]} " in errors[0] and "checksum" in errors[0]
    rows = quarantined(path)
    assert [(r[0], r[1]) for r in rows] == [(ids[1], b"a1-changed")] and "checksum" in rows[0][2]


def test_byte_flipped_on_disk_is_never_delivered(tmp_path: Path):
    path = tmp_path / "o.sqlite"
    with Outbox(path, 100) as box:
        for i in range(5):
            put(box, f"message-{i}-" + "z" * 40)
    data = bytearray(path.read_bytes())
    at = data.index(b"message-2-")
    assert data.count(b"message-2-") == 1
    data[at + 8] ^= 0x01  # '-' -> ','
    path.write_bytes(bytes(data))
    with Outbox(path, 100) as box:
        assert box.recovered_from is None  # the pages are sound: only the row's checksum sees it
        got = bodies(box)
        assert got == [f"message-{i}-" + "z" * 40 for i in (0, 1, 3, 4)]
        assert box.corrupted == 1 and box.depth() == 4


def test_topic_that_is_no_longer_utf8_is_quarantined(tmp_path: Path):
    path = tmp_path / "o.sqlite"
    with Outbox(path, 100) as box:
        ids = [put(box, f"a{i}") for i in range(3)]
        with sqlite3.connect(path) as db:
            db.execute("UPDATE messages SET topic = CAST(x'702f64ff2f616c65727473' AS TEXT) WHERE id = ?", (ids[0],))
        assert bodies(box) == ["a1", "a2"] and box.corrupted == 1
        assert box.depth(topic_prefix="p/d/") == 2


def test_quarantine_keeps_the_newest_rows(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(outbox_module, "QUARANTINE_KEEP", 2)
    path = tmp_path / "o.sqlite"
    with Outbox(path, 100) as box:
        ids = [put(box, f"a{i}") for i in range(5)]
        with sqlite3.connect(path) as db:
            db.execute("UPDATE messages SET crc = crc + 1 WHERE id != ?", (ids[2],))
        assert bodies(box) == ["a2"] and box.corrupted == 4
    assert [r[0] for r in quarantined(path)] == [ids[3], ids[4]]


# -- (c) a damaged file at open -----------------------------------------------------------------


def _valid_outbox(path: Path) -> None:
    with Outbox(path, 10_000) as box:
        for i in range(400):
            put(box, f"m{i:04d}-" + "x" * 200)


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(64 * 1024))


def _page_overwritten(path: Path) -> None:
    _valid_outbox(path)
    pages = path.stat().st_size // 4096
    with open(path, "r+b") as f:
        f.seek(pages // 2 * 4096)
        f.write(random.Random(2).randbytes(4096))


def _truncated(path: Path) -> None:
    _valid_outbox(path)
    os.truncate(path, path.stat().st_size // 2)


def _text_file(path: Path) -> None:
    path.write_text("outbox:\n  path: /var/lib/cribside/outbox.sqlite\n")


DAMAGES: dict[str, Callable[[Path], None]] = {
    "random-bytes": _random_bytes,
    "page-overwritten": _page_overwritten,
    "truncated": _truncated,
    "text-file": _text_file,
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_file_is_moved_aside_and_a_fresh_outbox_works(tmp_path: Path, damage: str, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    path = tmp_path / "outbox.sqlite"
    DAMAGES[damage](path)
    original = path.read_bytes()
    with Outbox(path, 100) as box:
        moved = box.recovered_from
        assert moved is not None and moved.parent == tmp_path
        assert moved.name.startswith("outbox.sqlite.damaged-") and moved.name.split("-")[-1].isdigit()
        assert moved.read_bytes() == original  # kept for inspection
        assert box.depth() == 0 and box.corrupted == 0
        put(box, "fresh")
        assert bodies(box) == ["fresh"]
        assert mode_of(path) == 0o600
        assert any(str(path) in r.getMessage() and str(moved) in r.getMessage() for r in caplog.records)
    with Outbox(path, 100) as box:
        assert box.recovered_from is None and bodies(box) == ["fresh"]


def test_damaged_file_takes_its_side_files_along(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    _text_file(path)
    side = {suffix: random.Random(suffix).randbytes(8192) for suffix in ("-wal", "-shm")}
    for suffix, data in side.items():
        Path(f"{path}{suffix}").write_bytes(data)
    with Outbox(path, 100) as box:
        assert box.recovered_from is not None
        # Moved with the database, so SQLite opens the set together; the WAL as it was
        # (the -shm is only an index SQLite rebuilds from the WAL).
        assert Path(f"{box.recovered_from}-wal").read_bytes() == side["-wal"]
        assert Path(f"{box.recovered_from}-shm").is_file()
        put(box, "fresh")
        assert bodies(box) == ["fresh"]


def test_damaged_file_and_its_wal_are_kept_as_they_were(tmp_path: Path):
    # A crash image: rows checkpointed into the file, newer rows only in the WAL; then a
    # page of the file (one the WAL does not cover) is overwritten. The check must not
    # checkpoint the WAL into the damaged file nor delete it.
    live = tmp_path / "live.sqlite"
    db = sqlite3.connect(live, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x BLOB)")
    for i in range(200):
        db.execute("INSERT INTO t VALUES (?)", (random.Random(i).randbytes(300),))
    db.execute("PRAGMA wal_checkpoint")
    for _ in range(50):
        db.execute("INSERT INTO t VALUES (?)", (b"w" * 300,))
    path = tmp_path / "outbox.sqlite"
    shutil.copy(live, path)
    shutil.copy(Path(f"{live}-wal"), Path(f"{path}-wal"))
    db.close()
    with open(path, "r+b") as f:
        f.seek(5 * 4096)
        f.write(random.Random(3).randbytes(4096))
    damaged, wal = path.read_bytes(), Path(f"{path}-wal").read_bytes()
    with Outbox(path, 100) as box:
        assert box.recovered_from is not None and bodies(box) == []
        assert box.recovered_from.read_bytes() == damaged
        assert Path(f"{box.recovered_from}-wal").read_bytes() == wal


def test_two_recoveries_keep_both_files(tmp_path: Path):
    path = tmp_path / "outbox.sqlite"
    moved = []
    for text in ("first", "second"):
        path.write_text(text)
        with Outbox(path, 10) as box:
            moved.append(box.recovered_from)
    assert moved[0] != moved[1] and [p.read_text() for p in moved] == ["first", "second"]


def test_path_that_is_a_directory_is_a_clear_error_and_left_alone(tmp_path: Path):
    folder = tmp_path / "outbox.sqlite"
    folder.mkdir()
    (folder / "keep").write_text("user data")
    with pytest.raises(CribsideError) as caught:
        Outbox(folder, 10)
    assert str(caught.value) == f"cannot open outbox {folder}: it is a directory"
    assert (folder / "keep").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outbox.sqlite"]


# -- (d) file modes -----------------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_new_outbox_files_are_private(tmp_path: Path, umask_022):
    path = tmp_path / "new" / "o.sqlite"
    with Outbox(path, 10) as box:
        put(box, "secret")
        for name in ("o.sqlite", "o.sqlite-wal", "o.sqlite-shm"):
            assert mode_of(path.parent / name) == 0o600, name


def test_readable_existing_outbox_is_tightened_and_logged(tmp_path: Path, umask_022, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    path = tmp_path / "o.sqlite"
    with Outbox(path, 10) as box:
        put(box, "secret")
    os.chmod(path, 0o644)
    with Outbox(path, 10) as box:
        assert mode_of(path) == 0o600 and bodies(box) == ["secret"]
        assert mode_of(Path(f"{path}-wal")) == 0o600
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "0644" in r.getMessage()]
    assert len(warnings) == 1 and str(path) in warnings[0]


# -- (e) a previous version's file --------------------------------------------------------------

_OLD_SCHEMA = """
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


def test_previous_version_file_is_migrated_and_its_rows_come_out(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "o.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_OLD_SCHEMA)
        db.execute("INSERT INTO messages (topic, payload, qos, retain, kind, created_ts) VALUES (?, ?, ?, ?, ?, ?)",
                   ("p/d/state", b'{"state":"calm"}', 1, 1, "state", 1700000000.5))
        db.execute("INSERT INTO messages (topic, payload, qos, retain, kind, created_ts) VALUES (?, ?, ?, ?, ?, ?)",
                   ("p/d/alerts", b'{"alert":"cry"}', 1, 0, "alert", 1700000001.0))
    db.close()
    with Outbox(path, 100) as box:
        assert box.recovered_from is None
        msgs = box.pending()
        assert [(m.id, m.topic, m.payload, m.qos, m.retain, m.kind, m.created_ts) for m in msgs] == [
            (1, "p/d/state", b'{"state":"calm"}', 1, True, "state", 1700000000.5),
            (2, "p/d/alerts", b'{"alert":"cry"}', 1, False, "alert", 1700000001.0),
        ]
        assert put(box, "new") == 3 and box.corrupted == 0
    assert any("checksums to 2 row(s)" in r.getMessage() for r in caplog.records)
    with sqlite3.connect(path) as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(messages)")]
        assert "crc" in columns
        assert db.execute("SELECT COUNT(*) FROM messages WHERE crc IS NULL").fetchone()[0] == 0
        db.execute("UPDATE messages SET payload = ? WHERE id = 2", (b'{"alert":"cri"}',))
    db.close()
    with Outbox(path, 100) as box:  # the migrated checksums protect the old rows too
        assert [m.id for m in box.pending()] == [1, 3] and box.corrupted == 1
