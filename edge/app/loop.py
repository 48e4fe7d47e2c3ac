"""The device loop for one camera: composes the stages, contains none of them.

    capture thread -> Frame -> health -> sampler -> aligner -> encoder -> window
      -> classifier -> alert state machine -> publisher / console / results / annotator

Every collaborator is passed in (the command-line layer builds them), so the
same loop runs a Pi camera against MQTT or a test video against fakes. One
``CameraLoop`` per camera, each on its own thread with its own window, alert
state and health; commands from MQTT reach it through :meth:`handle_command`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cribside.edge.app.stats import RunStats
from cribside.edge.comms.episodes import EpisodeJournal, restart_end
from cribside.edge.display.annotate import Annotator
from cribside.edge.display.console import ConsolePrinter, ResultsSink
from cribside.edge.display.views import CameraView, overlay, result_row, state_key, state_payload
from cribside.edge.errors import CribsideError
from cribside.edge.face.pose import NOT_CLASSIFIED
from cribside.edge.sources.capture import Capture, EndOfSource
from cribside.edge.sources.health import CaptureStatus, HealthMonitor
from cribside.edge.temporal.alerts import AlertEvent, AlertMachine, Reading
from cribside.edge.temporal.sampling import Sampler
from cribside.edge.temporal.window import LatentWindow
from cribside.edge.types import Aligner, DeliveryHealth, Frame, Publisher, Runtime

log = logging.getLogger(__name__)


STATE_VALID_HEARTBEATS = 3.0  # a state's valid_until (and Home Assistant's expire_after) in heartbeats


@dataclass(frozen=True)
class LoopSettings:
    """Per-camera loop settings.

    Attributes:
        device_id: topic level and id of this crib's monitor.
        model: the state's ``model`` object (version, sha256, variant, synthetic).
        stats_interval_s: seconds between stats messages.
        state_heartbeat_s: re-publish an unchanged state this often (monotonic seconds).
        state_every_window: publish the state for every window (``bench run``).
        poll_s: longest wait for a frame before checking health and timers.
        valid_heartbeats: a state's ``valid_until`` is this many heartbeats after it is sent.
        storage_check_s: how often the delivery health (outbox storage) is looked at.
    """

    device_id: str
    model: dict[str, Any]
    stats_interval_s: float = 30.0
    state_heartbeat_s: float = 10.0
    state_every_window: bool = False
    poll_s: float = 0.2
    valid_heartbeats: float = STATE_VALID_HEARTBEATS
    storage_check_s: float = 1.0


@dataclass(frozen=True)
class Stages:
    """The collaborators of one camera's loop."""

    capture: Capture
    sampler: Sampler
    aligner: Aligner
    runtime: Runtime
    window: LatentWindow
    alerts: AlertMachine
    health: HealthMonitor
    stats: RunStats
    publisher: Publisher
    console: ConsolePrinter | None = None
    results: ResultsSink | None = None
    annotator: Annotator | None = None
    journal: EpisodeJournal | None = None


@dataclass
class _Timers:
    last_state_key: tuple[Any, ...] | None = None
    last_state_s: float = -1e18
    last_stats_s: float = field(default_factory=time.monotonic)
    last_storage_s: float = -1e18


