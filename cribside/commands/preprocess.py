"""``cribside preprocess DATA OUT``: align every raw frame of a dataset (parallel, resumable).

The work is :func:`cribside.training.data.preprocess.preprocess`.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="raw dataset root")
    parser.add_argument("out", metavar="OUT", help="aligned dataset root to write (resumable)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all CPUs)")
    parser.add_argument("--select", choices=("largest", "center", "score"), default="largest",
                        help="which face when several are seen (default largest)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from cribside.training.data.preprocess import preprocess

    report = preprocess(args.data, args.out, workers=args.workers, progress=not args.no_progress,
                        select=args.select)
    print(report.summary())
    return 0
