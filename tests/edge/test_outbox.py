"""The durable outbox: order, durability across reopen and SIGKILL, bound and drop policy."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from cribside.edge.comms.outbox import Outbox
from cribside.edge.errors import CribsideError


def put(box: Outbox, kind: str, topic: str, body: str) -> int:
    return box.put(topic, body.encode(), 0 if kind == "stats" else 1, kind in ("state", "status"), kind)


def bodies(box: Outbox) -> list[str]:
    return [m.payload.decode() for m in box.pending(10_000)]


def test_pending_in_order_and_ack_removes(tmp_path):
    with Outbox(tmp_path / "o.sqlite", 100) as box:
        ids = [put(box, "alert", "p/d/alerts", f"a{i}") for i in range(5)]
        assert ids == sorted(ids) and box.depth() == 5
        assert bodies(box) == [f"a{i}" for i in range(5)]
        box.ack(ids[1])
        assert bodies(box) == ["a0", "a2", "a3", "a4"]
        assert [m.id for m in box.pending(2, after_id=ids[2])] == ids[3:5]


def test_wal_mode_and_survives_reopen(tmp_path):
    path = tmp_path / "o.sqlite"
    with Outbox(path, 100) as box:
        put(box, "alert", "p/d/alerts", "kept")
        put(box, "state", "p/d/state", "s")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Outbox(path, 100) as box:
        msgs = box.pending()
        assert [(m.payload, m.qos, m.retain, m.kind) for m in msgs] == [(b"kept", 1, False, "alert"), (b"s", 1, True, "state")]


def test_topic_prefix_filter_is_literal(tmp_path):
    # '_' is a LIKE wildcard: crib_1 must not match crib-1's rows.
    with Outbox(tmp_path / "o.sqlite", 100) as box:
        put(box, "alert", "p/crib-1/alerts", "dash")
        put(box, "alert", "p/crib_1/alerts", "underscore")
        assert [m.payload for m in box.pending(topic_prefix="p/crib_1/")] == [b"underscore"]
        assert box.depth(topic_prefix="p/crib-1/") == 1


def test_drop_policy_stats_then_superseded_then_status_then_state_then_alerts(tmp_path):
    with Outbox(tmp_path / "o.sqlite", 6) as box:
        put(box, "alert", "p/d/alerts", "alert0")
        put(box, "state", "p/d/state", "state-old")
        put(box, "status", "p/d/status", "status0")
        put(box, "stats", "p/d/stats", "stats0")
        put(box, "state", "p/d/state", "state-new")
        put(box, "alert", "p/d/alerts", "alert1")
        expected_after = [
            ("alert2", {"stats": 1}, ["alert0", "state-old", "status0", "state-new", "alert1", "alert2"]),
            ("alert3", {"superseded": 1}, ["alert0", "status0", "state-new", "alert1", "alert2", "alert3"]),
            ("alert4", {"status": 1}, ["alert0", "state-new", "alert1", "alert2", "alert3", "alert4"]),
            ("alert5", {"state": 1}, ["alert0", "alert1", "alert2", "alert3", "alert4", "alert5"]),
            ("alert6", {"alert": 1}, ["alert1", "alert2", "alert3", "alert4", "alert5", "alert6"]),
        ]
        for body, dropped_now, remaining in expected_after:
            before = dict(box.dropped)
            put(box, "alert", "p/d/alerts", body)
            assert bodies(box) == remaining
            step = next(iter(dropped_now))
            assert box.dropped.get(step, 0) == before.get(step, 0) + 1
        assert box.depth() == box.max_messages


def test_unknown_kind_is_refused(tmp_path):
    with Outbox(tmp_path / "o.sqlite", 10) as box, pytest.raises(ValueError, match="kind"):
        box.put("t", b"x", 1, False, "alerts")


def test_unopenable_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CribsideError, match="outbox"):
        Outbox(blocker / "o.sqlite", 10)


def test_unopenable_path_error_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CribsideError) as caught:
        Outbox(blocker / "sub" / "o.sqlite", 10)
    assert str(caught.value).startswith(f"cannot open outbox {blocker / 'sub' / 'o.sqlite'}: ")
    assert "\n" not in str(caught.value) and blocker.read_text() == "not a folder"


def test_threads_share_one_outbox(tmp_path):
    # Writers on their own topics while a sender reads and acks: each topic comes out in order, none lost.
    writers, per_writer = 4, 100
    errors: list[BaseException] = []
    seen: dict[str, list[int]] = {f"p/w{w}/alerts": [] for w in range(writers)}
    with Outbox(tmp_path / "o.sqlite", 10_000) as box:

        def write(w: int) -> None:
            try:
                for i in range(per_writer):
                    box.put(f"p/w{w}/alerts", str(i).encode(), 1, False, "alert")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        cursor, received = 0, 0
        while received < writers * per_writer and not errors:
            for m in box.pending(7, after_id=cursor):
                seen[m.topic].append(int(m.payload))
                cursor = m.id
                box.ack(m.id)
                received += 1
        for t in threads:
            t.join()
        assert not errors
        assert all(v == list(range(per_writer)) for v in seen.values())
        assert box.depth() == 0 and box.corrupted == 0


_WRITER = textwrap.dedent(
    """
    import sys, time
    from cribside.edge.comms.outbox import Outbox
    box = Outbox(sys.argv[1], 1000)
    for i in range(int(sys.argv[2])):
        box.put("p/d/alerts", f"a{i}".encode(), 1, False, "alert")
    print("done", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("sync", ["full", "normal"])
def test_committed_rows_survive_sigkill(tmp_path: Path, sync: str):
    path = tmp_path / "o.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER.replace("1000)", f"1000, sync={sync!r})"), str(path), "50"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "done"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    with Outbox(path, 1000) as box:
        assert bodies(box) == [f"a{i}" for i in range(50)]
