"""``cribside doctor --config FILE [--quick] [--json]``: does this device work? A technician's minute.

One row per check with pass / warn / fail, what was found and, for anything not passing, the fix:

- config: the file and everything it refers to (``cribside config validate``);
- models: the manifest and every file verify, the delegate loads; a warning for the synthetic demo models;
- face models: the aligner loads them;
- cameras: each opens and delivers a frame (skipped with ``--quick``);
- broker: connect with the configured TLS and auth, publish and receive on ``<prefix>/<id>/doctor``
  (skipped with ``--quick``);
- zones: each camera has a crib zone (a warning without one: any face in view can be taken for the infant's);
- disk: free space for the outbox;
- clock: synchronised (``timedatectl``), as alert times depend on it;
- temperature and throttling on a Raspberry Pi (when the machine reports them).

Exit 0 when nothing failed, 1 naming the failed checks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cribside.edge.errors import CribsideError

PASS, WARN, FAIL = "pass", "warn", "fail"
_FRAME_TIMEOUT_S = 10.0
_BROKER_TIMEOUT_S = 5.0
_HOT_C = 80.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("--config", type=Path, required=True, help="device config YAML")
    parser.add_argument("--quick", action="store_true", help="skip the cameras and the broker round trip (container HEALTHCHECK)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument("--skip", action="append", choices=("cameras", "broker"), default=[],
                        help="skip a check (repeatable); cribside update skips the cameras, which the running service holds")


def run(args: argparse.Namespace) -> int:
    """Run the checks, print the table, exit non-zero on a failure."""
    rows = checks(args.config, quick=args.quick, skip=frozenset(args.skip))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["check"]) for r in rows)
        for r in rows:
            fix = f"  -> {r['fix']}" if r["result"] != PASS and r["fix"] else ""
            print(f"{r['result'].upper():<4}  {r['check']:<{width}}  {r['detail']}{fix}")
    failed = [r["check"] for r in rows if r["result"] == FAIL]
    if failed:
        if not args.json:
            print(f"failed: {', '.join(failed)}")
        return 1
    return 0


def checks(config_path: Path, *, quick: bool = False, skip: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Every check's row: {"check", "result", "detail", "fix"}."""
    from cribside.commands.config_validate import check_references
    from cribside.edge.config import load_config

    rows: list[dict[str, Any]] = []

    def add(check: str, fn: Callable[[], tuple[str, str, str]]) -> None:
        try:
            result, detail, fix = fn()
        except CribsideError as exc:
            result, detail, fix = FAIL, str(exc), ""
        rows.append({"check": check, "result": result, "detail": detail, "fix": fix})

    try:
        config = load_config(config_path)
    except CribsideError as exc:
        return [{"check": "config", "result": FAIL, "detail": str(exc), "fix": f"edit {config_path}"}]
    problems = check_references(config)
    rows.append({"check": "config", "result": FAIL if problems else PASS,
                 "detail": "; ".join(problems) if problems else f"{config_path}: valid, every file it names found",
                 "fix": "run cribside config validate for each problem's field" if problems else ""})
    add("models", lambda: _models(config))
    add("face models", _face_models)
    if not quick:
        for camera in config.cameras if "cameras" not in skip else ():
            add(f"camera {camera.device_id}", lambda camera=camera: _camera(camera))
        if config.mqtt is not None and "broker" not in skip:
            add("broker", lambda: _broker(config))
    for camera in config.cameras:
        add(f"zone {camera.device_id}", lambda camera=camera: _zone(camera, config_path))
    add("disk", lambda: _disk(config.outbox.path))
    add("clock", _clock)
    temperature = _temperature()
    if temperature is not None:
        rows.append({"check": "temperature", **temperature})
    return rows


def _models(config: Any) -> tuple[str, str, str]:
    from cribside.edge.face.settings import AlignerSettings
    from cribside.edge.inference.runtime import ModelRuntime

    runtime = ModelRuntime.load(config.models.dir, variant=config.models.variant, delegate=config.models.delegate,
                                threads=config.models.threads,
                                aligner_fingerprint=AlignerSettings(select=config.aligner.select).fingerprint())
    detail = f"{config.models.dir}: {runtime.manifest.model_version}, variant {runtime.variant}, delegate {runtime.delegate}"
    if runtime.manifest.synthetic:
        return (WARN, detail + "; these are the SYNTHETIC demo models",
                "train and convert on your own labelled recordings (docs/training.md)")
    return PASS, detail, ""


def _face_models() -> tuple[str, str, str]:
    from cribside.edge.face.aligner import FaceAligner

    with FaceAligner():
        pass
    return PASS, "MediaPipe face models load (sha256-checked)", ""


