"""The whole device under storage faults and restarts: real models, a real broker, a real (tiny) file system.

The models are ``converted_models_aligned`` (trained by the project's own pipeline on
SYNTHETIC faces); the video is the SYNTHETIC scripted clip of test_run_mqtt.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from support.device import VIDEO_FPS, validate_all, write_config
from support.storage import fill

from cribside.edge.sources import Frame

pytestmark = pytest.mark.slow


class LoopingCamera:
    """A live camera that plays a real video over and over at its own pace until closed."""

    live = True
    name = "looping"
    fps = None

    def __init__(self, video: Path) -> None:
        self.video = video
        self.closed = threading.Event()

    def frames(self) -> Iterator[Frame]:
        index = 0
        while not self.closed.is_set():
            capture = cv2.VideoCapture(str(self.video))
            while not self.closed.is_set():
                ok, image = capture.read()
                if not ok:
                    break
                yield Frame(image, time.monotonic(), index)
                index += 1
                time.sleep(1 / VIDEO_FPS)
            capture.release()

    def close(self) -> None:
        self.closed.set()


def _run(config, models: Path, camera) -> tuple[threading.Thread, threading.Event, object]:
    from cribside.edge.app.build import Outputs, build_device
    from cribside.edge.app.runner import run_device

    device = build_device(config, list(config.cameras), models, Outputs(console=False), sources={"crib-1": camera})
    stop = threading.Event()
    runner = threading.Thread(target=run_device, args=(device,), kwargs={"stop": stop})
    runner.start()
    return runner, stop, device


def test_full_disk_keeps_watching_and_recovers(tmp_path, tiny_fs, mosquitto, subscriber, converted_models_aligned,
                                               scripted_video) -> None:
    from cribside.edge.config import load_config

    sub = subscriber(mosquitto, ("test/#",))
    config = load_config(write_config(tmp_path, mosquitto, converted_models_aligned, "v4l2:0",
                                      outbox={"path": str(tiny_fs / "outbox.sqlite")},
                                      alerts={"update_interval_s": 1.0}))
    camera = LoopingCamera(scripted_video)
    runner, stop, device = _run(config, converted_models_aligned, camera)
    try:
        sub.wait_for("test/crib-1/state")
        fill(tiny_fs / "ballast")  # the disk fills up under the running device
        full = sub.wait_for("test/crib-1/status", where=lambda m: m.json().get("storage") == "outbox_full")
        validate_all(full, "status")
        alert = sub.wait_for("test/crib-1/alerts", where=lambda m: m.json()["level"] == "outbox_full")[0].json()
        assert alert["event"] == "start" and alert["type"] == "device"
        # Still watching: states keep arriving (sent directly at QoS 1 while the outbox cannot be written).
        seen = len(sub.on("test/crib-1/state"))
        sub.wait_for("test/crib-1/state", count=seen + 3)
        assert runner.is_alive()
        (tiny_fs / "ballast").unlink()  # space returns
        sub.wait_for("test/crib-1/alerts", where=lambda m: m.json()["level"] == "outbox_full" and m.json()["event"] == "end")
        sub.wait_for("test/crib-1/status", where=lambda m: m.json().get("storage") == "ok")
    finally:
        stop.set()
        camera.close()
        runner.join(30)
        device.closers.close()
    assert not runner.is_alive()
    ids = [m.json()["msg_id"] for m in sub.on("test/crib-1/state")]
    seqs = [int(i.rsplit("-", 1)[1]) for i in dict.fromkeys(ids)]
    assert seqs == sorted(seqs)  # in order, through the direct path and back


def test_episode_open_at_a_crash_is_ended_by_the_next_boot(tmp_path, mosquitto, subscriber, converted_models_aligned,
                                                          scripted_video) -> None:
    """A process killed mid-episode (here: its journal left as a crash leaves it) gets an end with reason restart."""
    from cribside.edge.app.build import episode_journal_path
    from cribside.edge.config import load_config

    sub = subscriber(mosquitto, ("test/#",))
    config = load_config(write_config(tmp_path, mosquitto, converted_models_aligned, "v4l2:0"))
    camera = LoopingCamera(scripted_video)
    runner, stop, device = _run(config, converted_models_aligned, camera)
    try:
        start = sub.wait_for("test/crib-1/alerts", where=lambda m: m.json()["event"] == "start", timeout_s=60)[0].json()
        journal = episode_journal_path(config)
        deadline = time.monotonic() + 10
        while not journal.exists() and time.monotonic() < deadline:  # written just after the alert is queued
            time.sleep(0.05)
        assert json.loads(journal.read_text())["crib-1"][0]["episode_id"] == start["episode_id"]
        crashed = journal.read_bytes()
    finally:
        stop.set()
        camera.close()
        runner.join(30)
        device.closers.close()
    journal.write_bytes(crashed)  # as a SIGKILL or power cut would have left it: the episode still open
    before = len(sub.on("test/crib-1/alerts"))
    camera = LoopingCamera(scripted_video)
    runner, stop, device = _run(config, converted_models_aligned, camera)
    try:
        ended = sub.wait_for("test/crib-1/alerts", where=lambda m: m.json().get("reason") == "restart")
        end = validate_all(ended, "alert")[0]
        assert (end["event"], end["episode_id"], end["type"]) == ("end", start["episode_id"], start["type"])
        assert len(sub.on("test/crib-1/alerts")) > before
    finally:
        stop.set()
        camera.close()
        runner.join(30)
        device.closers.close()


def test_damaged_outbox_is_moved_aside_and_announced(tmp_path, mosquitto, subscriber, converted_models_aligned,
                                                     scripted_video) -> None:
    from cribside.edge.config import load_config

    sub = subscriber(mosquitto, ("test/#",))
    config = load_config(write_config(tmp_path, mosquitto, converted_models_aligned, "v4l2:0"))
    outbox = Path(config.outbox.path)
    outbox.write_bytes(b"SQLite format 3\0" + bytes(range(256)) * 64)  # a header, then garbage
    camera = LoopingCamera(scripted_video)
    runner, stop, device = _run(config, converted_models_aligned, camera)
    try:
        damaged = sub.wait_for("test/crib-1/alerts", where=lambda m: m.json()["level"] == "outbox_damaged")
        assert [m.json()["event"] for m in damaged][:1] == ["start"]
        validate_all(damaged, "alert")
        sub.wait_for("test/crib-1/state")  # and it watches
        assert runner.is_alive()
    finally:
        stop.set()
        camera.close()
        runner.join(30)
        device.closers.close()
    kept = list(outbox.parent.glob(outbox.name + ".damaged-*"))
    assert kept and kept[0].read_bytes().startswith(b"SQLite format 3")  # kept for inspection
