"""The device loop's composition, with small fakes for the aligner and the models.

The real aligner, models and broker run in tests/test_run_mqtt.py; here the
stages around them (sampling, windows, health, alerts, outputs) are checked
with frames whose content says what the fakes should see.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest

from cribside.edge.app.loop import CameraLoop, LoopSettings, Stages
from cribside.edge.app.stats import RunStats
from cribside.edge.comms.contract import NullPublisher, load_schema
from cribside.edge.display.annotate import Annotator
from cribside.edge.display.console import ConsolePrinter, ResultsWriter
from cribside.edge.inference.runtime import Prediction
from cribside.edge.sources import Frame
from cribside.edge.sources.capture import Capture
from cribside.edge.sources.health import HealthMonitor, HealthSettings
from cribside.edge.temporal.alerts import AlertMachine, AlertSettings
from cribside.edge.temporal.sampling import Sampler
from cribside.edge.temporal.window import LatentWindow

# Frame brightness encodes what the fakes see: no face, a calm face, a crying face in severe pain.
NO_FACE, CALM, SEVERE = 0, 100, 200
VIDEO_FPS = 15.0
MODEL_FPS = 3.0
L = 4
MODEL = {"version": "fake", "sha256": "0" * 64, "variant": "int8", "synthetic": True}


@dataclass(frozen=True)
class FakeFace:
    crop: np.ndarray
    box: tuple[float, float, float, float]
    other_faces: int = 0
    pose: str = "frontal"


class FakeAligner:
    def align(self, bgr: np.ndarray) -> FakeFace | None:
        level = float(bgr[0, 0, 0])
        if level < 10:
            return None
        return FakeFace(np.full((64, 64), int(level), np.uint8), (10.0, 10.0, 20.0, 20.0))


class FakeRuntime:
    delegate = "cpu"
    variant = "int8"

    def encode(self, crop: np.ndarray) -> np.ndarray:
        return np.full(640, crop.mean() / 255.0, np.float32)

    def classify(self, window: np.ndarray) -> Prediction:
        assert window.shape == (L, 640)
        distress = float(window.mean()) > 0.6
        cry = {"no": 0.1, "yes": 0.9} if distress else {"no": 0.9, "yes": 0.1}
        pain = {"none": 0.05, "moderate": 0.1, "severe": 0.85} if distress else {"none": 0.9, "moderate": 0.05, "severe": 0.05}
        return Prediction(cry=cry, pain=pain)


class Recorder(NullPublisher):
    """The real NullPublisher (envelopes stamped) that also keeps every message."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[str, dict]] = []

    def publish(self, device_id: str, kind: str, payload: dict, *, ts: float | None = None) -> str:
        msg_id = super().publish(device_id, kind, payload, ts=ts)
        self.messages.append((kind, self.last[(device_id, kind)]))
        return msg_id

    def of(self, kind: str) -> list[dict]:
        return [m for k, m in self.messages if k == kind]


class ListSource:
    """Frames of given brightness; ``live`` sources use the monotonic clock and may pause."""

    def __init__(self, levels: list[int], *, live: bool = False, pause_after: int | None = None, pause_s: float = 0.0,
                 frame_interval_s: float = 0.0, same_image: bool = False) -> None:
        self.levels = levels
        self.live = live
        self.name = "list"
        self.fps = VIDEO_FPS
        self.pause_after = pause_after
        self.pause_s = pause_s
        self.interval = frame_interval_s
        self.same_image = same_image
        self.done = threading.Event()
        self.released = threading.Event()

    def frames(self) -> Iterator[Frame]:
        rng = np.random.default_rng(0)
        for i, level in enumerate(self.levels):
            if i == self.pause_after:
                time.sleep(self.pause_s)
            image = np.full((48, 64, 3), level, np.uint8)
            if not self.same_image:
                image[40:, :, :] = rng.integers(0, 5, (8, 64, 3), dtype=np.uint8)  # sensor noise
            t_s = time.monotonic() if self.live else i / VIDEO_FPS
            yield Frame(image, t_s, i)
            if self.interval:
                time.sleep(self.interval)
        self.done.set()
        if self.live:  # a live camera that has nothing more to say blocks rather than ends
            self.released.wait(60)

    def close(self) -> None:
        pass


