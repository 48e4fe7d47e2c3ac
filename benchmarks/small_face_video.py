"""A real infant's face small in a large frame: iCatcher+'s fd_video.mp4 at 0.75 of its size in the middle
of a grey 1280x720 frame (faces about 90-110 px wide), for `cribside bench align --source` on the fine pass.

Usage:
    python benchmarks/small_face_video.py [--video tests/data/infants/icatcher_plus_lookit/fd_video.mp4] [--out small_face_1280x720.mp4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=Path("tests/data/infants/icatcher_plus_lookit/fd_video.mp4"))
    parser.add_argument("--out", type=Path, default=Path("small_face_1280x720.mp4"))
    args = parser.parse_args()
    source = cv2.VideoCapture(str(args.video))
    if not source.isOpened():
        raise SystemExit(f"{args.video}: cannot be read as a video")
    out = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), source.get(cv2.CAP_PROP_FPS), (1280, 720))
    frames = 0
    while True:
        ok, frame = source.read()
        if not ok:
            break
        canvas = np.full((720, 1280, 3), 90, np.uint8)
        small = cv2.resize(frame, (480, 360))
        canvas[180:540, 400:880] = small
        out.write(canvas)
        frames += 1
    out.release()
    print(f"{args.out}: {frames} frames, 1280x720")


if __name__ == "__main__":
    main()
