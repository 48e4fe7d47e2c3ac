"""``cribside config schema``: print the device config's JSON Schema (for editors and reviews)."""

from __future__ import annotations

import argparse
import json

from cribside.edge.config import DeviceConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cribside config schema``."""
    parser.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")


def config_json_schema() -> dict:
    """The JSON Schema of the YAML config file, with every field's description."""
    schema = DeviceConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cribside device config"
    return schema


def run(args: argparse.Namespace) -> int:
    """Print the schema to stdout."""
    print(json.dumps(config_json_schema(), indent=args.indent))
    return 0