def make_loop(source: ListSource, *, health: HealthSettings | None = None, alerts: AlertSettings | None = None,
              annotator: Annotator | None = None, results: ResultsWriter | None = None,
              console: ConsolePrinter | None = None, aligner: FakeAligner | None = None) -> tuple[CameraLoop, Recorder]:
    recorder = Recorder()
    now_s, now_ts = time.monotonic(), time.time()
    stats = RunStats(now_s)
    stages = Stages(
        capture=Capture(source, on_captured=lambda c, d: stats.count(captured=c, dropped=d)),
        sampler=Sampler(MODEL_FPS),
        aligner=aligner or FakeAligner(),
        runtime=FakeRuntime(),
        window=LatentWindow(L, 640, max_gap_s=1.5 / MODEL_FPS),
        alerts=AlertMachine(alerts or AlertSettings(), id_prefix="crib-1-test"),
        health=HealthMonitor(health or HealthSettings(frozen_frames=0), now_s, now_ts),
        stats=stats,
        publisher=recorder,
        console=console,
        results=results,
        annotator=annotator,
    )
    settings = LoopSettings(device_id="crib-1", model=MODEL, stats_interval_s=3600, state_heartbeat_s=3600, poll_s=0.05)
    return CameraLoop(settings, stages), recorder


def run_to_end(loop: CameraLoop, timeout_s: float = 20.0) -> None:
    """Run until a file ends, or until a live source has delivered all its frames (plus a moment)."""
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    source = loop.s.capture.source
    if source.live:
        assert source.done.wait(timeout_s)
        time.sleep(0.2)
        stop.set()
        source.released.set()
    thread.join(timeout_s)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert loop.error is None


def validate(kind: str, message: dict) -> None:
    jsonschema.validate(message, load_schema(kind))


