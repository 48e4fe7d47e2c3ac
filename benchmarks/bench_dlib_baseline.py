"""Baseline: the paper's preprocessing with dlib, timed on the same frames as ``cribside bench align``.

dlib's HOG face detector, its 68-point shape predictor (Kazemi & Sullivan), eyes
levelled, eyebrows-to-chin crop, gray, 64x64 -- the pipeline of Kristian et al. (2018).
The crop is made with one affine warp, as cribside does, so the comparison isolates
detection and landmarks.

Not a cribside dependency; install for this script only:

    pip install dlib-bin face-recognition-models

Usage:
    python benchmarks/bench_dlib_baseline.py [--source VIDEO] [--frames N] [--upsample K]

Without --source it uses cribside's SYNTHETIC drawn face (as ``cribside bench align``).
"""

from __future__ import annotations

import argparse
import math
import time

import cv2
import numpy as np

from cribside.bench.align import RESOLUTIONS, _encode, _source_frames
from cribside.edge.face.geometry import RotatedRect, face_frame_extent, frame_to_image, rect_to_image

# iBUG 68-point indices: eyes 36-41 / 42-47, brows 17-26, jaw 0-16 (chin 8).
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_BROWS = slice(17, 27)
_JAW = slice(0, 17)
_CHIN = 8
_CROP = 64


def _crop(frame: np.ndarray, pts: np.ndarray) -> np.ndarray:
    left, right = pts[_LEFT_EYE].mean(axis=0), pts[_RIGHT_EYE].mean(axis=0)
    angle = math.atan2(right[1] - left[1], right[0] - left[0])
    u, v = face_frame_extent(pts, angle)
    top, chin = v[_BROWS].min(), v[_CHIN]
    u0, u1 = u[_JAW].min(), u[_JAW].max()
    cx, cy = frame_to_image((u0 + u1) / 2, (top + chin) / 2, angle)
    rect = RotatedRect(cx, cy, u1 - u0, chin - top, angle)
    patch = cv2.warpAffine(frame, rect_to_image(rect, _CROP, _CROP), (_CROP, _CROP),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)


def main() -> None:
    import dlib
    import face_recognition_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=None)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--upsample", type=int, default=0,
                        help="HOG pyramid upsampling (0 = fastest; 1 finds faces down to ~40 px)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    frames, label = _source_frames(args.source, args.frames)
    print(f"dlib baseline: source {label}, {len(frames)} frames, 1 thread, upsample {args.upsample} (median / p95 ms)")
    for size in RESOLUTIONS:
        samples: dict[str, list[float]] = {"decode": [], "detect": [], "landmarks": [], "warp": [], "total": []}
        found = 0
        for data in _encode(frames, size):
            t0 = time.perf_counter()
            frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            t1 = time.perf_counter()
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            boxes = detector(rgb, args.upsample)
            t2 = time.perf_counter()
            t3 = t4 = t2
            if boxes:
                box = max(boxes, key=lambda b: b.area())
                shape = predictor(rgb, box)
                pts = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
                t3 = time.perf_counter()
                _crop(frame, pts)
                t4 = time.perf_counter()
                found += 1
            samples["decode"].append((t1 - t0) * 1e3)
            samples["detect"].append((t2 - t1) * 1e3)
            samples["landmarks"].append((t3 - t2) * 1e3)
            samples["warp"].append((t4 - t3) * 1e3)
            samples["total"].append((t4 - t1) * 1e3)
        cells = " ".join(f"{k} {np.median(v):6.2f}/{np.percentile(v, 95):6.2f}" for k, v in samples.items())
        fps = 1000.0 / float(np.mean(samples["total"]))
        print(f"{size[0]}x{size[1]}: {cells}  fps {fps:6.1f}  faces {found}/{len(frames)}")


if __name__ == "__main__":
    main()
