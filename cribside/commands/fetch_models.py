"""``cribside fetch-models``: put MediaPipe's face models in the local cache."""

from __future__ import annotations

import argparse

from cribside.edge.face.assets import MEDIAPIPE_VERSION, default_models_dir, fetch_face_models


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument(
        "--dir", default=None,
        help=f"where to put the models (default: $CRIBSIDE_FACE_MODELS or {default_models_dir()})",
    )
    parser.add_argument(
        "--wheel", default=None,
        help=f"use this local mediapipe-{MEDIAPIPE_VERSION} wheel instead of downloading it (offline installs)",
    )


def run(args: argparse.Namespace) -> int:
    """Fetch, verify and report where the models are."""
    paths = fetch_face_models(args.dir, wheel=args.wheel)
    for key, path in paths.items():
        print(f"{key}: {path}")
    print(f"face models (mediapipe {MEDIAPIPE_VERSION}, sha256-checked) are in {next(iter(paths.values())).parent}")
    return 0
