"""``cribside bench align``: time the face aligner per stage, single thread.

Each frame is held as a JPEG at the target resolution and decoded in the timed loop,
as a USB camera's MJPEG stream would be. Stages: decode, detect (skipped on tracked
frames), landmarks, warp (eye levelling, crop, gray, 64x64).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.face.aligner import FaceAligner
from cribside.edge.face.synthetic import synthetic_face_frames

RESOLUTIONS = ((640, 480), (1280, 720))
_STAGES = ("decode", "detect", "landmarks", "warp", "total")
_WARMUP = 3
_JPEG_QUALITY = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("--source", default=None,
                        help="a video with a face (default: a SYNTHETIC drawn face; no real video ships with cribside)")
    parser.add_argument("--frames", type=int, default=150, help="frames per configuration (default 150)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--models-dir", default=None, help="face models folder (default: see cribside fetch-models)")


def _source_frames(source: str | None, count: int) -> tuple[list[np.ndarray], str]:
    if source is None:
        return list(synthetic_face_frames(640, 480, count)), "SYNTHETIC drawn face"
    path = Path(source)
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if not frames:
        raise CribsideError(f"{path}: not a readable video")
    return frames, str(path)


def _encode(frames: list[np.ndarray], size: tuple[int, int]) -> list[bytes]:
    params = [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
    return [cv2.imencode(".jpg", cv2.resize(f, size, interpolation=cv2.INTER_AREA), params)[1].tobytes() for f in frames]


def _time_run(jpegs: list[bytes], track: bool, models_dir: str | None) -> dict[str, object]:
    samples: dict[str, list[float]] = {stage: [] for stage in _STAGES}
    found = 0
    with FaceAligner(track=track, threads=1, models_dir=models_dir) as aligner:
        for index, data in enumerate(jpegs[:_WARMUP] + jpegs):
            start = time.perf_counter()
            frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            decoded = time.perf_counter()
            face = aligner.align(frame)
            done = time.perf_counter()
            if index < _WARMUP:
                continue
            found += face is not None
            samples["decode"].append((decoded - start) * 1000.0)
            for stage in ("detect", "landmarks", "warp"):
                samples[stage].append(aligner.timings[stage])
            samples["total"].append((done - decoded) * 1000.0)
        aligner.reset()
    stats = {stage: {"median_ms": float(np.median(v)), "p95_ms": float(np.percentile(v, 95))} for stage, v in samples.items()}
    align_ms = float(np.mean(samples["total"]))
    with_decode_ms = align_ms + float(np.mean(samples["decode"]))
    return {"track": track, "frames": len(jpegs), "faces_found": found, "stages": stats,
            "align_fps": 1000.0 / align_ms, "fps_with_decode": 1000.0 / with_decode_ms}


def run(args: argparse.Namespace) -> int:
    """Time every resolution with and without tracking and print a table (or JSON)."""
    if args.frames < 1:
        raise CribsideError(f"--frames must be >= 1, got {args.frames}")
    cv2.setNumThreads(1)  # single core, like a Pi under load
    frames, label = _source_frames(args.source, args.frames)
    results = []
    for size in RESOLUTIONS:
        jpegs = _encode(frames, size)
        for track in (False, True):
            result = _time_run(jpegs, track, args.models_dir)
            result["resolution"] = f"{size[0]}x{size[1]}"
            results.append(result)
    if args.json:
        print(json.dumps({"source": label, "threads": 1, "results": results}, indent=2))
        return 0
    print(f"cribside bench align: source {label}, {len(frames)} frames, 1 thread (median / p95 ms)")
    print(f"{'resolution':>10} {'track':>5} {'decode':>13} {'detect':>13} {'landmarks':>13} {'warp':>11} {'align':>13} "
          f"{'fps':>6} {'fps+dec':>7} {'faces':>7}")
    for r in results:
        def cell(k: str, st: dict = r["stages"]) -> str:
            return f"{st[k]['median_ms']:5.2f}/{st[k]['p95_ms']:6.2f}"

        print(f"{r['resolution']:>10} {str(r['track']):>5} {cell('decode'):>13} {cell('detect'):>13} {cell('landmarks'):>13} "
              f"{cell('warp'):>11} {cell('total'):>13} {r['align_fps']:6.1f} {r['fps_with_decode']:7.1f} "
              f"{r['faces_found']:>3}/{r['frames']}")
    return 0
