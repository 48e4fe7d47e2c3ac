"""``cribside bench models MODELS``: latency of each model in each variant and thread count, and peak memory.

Each (variant, threads) case runs in a fresh child process, so its peak resident
memory (``ru_maxrss``) is that variant's alone. Two figures per model: the call
through :class:`ModelRuntime` (what the device pays, quantization at the float
boundary included) and the model's own invoke (what TFLite's ``benchmark_model``
reports).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.inference.manifest import load_manifest

_WARMUP = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("models", metavar="MODELS", help="models folder with manifest.json")
    parser.add_argument("--variants", default="all", help="comma-separated variants to time (default: all in the manifest)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--iterations", type=int, default=300, help="timed calls per model (default 300)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")


def run(args: argparse.Namespace) -> int:
    """Time every requested case and print one table."""
    manifest = load_manifest(args.models)
    variants = list(manifest.variants) if args.variants == "all" else [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in manifest.variants]
    if unknown:
        raise CribsideError(f"--variants: {', '.join(unknown)} not in {args.models} (has: {', '.join(manifest.variants)})")
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        raise CribsideError(f"--threads: expected numbers like 1,2, got {args.threads!r}") from None
    if args.iterations < 1 or any(t < 1 for t in threads):
        raise CribsideError("--iterations and --threads must be at least 1")
    results = [bench_case(args.models, v, t, args.iterations) for v in variants for t in threads]
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": results}, indent=2) + "\n")
    return 0


def bench_case(models_dir: str | Path, variant: str, threads: int, iterations: int) -> dict[str, Any]:
    """Time one variant at one thread count in a child process; an unusable case is reported, not raised."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_bench_in_child, (str(models_dir), variant, threads, iterations))


def _bench_in_child(models_dir: str, variant: str, threads: int, iterations: int) -> dict[str, Any]:
    from cribside.edge.inference.runtime import ModelRuntime

    delegate = "edgetpu" if variant == "edgetpu" else "cpu"
    case: dict[str, Any] = {"variant": variant, "threads": threads, "delegate": delegate}
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / (1 << 20)
    case["baseline_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale, 1)
    try:
        runtime = ModelRuntime.load(models_dir, variant=variant, delegate=delegate, threads=threads)
    except CribsideError as exc:
        return {**case, "error": str(exc)}
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, runtime.manifest.face_shape, dtype=np.uint8)
    window = np.stack([runtime.encode(rng.integers(0, 256, crop.shape, dtype=np.uint8))
                       for _ in range(runtime.manifest.window_length)])
    case["encoder_ms"] = _time(lambda: runtime.encode(crop), iterations)
    case["classifier_ms"] = _time(lambda: runtime.classify(window), iterations)
    # The models alone (interpreter invoke on inputs already set): what TFLite's benchmark_model
    # reports; the figures above add the runtime's float boundary (quantize, dequantize, checks).
    for name, model in runtime.models.items():
        case[f"{name}_invoke_ms"] = _time(model.invoke, iterations)
    case["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale, 1)
    return case


def _time(call: Any, iterations: int) -> dict[str, float]:
    for _ in range(_WARMUP):
        call()
    samples = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter()
        call()
        samples[i] = time.perf_counter() - start
    return {"median": round(float(np.median(samples)) * 1e3, 4), "p95": round(float(np.percentile(samples, 95)) * 1e3, 4)}


def format_table(results: list[dict[str, Any]]) -> str:
    """The results as a plain table, with the machine they ran on."""
    m = machine()
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['system']}",
        "median / p95 ms per call; 'invoke' is the model alone, 'call' adds the runtime's float boundary",
        f"{'variant':<8} {'threads':>7} {'encoder invoke':>16} {'encoder call':>16} {'classifier invoke':>18} "
        f"{'classifier call':>16} {'peak RSS MB':>11} {'(before load)':>13}",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"{r['variant']:<8} {r['threads']:>7}  not run: {r['error']}")
            continue
        cells = [_cell(r[key]) for key in ("encoder_invoke_ms", "encoder_ms", "classifier_invoke_ms", "classifier_ms")]
        lines.append(
            f"{r['variant']:<8} {r['threads']:>7} {cells[0]:>16} {cells[1]:>16} {cells[2]:>18} {cells[3]:>16} "
            f"{r['peak_rss_mb']:>11.1f} {r['baseline_rss_mb']:>13.1f}"
        )
    return "\n".join(lines)


def _cell(timing: dict[str, float]) -> str:
    return f"{timing['median']:.3f} / {timing['p95']:.3f}"


def machine() -> dict[str, Any]:
    """CPU model, core count and OS, for the README's benchmark table."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": f"{platform.system()} {platform.release()} {platform.machine()}"}