def test_file_is_sampled_at_model_fps_and_alerts(tmp_path: Path) -> None:
    levels = [CALM] * 45 + [SEVERE] * 45 + [CALM] * 15  # 3 s calm, 3 s severe, 1 s calm at 15 fps
    results = ResultsWriter(tmp_path / "results.jsonl")
    loop, rec = make_loop(ListSource(levels), results=results)
    run_to_end(loop)
    results.close()
    assert (tmp_path / "results.jsonl").stat().st_mode & 0o777 == 0o600  # a patient's results: owner only
    rows = [__import__("json").loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == len(levels) // 5  # 15 fps sampled at 3 fps: every 5th frame
    assert [r["frame"] for r in rows[:3]] == [0, 5, 10]
    assert [r["cry"]["label"] for r in rows[:3]] == ["unknown"] * 3  # window still filling
    assert rows[3]["cry"]["label"] == "no" and rows[3]["window_frames"] == [0, 5, 10, 15]
    alerts = rec.of("alert")
    assert [(a["event"], a["level"]) for a in alerts] == [("start", "severe_pain")]
    # severe on one window: the first window holding enough severe frames to tip the (fake) classifier
    first_severe_window = next(r for r in rows if r["pain"]["label"] == "severe")
    assert first_severe_window["alert_level"] == "severe_pain"
    stats = rec.of("stats")[-1]
    assert stats["frames"] == {"captured": len(levels), "sampled": len(rows), "dropped": 0}
    for kind in ("state", "alert", "status", "stats"):
        for message in rec.of(kind):
            validate(kind, message)


def test_no_face_means_unknown_never_calm() -> None:
    levels = [CALM] * 30 + [NO_FACE] * 30
    loop, rec = make_loop(ListSource(levels))
    run_to_end(loop)
    last = rec.of("state")[-1]
    assert last["face_visible"] is False
    assert last["cry"] == {"label": "unknown", "p": None}
    assert last["pain"] == {"label": "unknown", "p": None}
    assert last["window"] is None
    assert rec.of("status")[-1]["capture"] == "no_face"
    # a single no-face frame clears the window: 4 new faces are needed before any label again
    assert [s["cry"]["label"] for s in rec.of("state")].count("no") >= 1


class ScriptedAligner(FakeAligner):
    """The fake face, changed (``dataclasses.replace(face, **changes)``) from the ``after``-th sampled frame on."""

    def __init__(self, after: int, **changes: object) -> None:
        self.calls, self.after, self.changes = 0, after, changes

    def align(self, bgr: np.ndarray) -> FakeFace | None:
        face = super().align(bgr)
        self.calls += 1
        if face is None or self.calls < self.after:
            return face
        return dataclasses.replace(face, **self.changes)  # type: ignore[arg-type]


def test_a_second_face_in_the_crib_is_reported_and_noted_on_alerts() -> None:
    loop, rec = make_loop(ListSource([CALM] * 30 + [SEVERE] * 60), aligner=ScriptedAligner(7, other_faces=1))
    run_to_end(loop)
    states = rec.of("state")
    assert states[0]["caregiver_present"] is False and states[-1]["caregiver_present"] is True
    # The infant's labels go on (the second face is never classified as the infant).
    assert states[-1]["pain"]["label"] == "severe"
    alerts = rec.of("alert")
    assert alerts and all(a["caregiver_present"] is True for a in alerts)
    for kind in ("state", "alert"):
        for message in rec.of(kind):
            validate(kind, message)


@pytest.mark.parametrize("pose", ["profile", "unclear"])
def test_a_face_in_profile_or_unclear_is_not_classified(pose: str) -> None:
    loop, rec = make_loop(ListSource([CALM] * 60), aligner=ScriptedAligner(9, pose=pose))
    run_to_end(loop)
    states = rec.of("state")
    assert any(s["cry"]["label"] == "no" and s["pose"] == "frontal" for s in states)
    last = states[-1]
    assert last["face_visible"] is True and last["pose"] == pose
    assert last["cry"]["label"] == "unknown" and last["pain"]["label"] == "unknown" and last["window"] is None
    for message in states:
        validate("state", message)


def test_stopped_source_stalls_then_raises_no_signal_and_recovers() -> None:
    health = HealthSettings(stall_after_s=0.5, no_signal_after_s=1.0, frozen_frames=30)
    source = ListSource([CALM] * 40, live=True, pause_after=20, pause_s=1.6, frame_interval_s=1 / 30)
    loop, rec = make_loop(source, health=health)
    run_to_end(loop)
    captures = [s["capture"] for s in rec.of("status")]
    assert captures.index("stalled") < captures.index("no_signal") < len(captures) - 1
    assert captures[-1] in ("ok", "no_face")
    alerts = rec.of("alert")
    assert [(a["event"], a["type"]) for a in alerts] == [("start", "no_signal"), ("end", "no_signal")]
    assert alerts[0]["episode_id"] == alerts[1]["episode_id"]
    assert alerts[1]["duration_s"] >= 0.5
    lost_states = [s for s in rec.of("state") if s["alert_level"] == "no_signal"]
    assert lost_states and all(s["cry"]["label"] == "unknown" and not s["face_visible"] for s in lost_states)


def test_frozen_camera_is_stalled_and_not_classified() -> None:
    health = HealthSettings(stall_after_s=5.0, no_signal_after_s=30.0, frozen_frames=10)
    source = ListSource([SEVERE] * 60, live=True, same_image=True, frame_interval_s=1 / 60)
    loop, rec = make_loop(source, health=health)
    run_to_end(loop)
    statuses = rec.of("status")
    assert statuses[-1]["capture"] == "stalled" and "frozen" in statuses[-1]["reason"]
    # frames after the freeze are not classified: far fewer samples than a 1 s live feed would give
    assert rec.of("stats")[-1]["frames"]["sampled"] <= 3
    assert rec.of("state")[-1]["cry"]["label"] == "unknown"


def test_ack_command_marks_episode_and_is_published() -> None:
    levels = [SEVERE] * 60
    loop, rec = make_loop(ListSource(levels))
    run_to_end(loop)
    episode = rec.of("alert")[0]["episode_id"]
    assert loop.handle_command("ack", {"episode_id": episode}) == {"ok": True, "reason": f"episode {episode} acknowledged"}
    assert rec.of("alert")[-1]["acknowledged"] is True
    refused = loop.handle_command("ack", {"episode_id": "nope"})
    assert refused["ok"] is False and "no active episode" in refused["reason"] and "nope" not in refused["reason"]
    snoozed = loop.handle_command("snooze", {"minutes": 10, "type": "distress"})
    assert snoozed["ok"] is True and "severe pain and no_signal still alert" in snoozed["reason"]
    # The retained state says so at once (a nurse station that restarts learns the crib is snoozed).
    state = rec.of("state")[-1]
    assert state["snoozed_until"] == pytest.approx(time.time() + 600, abs=5)
    validate("state", state)


def test_ack_current_acknowledges_the_open_episode_without_its_id() -> None:
    loop, rec = make_loop(ListSource([SEVERE] * 60))
    run_to_end(loop)
    episode = rec.of("alert")[0]["episode_id"]
    assert loop.handle_command("ack", {"episode_id": "current"}) == {"ok": True, "reason": f"episode {episode} acknowledged"}
    assert rec.of("alert")[-1]["acknowledged"] is True


def test_annotated_video_has_every_frame(tmp_path: Path) -> None:
    levels = [CALM] * 20 + [NO_FACE] * 10
    out = tmp_path / "annotated.mp4"
    loop, _ = make_loop(ListSource(levels), annotator=Annotator(out, fps=VIDEO_FPS))
    run_to_end(loop)
    capture = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    assert len(frames) == len(levels)
    assert frames[0].shape == (48, 64, 3)
    # the overlay drew on the frame: it is no longer the flat grey it came in as
    assert np.abs(frames[-1].astype(int) - NO_FACE).max() > 100


def test_console_prints_events(capsys: pytest.CaptureFixture[str]) -> None:
    loop, _ = make_loop(ListSource([SEVERE] * 30), console=ConsolePrinter())
    run_to_end(loop)
    out = capsys.readouterr().out
    assert "ALERT START  severe_pain" in out
    assert "state  face    cry yes (0.90)" in out


def test_systemd_notifier_datagrams(tmp_path: Path) -> None:
    import socket

    from cribside.edge.app.systemd import Notifier

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(tmp_path / "notify"))
        server.settimeout(2)
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "3000000"})
        assert notifier.enabled and notifier.watchdog_interval_s == pytest.approx(1.5)
        assert notifier.ready("watching 1 camera(s)")
        assert server.recv(256) == b"READY=1\nSTATUS=watching 1 camera(s)"
        assert notifier.watchdog() and server.recv(256) == b"WATCHDOG=1"
    # outside systemd: nothing to do, nothing fails
    assert not Notifier({}).enabled and Notifier({}).ready() is False
    # a watchdog meant for another process is not ours to feed
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "100", "WATCHDOG_PID": "1"}).watchdog_interval_s is None


