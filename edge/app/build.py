"""Builds the device from its configuration: the only place that names concrete classes.

``cribside run`` and ``cribside bench run`` both call :func:`build_device`; the
loop itself (:mod:`cribside.edge.app.loop`) only sees the stages it is handed.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cribside.edge.app.loop import STATE_VALID_HEARTBEATS, CameraLoop, LoopSettings, Stages
from cribside.edge.app.stats import RunStats
from cribside.edge.comms.contract import NullPublisher, Publisher
from cribside.edge.comms.episodes import EpisodeJournal
from cribside.edge.config import CameraConfig, DeviceConfig, MqttConfig
from cribside.edge.config.zones import crib_zone
from cribside.edge.display.annotate import Annotator
from cribside.edge.display.console import ConsolePrinter, ResultsSink, ResultsWriter
from cribside.edge.errors import CribsideError
from cribside.edge.sources.base import FrameSource, SourceOptions
from cribside.edge.sources.capture import Capture
from cribside.edge.sources.health import HealthMonitor, HealthSettings
from cribside.edge.sources.registry import open_source
from cribside.edge.temporal.alerts import AlertMachine, AlertSettings
from cribside.edge.temporal.sampling import Sampler
from cribside.edge.temporal.window import LatentWindow

log = logging.getLogger(__name__)

# A window's frames may be at most this many sampling periods apart; the sampler's
# jitter is under one source frame, so a larger gap means frames were lost.
_MAX_GAP_PERIODS = 1.5


@dataclass(frozen=True)
class Outputs:
    """Optional outputs of a run.

    Attributes:
        annotate: ``--annotate`` video path (one file per camera when several).
        results: ``--results`` JSONL path (shared by every camera).
        results_sink: where result rows go instead of a file (e.g. :class:`MemoryResults`).
        console: print events in the terminal.
        show_stats: also print stats lines.
        every_frame: classify every frame (``bench run``) instead of the manifest's fps.
        state_every_window: publish the state for every window (``bench run``).
    """

    annotate: Path | None = None
    results: Path | None = None
    results_sink: ResultsSink | None = None
    console: bool = True
    show_stats: bool = False
    every_frame: bool = False
    state_every_window: bool = False


@dataclass
class Device:
    """Everything one ``cribside run`` process runs: a publisher and one loop per camera."""

    publisher: Publisher
    loops: dict[str, CameraLoop]
    closers: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def handle_command(self, device_id: str, command: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Route an MQTT command to its camera's loop."""
        loop = self.loops.get(device_id)
        if loop is None:
            return {"ok": False, "reason": f"unknown device {device_id}"}
        return loop.handle_command(command, payload)


def cameras_with_source(config: DeviceConfig, source: str | None, realtime: bool) -> list[CameraConfig]:
    """The configured cameras, with ``--source`` replacing the first one's (or making a ``demo`` camera).

    Raises:
        CribsideError: no camera at all.
    """
    cameras = list(config.cameras)
    if source is not None:
        if cameras:
            cameras[0] = cameras[0].model_copy(update={"source": source})
        else:
            cameras = [CameraConfig(device_id="demo", source=source)]
    if not cameras:
        raise CribsideError("no camera to watch: give --source VIDEO_OR_CAMERA or a cameras: list in the config")
    if realtime:
        cameras = [c.model_copy(update={"realtime": True}) for c in cameras]
    return cameras


def build_publisher(
    config: DeviceConfig, device_ids: list[str], boot_id: str, closers: contextlib.ExitStack, sw_version: str = "unknown"
) -> Publisher:
    """MQTT through the durable outbox when the config has an ``mqtt`` section, else a NullPublisher."""
    if config.mqtt is None:
        return NullPublisher(boot_id)
    from cribside.edge.comms.mqtt import MqttPublisher
    from cribside.edge.comms.outbox import Outbox

    if config.mqtt.purge_removed:
        _purge_removed(config.mqtt, device_ids)
    outbox = closers.enter_context(Outbox(config.outbox.path, config.outbox.max_messages, sync=config.outbox.sync))
    discovery = {
        # A state entity expires when the state's own valid_until horizon passes without a new one.
        "expire_after_s": STATE_VALID_HEARTBEATS * config.alerts.update_interval_s,
        "stats_interval_s": config.stats.interval_s,
        "host": socket.gethostname() if len(device_ids) > 1 else None,
        "areas": {c.device_id: c.room for c in config.cameras if c.room},
    }
    return MqttPublisher(config.mqtt, outbox, device_ids, boot_id=boot_id, sw_version=sw_version, discovery=discovery)


def _purge_removed(cfg: MqttConfig, device_ids: list[str]) -> None:
    """``mqtt.purge_removed``: clear removed cribs' retained topics; a broker that is down is only logged
    (the device must start watching; the next start tries again)."""
    from cribside.edge.comms.purge import purge_removed

    try:
        removed = purge_removed(cfg, device_ids)
    except CribsideError as exc:
        log.warning("mqtt.purge_removed: skipped: %s", exc)
        return
    if removed:
        log.info("mqtt.purge_removed: cleared the retained topics of %s", ", ".join(removed))


@dataclass(frozen=True)
class _Shared:
    """What every camera of one process shares."""

    config: DeviceConfig
    models_dir: Path
    outputs: Outputs
    publisher: Publisher
    console: ConsolePrinter | None
    results: ResultsSink | None
    boot_id: str
    n_cameras: int
    journal: EpisodeJournal | None


