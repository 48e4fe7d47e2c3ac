"""``cribside bundle --out DIR [--platform P] [--models MODELS]``: the offline release bundle.

See :mod:`cribside.release.build`. ``--write-lock`` rewrites ``deploy/bundle/edge-py311.lock``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cribside.edge.errors import CribsideError
from cribside.release.build import PLATFORMS, build_bundle, host_platform, write_lock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("--out", type=Path, help="folder to write cribside-<version>-<platform>/ into")
    parser.add_argument("--platform", choices=PLATFORMS, default=None, help="target device (default: this machine's)")
    parser.add_argument("--models", type=Path, default=None,
                        help="converted models folder with manifest.json (default: the SYNTHETIC demo models)")
    parser.add_argument("--write-lock", action="store_true",
                        help="rewrite deploy/bundle/edge-py311.lock from the installed versions (both platforms' hashes)")


def run(args: argparse.Namespace) -> int:
    """Build the bundle (or the lock) and print where it is."""
    if args.write_lock:
        print(f"lock written: {write_lock()}")
        if args.out is None:
            return 0
    if args.out is None:
        raise CribsideError("--out DIR is required (or --write-lock alone)")
    platform = args.platform or host_platform()
    bundle = build_bundle(args.out, platform, args.models)
    if args.models is None:
        print("note: the bundle carries the SYNTHETIC demo models (not for real infants); pass --models MODELS")
    print(bundle)
    return 0
