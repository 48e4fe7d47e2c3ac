"""Builds the device from its configuration: the only place that names concrete classes.

``cribside run`` and ``cribside bench run`` both call :func:`build_device`; the
loop itself (:mod:`cribside.edge.loop`) only sees the stages it is handed.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cribside.edge.alerts import AlertMachine, AlertSettings
from cribside.edge.annotate import Annotator
from cribside.edge.capture import Capture
from cribside.edge.config import CameraConfig, DeviceConfig
from cribside.edge.console import ConsolePrinter, ResultsWriter
from cribside.edge.errors import CribsideError
from cribside.edge.health import HealthMonitor, HealthSettings
from cribside.edge.loop import CameraLoop, LoopSettings, Stages
from cribside.edge.publisher import NullPublisher, Publisher
from cribside.edge.sampling import Sampler
from cribside.edge.sources.base import FrameSource, SourceOptions, open_source
from cribside.edge.stats import RunStats
from cribside.edge.window import LatentWindow

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
        console: print events in the terminal.
        show_stats: also print stats lines.
        every_frame: classify every frame (``bench run``) instead of the manifest's fps.
        state_every_window: publish the state for every window (``bench run``).
    """

    annotate: Path | None = None
    results: Path | None = None
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


def build_publisher(config: DeviceConfig, device_ids: list[str], boot_id: str, closers: contextlib.ExitStack) -> Publisher:
    """MQTT through the durable outbox when the config has an ``mqtt`` section, else a NullPublisher."""
    if config.mqtt is None:
        return NullPublisher(boot_id)
    from cribside.edge.mqtt import MqttPublisher
    from cribside.edge.outbox import Outbox

    outbox = closers.enter_context(Outbox(config.outbox.path, config.outbox.max_messages, sync=config.outbox.sync))
    return MqttPublisher(config.mqtt, outbox, device_ids, boot_id=boot_id)


def build_device(
    config: DeviceConfig,
    cameras: list[CameraConfig],
    models_dir: Path,
    outputs: Outputs,
    *,
    publisher: Publisher | None = None,
    sources: dict[str, FrameSource] | None = None,
) -> Device:
    """Open every source, aligner and model, and wire one loop per camera.

    Everything that can be wrong with the set-up (missing video, models, face
    models, aligner mismatch, broker credentials) fails here, before any thread starts.

    Args:
        publisher: use this instead of the one the config names.
        sources: device_id -> an already built source, instead of opening the camera's spec.

    Raises:
        CribsideError: with one line naming the thing at fault.
    """
    boot_id = uuid.uuid4().hex[:12]
    closers = contextlib.ExitStack()
    given = sources or {}
    try:
        sources = {c.device_id: given.get(c.device_id) or _open(c) for c in cameras}
        if publisher is None:
            publisher = build_publisher(config, list(sources), boot_id, closers)
        console = ConsolePrinter(show_stats=outputs.show_stats) if outputs.console else None
        results = ResultsWriter(outputs.results) if outputs.results else None
        if results is not None:
            closers.callback(results.close)
        loops = {}
        for camera in cameras:
            stages, settings = _camera_stages(
                config, camera, sources[camera.device_id], models_dir, outputs, publisher, boot_id, closers, len(cameras)
            )
            stages.console, stages.results = console, results
            loops[camera.device_id] = CameraLoop(settings, stages)
    except BaseException:
        closers.close()
        raise
    device = Device(publisher, loops, closers)
    publisher.on_command(device.handle_command)
    return device


def _open(camera: CameraConfig) -> FrameSource:
    options = SourceOptions(realtime=camera.realtime, width=camera.width, height=camera.height)
    return open_source(camera.source, options)


def _camera_stages(
    config: DeviceConfig,
    camera: CameraConfig,
    source: FrameSource,
    models_dir: Path,
    outputs: Outputs,
    publisher: Publisher,
    boot_id: str,
    closers: contextlib.ExitStack,
    n_cameras: int,
) -> tuple[Stages, LoopSettings]:
    from cribside.edge.face import AlignerSettings, FaceAligner
    from cribside.edge.runtime import ModelRuntime

    # One aligner and one runtime per camera: LiteRT interpreters are not thread-safe.
    aligner = closers.enter_context(
        FaceAligner(AlignerSettings(select=config.aligner.select), track=True, threads=config.aligner.threads)
    )
    runtime = ModelRuntime.load(
        models_dir,
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
    alert_settings = AlertSettings(**config.alerts.model_dump())
    annotator = None
    if outputs.annotate is not None:
        path = outputs.annotate
        if n_cameras > 1:
            path = path.with_name(f"{path.stem}-{camera.device_id}{path.suffix}")
        annotator = Annotator(path, fps=float(getattr(source, "fps", 0) or 10.0))
    stages = Stages(
        capture=Capture(source, on_captured=lambda c, d: stats.count(captured=c, dropped=d), queue_size=4 if source.live else 8),
        sampler=Sampler(None if outputs.every_frame else manifest.fps),
        aligner=aligner,
        runtime=runtime,
        window=LatentWindow(manifest.window_length, manifest.latent_size, max_gap_s=_MAX_GAP_PERIODS / manifest.fps),
        alerts=AlertMachine(alert_settings, id_prefix=f"{camera.device_id}-{boot_id}"),
        health=HealthMonitor(health, now_s, now_ts),
        stats=stats,
        publisher=publisher,
        annotator=annotator,
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
        state_every_window=outputs.state_every_window,
    )
    return stages, settings