class DyingPublisher(Recorder):
    """A publisher whose delivery thread has died (what problems() reports)."""

    def problems(self) -> list[str]:
        return ["the MQTT outbox sender thread has died"]


def test_a_dead_delivery_thread_ends_the_run_non_zero() -> None:
    from cribside.edge.app.build import Device
    from cribside.edge.app.runner import run_device
    from cribside.edge.errors import CribsideError

    source = ListSource([CALM] * 10_000, live=True, frame_interval_s=0.01)
    loop, _ = make_loop(source)
    publisher = DyingPublisher()
    loop.s = dataclasses.replace(loop.s, publisher=publisher)
    started = time.monotonic()
    with pytest.raises(CribsideError, match="sender thread has died"):
        run_device(Device(publisher, {"crib-1": loop}), max_seconds=30)
    assert time.monotonic() - started < 10  # ended by the liveness check, not by --max-seconds


def test_a_hung_camera_loop_withholds_the_watchdog_then_ends_the_run() -> None:
    from cribside.edge.app import runner as run_cli
    from cribside.edge.app.build import Device

    loop, rec = make_loop(ListSource([CALM], live=True))
    device = Device(rec, {"crib-1": loop})
    running = threading.Thread(target=time.sleep, args=(1.0,))  # the camera thread, still alive
    running.start()
    now = time.monotonic()
    loop.heartbeat_s = now - run_cli._HUNG_AFTER_S - 1
    withheld, fatal = run_cli.liveness(device, [running], now)
    assert withheld and not fatal  # no watchdog ping, not yet fatal
    loop.heartbeat_s = now - run_cli._HUNG_EXIT_S - 1
    withheld, fatal = run_cli.liveness(device, [running], now)
    assert fatal == ["crib-1: camera loop hung for 31 s"]
    running.join()
