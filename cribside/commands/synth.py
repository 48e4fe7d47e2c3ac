"""``cribside synth``: write a SYNTHETIC dataset (tests and demos only), or the demo video."""

from __future__ import annotations

import argparse
import re

from cribside.edge.errors import CribsideError


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"size must look like 320x240, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", nargs="?", metavar="OUT", help="output folder (gets raw/, aligned/, videos/)")
    parser.add_argument("--subjects", type=int, default=6, help="synthetic infants (default 6)")
    parser.add_argument("--minutes", type=float, default=1.0, help="minutes of frames per subject (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="same seed and arguments = identical files")
    parser.add_argument("--fps", type=float, default=3.0, help="labelled frames per second (default 3, as the paper)")
    parser.add_argument("--size", type=_size, default=(320, 240), help="raw frame size WxH (default 320x240)")
    parser.add_argument("--no-raw", action="store_true", help="write only the 64x64 aligned crops (fast)")
    parser.add_argument("--video", action="store_true", help="also write OUT/videos/*.mp4 with ground-truth CSVs")
    parser.add_argument("--video-fps", type=float, default=15.0, help="frame rate of --video output (default 15)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all CPUs)")
    parser.add_argument("--demo-video", metavar="PATH",
                        help="instead: write the ~80 s SYNTHETIC demo video PATH (+ PATH.labels.csv)")


def run(args: argparse.Namespace) -> int:
    if args.demo_video:
        from cribside.training.synth.video import DEMO_SEED, labels_path, make_demo_video

        seed = args.seed or DEMO_SEED
        path = make_demo_video(args.demo_video, seed=seed, size=args.size)
        print(f"wrote SYNTHETIC demo video {path} and {labels_path(path)}")
        return 0
    if not args.out:
        raise CribsideError("give an output folder OUT (or --demo-video PATH)")
    from cribside.training.synth.dataset import generate

    summary = generate(args.out, args.subjects, args.minutes, args.seed, fps=args.fps, size=args.size,
                       raw=not args.no_raw, aligned=True, video=args.video, video_fps=args.video_fps,
                       workers=args.workers)
    print(summary.describe())
    return 0
