"""``cribside bench run``: time the whole device loop, the way it runs on the device.

Two phases on one video (default: the bundled SYNTHETIC demo, upscaled to 640x480):

1. throughput: the video as fast as possible, every frame sampled and classified,
   pinned to one core, no MQTT: frames per second of capture + align + encode +
   window + classify + alerts.
2. live: the video at its own pace, sampled at the model's rate (3 fps), every
   window's state published through the durable outbox to a local mosquitto
   (started here when ``--broker`` is not given): capture-to-delivery latency
   p50/p95/p99 (a subscriber in this process compares arrival time with the
   state's ``ts``, which is the frame's capture time), and the process's CPU share.

Peak resident memory is the process's maximum over both phases.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cribside.edge.app.stats import STAGES
from cribside.edge.errors import CribsideError

TARGETS = {"fps": 100.0, "p99_ms": 50.0, "cpu_percent": 10.0, "rss_mb": 300.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``bench run``'s options."""
    parser.add_argument("--models", type=Path, required=True, help="models folder with manifest.json")
    parser.add_argument("--source", type=Path, help="video file (default: the bundled SYNTHETIC demo video)")
    parser.add_argument("--size", default="640x480", help="resize the video to WxH first (default 640x480; 'keep' to skip)")
    parser.add_argument("--live-seconds", type=float, default=60.0,
                        help="length of the live phase (default 60: 180 windows, enough for a p99)")
    parser.add_argument("--broker", metavar="HOST:PORT", help="broker for the live phase (default: start mosquitto here)")
    parser.add_argument("--outbox-sync", choices=("full", "normal"), default="full", help="outbox durability (default full)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")


def run(args: argparse.Namespace) -> int:
    """Run both phases and print the table."""
    video = args.source or Path(str(resources.files("cribside.edge").joinpath("samples", "synthetic_infant_demo.mp4")))
    if not Path(video).is_file():
        raise CribsideError(f"video not found: {video}")
    with tempfile.TemporaryDirectory(prefix="cribside-bench-") as tmp:
        work = Path(tmp)
        video = _resized(Path(video), args.size, work)
        results: dict[str, Any] = {"machine": _machine(), "video": _describe(video)}
        results["throughput"] = _throughput(video, args.models)
        with _broker(args.broker, work) as (host, port):
            results["live"] = (
                _live(video, args.models, host, port, args.live_seconds, work, args.outbox_sync)
                if host
                else {"skipped": "no broker: give --broker HOST:PORT or install mosquitto"}
            )
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


# -- phases ---------------------------------------------------------------------------------------
def _throughput(video: Path, models: Path) -> dict[str, Any]:
    from cribside.edge.app.build import Outputs, build_device
    from cribside.edge.app.runner import run_device
    from cribside.edge.config import CameraConfig, DeviceConfig

    config = DeviceConfig()
    cameras = [CameraConfig(device_id="bench", source=str(video))]
    device = build_device(config, cameras, models, Outputs(console=False, every_frame=True))
    loop = device.loops["bench"]
    with device.closers, _one_core() as core:
        started = time.perf_counter()
        run_device(device)
        elapsed = time.perf_counter() - started
    stats = loop.s.stats
    # "total" here would mostly be time queued behind earlier frames: not reported for this phase.
    stages = {stage: _pct(loop, stage) for stage in ("align", "encode", "classify", "publish")}
    return {"frames": stats.sampled, "seconds": round(elapsed, 2), "fps": round(stats.sampled / elapsed, 1),
            "core": core, "stages_ms": stages, "variant": loop.s.runtime.variant, "delegate": loop.s.runtime.delegate}


def _live(video: Path, models: Path, host: str, port: int, seconds: float, work: Path, sync: str) -> dict[str, Any]:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from cribside.edge.app.build import Outputs, build_device
    from cribside.edge.app.runner import run_device
    from cribside.edge.config import config_from_dict

    config = config_from_dict({
        "mqtt": {"host": host, "port": port, "prefix": "bench"},
        "outbox": {"path": str(work / "outbox.sqlite"), "sync": sync},
        "cameras": [{"device_id": "bench", "source": str(video), "realtime": True}],
    }, env={})
    latencies: list[float] = []
    subscribed = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}")
    client.on_connect = lambda c, *_: c.subscribe("bench/bench/state", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, m: latencies.append(time.time() - json.loads(m.payload)["ts"])
    client.connect(host, port)
    client.loop_start()
    if not subscribed.wait(10):
        raise CribsideError(f"bench: cannot subscribe at {host}:{port}")
    device = build_device(config, list(config.cameras), models, Outputs(console=False, state_every_window=True))
    loop = device.loops["bench"]
    cpu_before, wall_before = _cpu_s(), time.monotonic()
    with device.closers:
        run_device(device, max_seconds=seconds)
    cpu_share = (_cpu_s() - cpu_before) / (time.monotonic() - wall_before) * 100
    time.sleep(0.5)  # the last deliveries
    client.loop_stop()
    client.disconnect()
    ms = np.array(latencies[1:]) * 1000.0  # the first state waits for the connection
    if ms.size == 0:
        raise CribsideError("bench: no state message came back from the broker")
    p50, p95, p99 = (round(float(v), 2) for v in np.percentile(ms, (50, 95, 99)))
    return {"seconds": seconds, "sampled": loop.s.stats.sampled, "states_received": int(ms.size),
            "source_fps": float(getattr(loop.s.capture.source, "fps", 0)), "outbox_sync": sync,
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99, "max": round(float(ms.max()), 2)},
            "stages_ms": {stage: _pct(loop, stage) for stage in STAGES}, "cpu_percent_of_one_core": round(cpu_share, 1)}


