"""``cribside run``: watch cameras or videos, print events, publish state and alerts over MQTT.

    cribside run --models MODELS --source video.mp4 --annotate out.mp4     # no config: terminal only
    cribside run --config /etc/cribside/config.yaml                        # the service

The device is built by :func:`cribside.edge.app.build.build_device` and run by
:func:`cribside.edge.app.runner.run_device` (signals, watchdog, liveness).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cribside import __version__
from cribside.edge.errors import CribsideError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``cribside run``'s options."""
    parser.add_argument("--config", type=Path, help="device config YAML (without: defaults, no MQTT, terminal only)")
    parser.add_argument("--source", help="overrides the first camera's source (or creates camera 'demo'): "
                        "picamera2 | v4l2:N | rtsp://... | gst:PIPELINE | file:VIDEO | frames:DIR | a path")
    parser.add_argument("--models", type=Path, help="models folder with manifest.json (overrides models.dir)")
    parser.add_argument("--annotate", type=Path, metavar="OUT.mp4", help="write the annotated video (face box, labels, alert)")
    parser.add_argument("--results", type=Path, metavar="OUT.jsonl", help="write one JSON line per sampled frame")
    parser.add_argument("--realtime", action="store_true", help="play video files at their own pace")
    parser.add_argument("--max-seconds", type=float, metavar="S", help="stop after S seconds of running")
    parser.add_argument("--stats", action="store_true", help="also print the periodic stats in the terminal")


def run(args: argparse.Namespace) -> int:
    """Build the device, run every camera until the sources end or a signal arrives."""
    from cribside.edge.app.build import Outputs, build_device, cameras_with_source
    from cribside.edge.app.runner import run_device
    from cribside.edge.config import config_from_dict, load_config
    from cribside.edge.config.secrets import security_warnings
    from cribside.edge.config.zones import zone_warnings

    # Without a file: the defaults, still with CRIBSIDE__SECTION__FIELD environment overrides.
    config = load_config(args.config) if args.config else config_from_dict({}, source="defaults")
    for warning in security_warnings(config, args.config) + zone_warnings(config, args.config):
        log.warning("%s", warning)
    cameras = cameras_with_source(config, args.source, args.realtime)
    models_dir = args.models or config.models.dir
    if not (Path(models_dir) / "manifest.json").is_file():
        raise CribsideError(f"no models in {models_dir} (manifest.json missing): give --models DIR or set models.dir")
    outputs = Outputs(annotate=args.annotate, results=args.results, show_stats=args.stats)
    device = build_device(config, cameras, Path(models_dir), outputs, sw_version=__version__)
    with device.closers:
        return run_device(device, max_seconds=args.max_seconds)
