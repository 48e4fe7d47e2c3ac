"""Which whole-frame detection pass sees a small infant's face in a 1280x720 frame, and at what cost.

For the crib-zone issue's small faces: the infants' envelope of ``cribside bench faces --infants`` is far
below the studio adults'. This counts, per face width, the cases where one detection pass over the whole
frame puts a detection within half a face width of the placed face (before the mesh): the short-range
model at its own 128 px input, the full-range model (192 px), and the short-range model fed a larger
input, square or of the frame's own shape (it is fully convolutional; the full-range model cannot be
resized; the device's fine pass is the 320x176 one). The faces
are the infants' envelope's 16 (four children), placed upright and at +-30 and 60 degrees. It also times
one model call per input size.

Usage:
    python benchmarks/bench_short_range_input.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from cribside.bench.faces import _DEFAULT_LOOKIT_ANNOTATIONS, infant_faces, place
from cribside.edge.face.aligner import FaceAligner
from cribside.edge.face.anchors import SHORT_RANGE
from cribside.edge.face.assets import ensure_face_models
from cribside.edge.face.detector import BlazeFaceDetector

SIZES: tuple[int | tuple[int, int], ...] = (256, 320, (256, 144), (320, 176), (384, 224))
WIDTHS = (40, 48, 64, 96, 160)
ANGLES = (0, 30, -30, 60, -60)


def _name(size: int | tuple[int, int]) -> str:
    return str(size) if isinstance(size, int) else f"{size[0]}x{size[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    faces = [(image, box) for _, image, box in infant_faces(args.data / "infants", _DEFAULT_LOOKIT_ANNOTATIONS)]
    model = ensure_face_models(None)["detector_short"]
    with FaceAligner() as aligner:
        passes = {"short 128": aligner._short, "full 192": aligner._full}
        passes |= {f"short {_name(s)}": BlazeFaceDetector(model, SHORT_RANGE, 0.5, 0.3, input_size=s) for s in SIZES}
        frame = np.zeros((720, 1280, 3), np.uint8)
        for name, detector in passes.items():
            detector.detect(frame)
            start = time.perf_counter()
            for _ in range(20):
                detector.detect(frame)
            print(f"{name}: {(time.perf_counter() - start) / 20 * 1000:.1f} ms a pass over a 1280x720 frame")
        both = f"full 192 + short {_name(SIZES[-1])}"
        names = [*passes, both]
        print(f"\n| width px | {' | '.join(names)} |\n|---|" + "---|" * len(names))
        rng = np.random.default_rng(0)
        for width in WIDTHS:
            hits = dict.fromkeys(names, 0)
            for angle in ANGLES:
                for image, box in faces:
                    placed, centre = place(image, box, width, angle, rng)
                    seen = {name: any(math.dist(d.center_px, centre) < 0.5 * width for d in detector.detect(placed))
                            for name, detector in passes.items()}
                    for name in passes:
                        hits[name] += seen[name]
                    hits[both] += seen["full 192"] or seen[f"short {_name(SIZES[-1])}"]
            print(f"| {width} | " + " | ".join(f"{hits[n]}" for n in names) + f" |  (of {len(ANGLES) * len(faces)})")


if __name__ == "__main__":
    main()