class CameraLoop:
    """Runs one camera until its source ends or ``stop`` is set."""

    def __init__(self, settings: LoopSettings, stages: Stages) -> None:
        self.settings = settings
        self.s = stages
        self._lock = threading.Lock()  # the loop thread and MQTT command callbacks share the alert state
        self._view = CameraView()
        self._timers = _Timers()
        self._signal_lost = False
        self._storage = DeliveryHealth()
        self._clock = (0.0 if not stages.capture.source.live else time.monotonic(), time.monotonic())
        self.heartbeat_s = time.monotonic()  # last loop iteration, for the systemd watchdog
        self.error: BaseException | None = None

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Process frames until the source ends or ``stop`` is set; never raises (see ``error``)."""
        s = self.s
        try:
            self._close_left_open()
            self._publish("status", self._status_payload(s.health.status), s.health.status.since_ts, 0.0)
            self._check_storage(time.monotonic(), force=True)
        except Exception as exc:  # noqa: BLE001  (reported like a loop failure, never a thread traceback)
            self.error = exc
            log.error("camera %s could not start: %s", self.settings.device_id, exc, exc_info=not isinstance(exc, CribsideError))
            return
        s.capture.start()
        try:
            while not stop.is_set():
                item = s.capture.get(self.settings.poll_s)
                self.heartbeat_s = time.monotonic()
                if item is None:
                    self._idle()
                elif isinstance(item, EndOfSource):
                    if item.error is not None:
                        raise CribsideError(f"reading {s.capture.source.name} failed: {item.error}")
                    break
                else:
                    self._on_frame(item)
                self._check_storage(time.monotonic())
        except Exception as exc:  # reported by the caller; the other cameras keep running
            self.error = exc
            # A bug (not a CribsideError) keeps its traceback in the log.
            log.error("camera %s stopped: %s", self.settings.device_id, exc, exc_info=not isinstance(exc, CribsideError))
        finally:
            s.capture.stop()
            try:
                self._publish_stats(time.monotonic(), force=True)
            except Exception as exc:  # noqa: BLE001  (the loop's own error, if any, is the one to report)
                log.warning("camera %s: last stats not published: %s", self.settings.device_id, exc)
            if s.annotator is not None:
                s.annotator.close()

    def _on_frame(self, frame: Frame) -> None:
        s = self.s
        with self._lock:
            self._clock = (frame.t_s, frame.captured_s)
            self._note_status(s.health.on_frame(frame.image, frame.captured_s, frame.wall_ts), frame.t_s, frame.wall_ts)
            if not s.health.frozen and s.health.status.capture != "no_signal" and s.sampler.keep(frame.t_s):
                self._on_sampled(frame)
            self._publish_stats(time.monotonic())
        if s.annotator is not None:
            synthetic = bool(self.settings.model.get("synthetic"))
            s.annotator.write(frame.image, overlay(self._view, s.alerts.level, frame.t_s, synthetic))

    def _on_sampled(self, frame: Frame) -> None:
        s, lat = self.s, self.s.stats.latency
        s.stats.count(sampled=1)
        lat.add("capture", _ms(time.monotonic() - frame.captured_s))
        self._view = self._classify(frame)
        started = time.monotonic()
        visible = self._view.face_visible
        self._note_status(s.health.on_face(visible, frame.captured_s, frame.wall_ts), frame.t_s, frame.wall_ts)
        prediction = self._view.prediction
        if prediction is not None:
            reading = Reading.from_probabilities(prediction.cry, prediction.pain)
            events = s.alerts.update(reading, frame.t_s, frame.wall_ts)
        elif not visible:
            events = s.alerts.blind(frame.t_s, frame.wall_ts)
        else:  # a face, the window still filling
            events = s.alerts.tick(frame.t_s, frame.wall_ts)
        self._emit(events, frame.t_s, frame.wall_ts)
        self._publish_state(frame.t_s, frame.wall_ts, every_window=True)
        lat.add("publish", _ms(time.monotonic() - started))
        if s.results is not None:
            s.results.write(result_row(self._view, self.settings.device_id, frame.t_s, frame.index, s.alerts.level))
        lat.add("total", _ms(time.monotonic() - frame.captured_s))

    def _classify(self, frame: Frame) -> CameraView:
        """Align, encode once, push into the window, classify a full window."""
        s, lat = self.s, self.s.stats.latency
        started = time.monotonic()
        face = s.aligner.align(frame.image)
        lat.add("align", _ms(time.monotonic() - started))
        if face is None:
            s.window.clear()  # a window holds L faces in a row, as in training
            return CameraView(wall_ts=frame.wall_ts)
        x, y, w, h = (float(v) for v in face.box)
        pose = face.pose
        caregiver = face.other_faces > 0
        if pose in NOT_CLASSIFIED:  # a profile or an unclear face: say so rather than guess (labels unknown)
            s.window.clear()
            return CameraView(True, (x, y, w, h), None, None, frame.wall_ts, caregiver_present=caregiver, pose=pose)
        started = time.monotonic()
        latent = s.runtime.encode(face.crop)
        lat.add("encode", _ms(time.monotonic() - started))
        window = s.window.push(latent, frame.t_s, frame.index)
        prediction = None
        if window is not None:
            started = time.monotonic()
            prediction = s.runtime.classify(window.latents)
            lat.add("classify", _ms(time.monotonic() - started))
        return CameraView(True, (x, y, w, h), prediction, window, frame.wall_ts, caregiver_present=caregiver, pose=pose)

    def _idle(self) -> None:
        """No frame this poll: let time pass for health, alerts and stats."""
        now_s, now_ts = time.monotonic(), time.time()
        t_s = self._clock[0] + (now_s - self._clock[1])  # the source clock, extrapolated
        with self._lock:
            self._note_status(self.s.health.tick(now_s, now_ts), t_s, now_ts)
            self._emit(self.s.alerts.tick(t_s, now_ts), t_s, now_ts)
            self._publish_state(t_s, now_ts)  # the heartbeat keeps valid_until moving while the loop lives
            self._publish_stats(now_s)

    # -- commands ------------------------------------------------------------------------------
    def handle_command(self, command: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``ack`` or ``snooze`` from MQTT (payload already validated by the publisher)."""
        now_ts = time.time()
        t_s = self._clock[0] + (time.monotonic() - self._clock[1])
        with self._lock:
            if command == "ack":
                ok, reason, events = self.s.alerts.acknowledge(str(payload["episode_id"]), t_s, now_ts)
                self._emit(events, t_s, now_ts)
            elif command == "snooze":
                ok, reason = self.s.alerts.snooze(float(payload["minutes"]), str(payload.get("type") or "distress"), t_s, now_ts)
                if ok:  # the retained state carries snoozed_until at once
                    self._publish_state(t_s, now_ts, every_window=True)
            else:
                ok, reason = False, f"unknown command {command!r}"
        log.info("camera %s: command %s: %s", self.settings.device_id, command, reason)
        return {"ok": ok, "reason": reason}

    # -- outputs -------------------------------------------------------------------------------
    def _note_status(self, status: CaptureStatus | None, t_s: float, wall_ts: float) -> None:
        """Publish a capture status change and raise or end the no_signal episode."""
        if status is None:
            return
        self._publish("status", self._status_payload(status), wall_ts, t_s)
        if status.capture == "no_signal" and not self._signal_lost:
            self._emit(self.s.alerts.signal_lost(t_s, wall_ts), t_s, wall_ts)
        elif status.live and self._signal_lost:
            self._emit(self.s.alerts.signal_restored(t_s, wall_ts), t_s, wall_ts)
        self._signal_lost = status.capture == "no_signal"
        if not status.live:
            # Nothing fresh to classify: the window restarts and the state says unknown.
            self._emit(self.s.alerts.blind(t_s, wall_ts), t_s, wall_ts)
            self.s.window.clear()
            self.s.sampler.reset()
            self._view = CameraView(wall_ts=wall_ts)
            self._publish_state(t_s, wall_ts)

    def _status_payload(self, status: CaptureStatus) -> dict[str, Any]:
        payload = status.to_payload()
        payload["storage"] = self._storage.storage
        return payload

    def _close_left_open(self) -> None:
        """Send ``end`` (reason ``restart``) for episodes a previous process announced and never ended."""
        journal = self.s.journal
        if journal is None:
            return
        now_ts = time.time()
        for record in journal.left_open(self.settings.device_id):
            log.warning("camera %s: episode %s was open at the last stop: ending it (reason restart)",
                        self.settings.device_id, record["episode_id"])
            self._publish("alert", restart_end(record, now_ts), now_ts, 0.0)
        journal.record(self.settings.device_id, [])

    def _check_storage(self, now_s: float, *, force: bool = False) -> None:
        """Look at the delivery health: a storage change is a status and a ``device`` alert episode."""
        if not force and now_s - self._timers.last_storage_s < self.settings.storage_check_s:
            return
        self._timers.last_storage_s = now_s
        health = self.s.publisher.health(self.settings.device_id)
        before, self._storage = self._storage, health
        now_ts = time.time()
        t_s = self._clock[0] + (now_s - self._clock[1])
        with self._lock:
            if health.outbox_recovered_from and not before.outbox_recovered_from:
                log.error("camera %s: the outbox was damaged and moved aside to %s", self.settings.device_id,
                          health.outbox_recovered_from)
                self._emit(self.s.alerts.device_problem("outbox_damaged", t_s, now_ts), t_s, now_ts)
                self._emit(self.s.alerts.device_ok("outbox_damaged", t_s, now_ts), t_s, now_ts)
            if health.storage == before.storage:
                return
            if health.storage == "outbox_full":
                self._emit(self.s.alerts.device_problem("outbox_full", t_s, now_ts), t_s, now_ts)
            elif before.storage == "outbox_full":
                self._emit(self.s.alerts.device_ok("outbox_full", t_s, now_ts), t_s, now_ts)
            status = self.s.health.status
            if health.storage != "ok" or before.storage != "ok":
                log.log(logging.ERROR if health.storage == "outbox_full" else logging.WARNING,
                        "camera %s: storage %s%s", self.settings.device_id, health.storage,
                        f": {health.storage_reason}" if health.storage_reason else "")
            self._publish("status", self._status_payload(status), now_ts, t_s)

    def _emit(self, events: list[AlertEvent], t_s: float, wall_ts: float) -> None:
        for event in events:
            payload = event.to_payload()
            if payload.get("type") != "device":
                payload["caregiver_present"] = self._view.caregiver_present  # "a nurse was at the crib"
            self._publish("alert", payload, wall_ts, t_s)
        if events and self.s.journal is not None:
            self.s.journal.record(self.settings.device_id, self.s.alerts.open_episodes())

    def _publish_state(self, t_s: float, wall_ts: float, *, every_window: bool = False) -> None:
        alerts = self.s.alerts
        valid_until = time.time() + self.settings.valid_heartbeats * self.settings.state_heartbeat_s
        payload = state_payload(self._view, alerts.level, self.settings.model, no_signal=alerts.no_signal,
                                valid_until=round(valid_until, 3), snoozed_until=alerts.snoozed_until(time.time()))
        key = state_key(payload)
        now_s = time.monotonic()
        due = now_s - self._timers.last_state_s >= self.settings.state_heartbeat_s
        if key == self._timers.last_state_key and not due and not (every_window and self.settings.state_every_window):
            return
        self._timers.last_state_key, self._timers.last_state_s = key, now_s
        self._publish("state", payload, wall_ts, t_s)

    def _publish_stats(self, now_s: float, *, force: bool = False) -> None:
        if not force and now_s - self._timers.last_stats_s < self.settings.stats_interval_s:
            return
        self._timers.last_stats_s = now_s
        runtime = self.s.runtime
        health = self.s.publisher.health(self.settings.device_id)
        payload = self.s.stats.snapshot(now_s, delegate=runtime.delegate, variant=runtime.variant,
                                        outbox_depth=health.outbox_depth)
        payload["storage"] = health.storage
        if health.link is not None:
            payload["mqtt"] = health.link
        self._publish("stats", payload, time.time(), self._clock[0])

    def _publish(self, kind: str, payload: dict[str, Any], ts: float, t_s: float) -> None:
        self.s.publisher.publish(self.settings.device_id, kind, payload, ts=ts)
        if self.s.console is not None:
            media_t_s = None if self.s.capture.source.live else t_s
            self.s.console.show(self.settings.device_id, kind, payload, t_s=media_t_s, wall_ts=ts)


def _ms(seconds: float) -> float:
    return seconds * 1000.0