def _zone(camera: Any, config_path: Path) -> tuple[str, str, str]:
    from cribside.edge.config.zones import NO_ZONE_RISK, crib_zone, draw_zone_command, zone_warning

    detail = crib_zone(camera).describe()
    if zone_warning(camera) is not None:
        return WARN, f"{detail}: {NO_ZONE_RISK}", f"draw one: {draw_zone_command(camera, config_path)}"
    return PASS, detail, ""


def _camera(camera: Any) -> tuple[str, str, str]:
    from cribside.edge.sources.base import SourceLost, SourceOptions, redact_url
    from cribside.edge.sources.registry import open_source

    source = open_source(camera.source, SourceOptions(width=camera.width, height=camera.height))
    got: list[Any] = []
    error: list[str] = []

    def grab() -> None:
        try:
            got.append(next(iter(source.frames())).image)
        except (SourceLost, StopIteration, CribsideError) as exc:
            error.append(str(exc) or type(exc).__name__)

    thread = threading.Thread(target=grab, daemon=True)
    thread.start()
    thread.join(_FRAME_TIMEOUT_S)
    source.close()
    name = redact_url(camera.source)
    if got:
        h, w = got[0].shape[:2]
        return PASS, f"{name}: a {w}x{h} frame", ""
    reason = error[0] if error else f"no frame within {_FRAME_TIMEOUT_S:g} s"
    return FAIL, f"{name}: {redact_url(reason)}", "check the cable and the source (v4l2-ctl --list-devices; /dev/v4l/by-id/)"


def _broker(config: Any) -> tuple[str, str, str]:
    import paho.mqtt.client as paho

    from cribside.edge.comms.contract import device_topic
    from cribside.edge.comms.mqtt import connect_client

    cfg = config.mqtt
    topic = device_topic(cfg.prefix, config.cameras[0].device_id if config.cameras else "doctor", "doctor")
    token = f"doctor-{time.time_ns()}".encode()
    connected, received, failure = threading.Event(), threading.Event(), []

    def on_connect(c: paho.Client, userdata: object, flags: object, reason: Any, props: object) -> None:
        if reason.is_failure:
            failure.append(str(reason))
        else:
            c.subscribe(topic, qos=1)
        connected.set()

    def on_subscribe(c: paho.Client, *_: object) -> None:
        c.publish(topic, token, qos=1)

    def on_message(c: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.payload == token:
            received.set()

    fix = "check mqtt.host/port, the TLS files and the password (cribside config validate), and the broker's ACL"
    try:
        client = connect_client(cfg, "doctor", on_connect=on_connect, on_subscribe=on_subscribe, on_message=on_message)
    except CribsideError as exc:
        return FAIL, str(exc), fix
    try:
        if not connected.wait(_BROKER_TIMEOUT_S) or failure:
            return FAIL, f"{cfg.host}:{cfg.port}: connection refused: {failure[0] if failure else 'timeout'}", fix
        if not received.wait(_BROKER_TIMEOUT_S):
            return FAIL, f"{cfg.host}:{cfg.port}: connected, but no round trip on {topic}", fix
        return PASS, f"{cfg.host}:{cfg.port}: connect, publish and subscribe round trip on {topic}", ""
    finally:
        client.disconnect()
        client.loop_stop()


def _disk(path: Path) -> tuple[str, str, str]:
    from cribside.edge.comms.outbox import LOW_SPACE_BYTES

    folder = next((p for p in [Path(path).parent, *Path(path).parents] if p.exists()), Path("/"))
    free = shutil.disk_usage(folder).free
    detail = f"{free / 2**20:.0f} MB free for the outbox in {folder}"
    if free < LOW_SPACE_BYTES:
        return FAIL, detail, f"free space on {folder} (at least {LOW_SPACE_BYTES // 2**20} MB)"
    return PASS, detail, ""


def _clock() -> tuple[str, str, str]:
    if shutil.which("timedatectl") is None:
        return WARN, "cannot tell (no timedatectl)", "make sure NTP runs: alert times come from this clock"
    done = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True, text=True,
                          timeout=5)
    value = done.stdout.strip()
    said = " ".join((value or done.stderr).split())[:100] or "no answer"
    if value == "yes":
        return PASS, "synchronised (NTP)", ""
    return WARN, f"not known to be synchronised ({said})", "enable time sync: systemctl enable --now systemd-timesyncd"


def _temperature() -> dict[str, str] | None:
    zone = Path("/sys/class/thermal/thermal_zone0/temp")
    if not zone.is_file():
        return None
    try:
        celsius = int(zone.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None
    detail = f"{celsius:.1f} °C"
    throttled = ""
    if shutil.which("vcgencmd"):
        done = subprocess.run(["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=5)
        throttled = done.stdout.strip()
        detail += f", {throttled}"
    hot = celsius >= _HOT_C or (throttled and not throttled.endswith("=0x0"))
    return {"result": WARN if hot else PASS, "detail": detail,
            "fix": "cool the device (a heat sink, airflow) or a better power supply" if hot else ""}
