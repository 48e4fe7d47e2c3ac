"""``cribside convert RUN --out MODELS [--quant ...]``: quantized TFLite models with a manifest.

TensorFlow is imported only when the command runs (``cribside --help`` stays light).
"""

from __future__ import annotations

import argparse
import os
import sys

from cribside.convert.modes import MODE_CHOICES, parse_modes
from cribside.edge.errors import CribsideError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("run", metavar="RUN", help="training run folder written by 'cribside train'")
    parser.add_argument("--out", required=True, metavar="MODELS", help="folder for the .tflite files and manifest.json")
    parser.add_argument(
        "--quant", default="all", metavar="MODE",
        help=f"comma-separated modes: {', '.join(MODE_CHOICES)} (default: all; the Edge TPU build follows int8 "
        "when edgetpu_compiler is installed)",
    )
    parser.add_argument("--calibration-size", type=int, default=500, metavar="N",
                        help="training faces and windows used to calibrate int8 (default 500)")
    parser.add_argument("--max-test-windows", type=int, default=None, metavar="N",
                        help="check parity on at most N held-out test windows, evenly spaced (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed for drawing calibration samples")
    parser.add_argument("--allow-degraded", action="store_true",
                        help="write the manifest even when a mode fails the parity gates")
    parser.add_argument("--no-edgetpu", action="store_true", help="skip the Edge TPU build even if the compiler exists")


def run(args: argparse.Namespace) -> int:
    """Convert, print the parity report; exit 1 when a mode fails the gates (unless --allow-degraded)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cribside.convert.pipeline import ConvertOptions, convert_run
    from cribside.convert.report import format_report

    if args.calibration_size < 1:
        raise CribsideError("--calibration-size must be at least 1")
    if args.max_test_windows is not None and args.max_test_windows < 1:
        raise CribsideError("--max-test-windows must be at least 1")
    options = ConvertOptions(
        modes=tuple(parse_modes(args.quant)),
        calibration_size=args.calibration_size,
        seed=args.seed,
        allow_degraded=args.allow_degraded,
        max_test_windows=args.max_test_windows,
        edgetpu=not args.no_edgetpu,
    )
    result = convert_run(args.run, args.out, options)
    print(format_report(result.manifest))
    for note in result.notes:
        print(note)
    if result.manifest_path is None:
        print(
            f"cribside convert: error: {', '.join(result.failed)} failed the parity gates (class agreement >= 98%, "
            "F1 drop <= 1 point); no manifest written. Re-run with --allow-degraded to keep them anyway.",
            file=sys.stderr,
        )
        return 1
    if result.failed:
        print(f"warning: {', '.join(result.failed)} failed the parity gates; kept because of --allow-degraded")
    print(f"wrote {result.manifest_path}")
    return 0