# -- helpers --------------------------------------------------------------------------------------
def _pct(loop: Any, stage: str) -> dict[str, float] | None:
    values = loop.s.stats.latency.percentiles(stage, (50, 95, 99))
    return None if values is None else dict(zip(("p50", "p95", "p99"), (round(v, 3) for v in values)))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def _one_core() -> Iterator[int | None]:
    """Pin this thread (and the threads it starts) to one core, where the OS allows it."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


@contextlib.contextmanager
def _broker(address: str | None, work: Path) -> Iterator[tuple[str | None, int]]:
    """The given broker, or a mosquitto started for the bench (stopped afterwards)."""
    if address:
        host, _, port = address.rpartition(":")
        yield host or "localhost", int(port)
        return
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        yield None, 0
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = work / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{user}")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise CribsideError("bench: mosquitto did not start") from None
                time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(5)


def _resized(video: Path, size: str, work: Path) -> Path:
    """A copy of ``video`` at ``size`` (WxH), or the video itself for 'keep'."""
    import cv2

    if size == "keep":
        return video
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise CribsideError(f"--size: expected WxH like 640x480, got {size!r}") from None
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    out = work / f"bench_{width}x{height}.mp4"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR))
    writer.release()
    capture.release()
    return out


def _describe(video: Path) -> dict[str, Any]:
    import cv2

    capture = cv2.VideoCapture(str(video))
    info = {"frames": int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), "fps": capture.get(cv2.CAP_PROP_FPS),
            "size": f"{int(capture.get(3))}x{int(capture.get(4))}"}
    capture.release()
    return info


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def _mark(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def format_table(r: dict[str, Any]) -> str:
    """The figures as a small table for the terminal (and the README)."""
    t, m, v = r["throughput"], r["machine"], r["video"]
    lines = [
        f"cribside bench run on {m['cpu']} ({m['cores']} cores), video {v['size']} at {v['fps']:g} fps, "
        f"{t['variant']} on {t['delegate']}",
        f"{'measure':<44} {'value':>14}  target",
        f"{'loop throughput, every frame, 1 core':<44} {t['fps']:>10.1f} fps  >= {TARGETS['fps']:g} fps "
        f"({_mark(t['fps'] >= TARGETS['fps'])})",
    ]
    for stage, pct in t["stages_ms"].items():
        if pct:
            lines.append(f"{'  ' + stage + ' p50 / p95 ms':<44} {pct['p50']:>6.2f} / {pct['p95']:<6.2f}")
    live = r["live"]
    if "skipped" in live:
        lines.append(f"live phase skipped: {live['skipped']}")
    else:
        lat = live["latency_ms"]
        lines += [
            f"{'capture-to-delivery p50 / p95 / p99 ms':<44} {lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f}"
            f"  p99 < {TARGETS['p99_ms']:g} ms ({_mark(lat['p99'] < TARGETS['p99_ms'])})",
            f"{'  (outbox sync=' + live['outbox_sync'] + ', ' + str(live['states_received']) + ' states)':<44}",
            f"{'  in the loop: capture to published p50 / p95 ms':<44} "
            f"{live['stages_ms']['total']['p50']:>6.2f} / {live['stages_ms']['total']['p95']:<6.2f}",
            f"{'CPU at live 3 fps (source ' + format(live['source_fps'], 'g') + ' fps), % of a core':<44} "
            f"{live['cpu_percent_of_one_core']:>12.1f} %  < {TARGETS['cpu_percent']:g}% "
            f"({_mark(live['cpu_percent_of_one_core'] < TARGETS['cpu_percent'])})",
        ]
    lines.append(f"{'peak resident memory':<44} {r['peak_rss_mb']:>11.1f} MB  < {TARGETS['rss_mb']:g} MB "
                 f"({_mark(r['peak_rss_mb'] < TARGETS['rss_mb'])})")
    return "\n".join(lines)