def build_device(
    config: DeviceConfig,
    cameras: list[CameraConfig],
    models_dir: Path,
    outputs: Outputs,
    *,
    publisher: Publisher | None = None,
    sources: dict[str, FrameSource] | None = None,
    sw_version: str = "unknown",
) -> Device:
    """Open every source, aligner and model, and wire one loop per camera.

    Everything that can be wrong with the set-up (missing video, models, face
    models, aligner mismatch, broker credentials) fails here, before any thread starts.

    Args:
        publisher: use this instead of the one the config names.
        sources: device_id -> an already built source, instead of opening the camera's spec.
        sw_version: the cribside version, for Home Assistant's device registry (from the command layer).

    Raises:
        CribsideError: with one line naming the thing at fault.
    """
    boot_id = uuid.uuid4().hex[:12]
    closers = contextlib.ExitStack()
    given = sources or {}
    try:
        opened = {c.device_id: given.get(c.device_id) or _open(c) for c in cameras}
        if publisher is None:
            publisher = build_publisher(config, list(opened), boot_id, closers, sw_version)
        results: ResultsSink | None = outputs.results_sink
        if results is None and outputs.results:
            results = ResultsWriter(outputs.results)
        if results is not None:
            closers.callback(results.close)
        console = ConsolePrinter(show_stats=outputs.show_stats) if outputs.console else None
        # Open episodes are journalled beside the outbox, so a crash never leaves one without its end.
        journal = EpisodeJournal(episode_journal_path(config)) if config.mqtt is not None else None
        shared = _Shared(config, models_dir, outputs, publisher, console, results, boot_id, len(cameras), journal)
        loops = {c.device_id: _camera_loop(shared, c, opened[c.device_id], closers) for c in cameras}
    except BaseException:
        closers.close()
        raise
    device = Device(publisher, loops, closers)
    publisher.on_command(device.handle_command)
    return device


def episode_journal_path(config: DeviceConfig) -> Path:
    """``<outbox file>.episodes.json``: the open-episode journal of :mod:`cribside.edge.comms.episodes`."""
    outbox = Path(config.outbox.path)
    return outbox.with_name(outbox.name + ".episodes.json")


def _open(camera: CameraConfig) -> FrameSource:
    options = SourceOptions(realtime=camera.realtime, width=camera.width, height=camera.height)
    return open_source(camera.source, options)


def _camera_loop(shared: _Shared, camera: CameraConfig, source: FrameSource, closers: contextlib.ExitStack) -> CameraLoop:
    from cribside.edge.face import AlignerSettings, FaceAligner
    from cribside.edge.inference.runtime import ModelRuntime

    config = shared.config
    # One aligner and one runtime per camera: LiteRT interpreters are not thread-safe.
    aligner = closers.enter_context(
        FaceAligner(AlignerSettings(select=config.aligner.select), track=True, threads=config.aligner.threads,
                    zone=crib_zone(camera))
    )
    runtime = ModelRuntime.load(
        shared.models_dir,
        variant=config.models.variant,
        delegate=config.models.delegate,
        threads=config.models.threads,
        aligner_fingerprint=aligner.settings.fingerprint(),
    )
    manifest = runtime.manifest
    now_s, now_ts = time.monotonic(), time.time()
    stats = RunStats(now_s)
    health = HealthSettings(
        stall_after_s=config.health.stall_after_s,
        no_signal_after_s=config.health.no_signal_after_s,
        # A recorded video may hold still frames; only a live camera repeating itself is frozen.
        frozen_frames=config.health.frozen_frames if source.live else 0,
    )
    stages = Stages(
        capture=Capture(source, on_captured=lambda c, d: stats.count(captured=c, dropped=d), queue_size=4 if source.live else 8),
        sampler=Sampler(None if shared.outputs.every_frame else manifest.fps),
        aligner=aligner,
        runtime=runtime,
        window=LatentWindow(manifest.window_length, manifest.latent_size, max_gap_s=_MAX_GAP_PERIODS / manifest.fps),
        alerts=AlertMachine(AlertSettings(**config.alerts.model_dump()), id_prefix=f"{camera.device_id}-{shared.boot_id}"),
        health=HealthMonitor(health, now_s, now_ts),
        stats=stats,
        publisher=shared.publisher,
        console=shared.console,
        results=shared.results,
        annotator=_annotator(shared, camera, source),
        journal=shared.journal,
    )
    settings = LoopSettings(
        device_id=camera.device_id,
        model={
            "version": manifest.model_version,
            "sha256": manifest.sha256,
            "variant": runtime.variant,
            "synthetic": manifest.synthetic,
        },
        stats_interval_s=config.stats.interval_s,
        state_heartbeat_s=config.alerts.update_interval_s,
        state_every_window=shared.outputs.state_every_window,
    )
    return CameraLoop(settings, stages)


def _annotator(shared: _Shared, camera: CameraConfig, source: FrameSource) -> Annotator | None:
    path = shared.outputs.annotate
    if path is None:
        return None
    if shared.n_cameras > 1:
        path = path.with_name(f"{path.stem}-{camera.device_id}{path.suffix}")
    # Files write at their own rate; a live camera's rate is unknown up front.
    return Annotator(path, fps=float(source.fps or 10.0))
