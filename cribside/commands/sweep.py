"""``cribside sweep DATA --out DIR``: re-run the paper's LSTM grids (Tables II and III).

The work is :func:`cribside.training.evaluate.sweep.run_sweep` (the grids and their table are
described there). TensorFlow is imported only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cribside.training.evaluate.sweep import GRID_KEYS, PRESETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("data", type=Path, help="dataset root (as for 'cribside train')")
    parser.add_argument("--out", type=Path, required=True, help="folder for base/, sweep.csv, sweep.md, sweep.json")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="the paper's Table II or Table III grid")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                        help=f"grid axis (repeatable; every combination); keys: {', '.join(GRID_KEYS)}")
    parser.add_argument("--split", choices=("subject", "kfold", "random"), default="subject",
                        help="split protocol for the base run (default subject)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="other TrainConfig fields for every run (JSON values), e.g. --set lstm_epochs=20")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Train the base run once, then one classifier per grid point; print the table."""
    from cribside.training.nets.session import prepare_tensorflow

    prepare_tensorflow()
    from cribside.training.evaluate.sweep import grid_points, run_sweep

    points = grid_points(args.preset, args.grid)
    table = run_sweep(args.data, args.out, points, sets=args.set, split=args.split, seed=args.seed,
                      progress=not args.quiet)
    print(table.read_text(encoding="utf-8"))
    return 0
