"""``cribside mqtt purge --config FILE --device-id ID [--device-id ID ...] | --removed``: clear a crib's retained topics.

For a crib that was removed or renamed: its retained Home Assistant discovery configs, availability,
state and status stay on the broker (and in Home Assistant) until cleared. ``--removed`` clears every
device id that this config's broker still holds retained state for but the config no longer lists.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cribside.edge.errors import CribsideError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("--config", type=Path, required=True, help="device config YAML (its mqtt section)")
    parser.add_argument("--device-id", action="append", default=[], dest="device_ids", metavar="ID",
                        help="a device id to clear (repeat for several)")
    parser.add_argument("--removed", action="store_true",
                        help="clear every device id with retained availability on the broker that the config does not list")


def run(args: argparse.Namespace) -> int:
    """Clear and print what was cleared."""
    from cribside.edge.comms.purge import purge, retained_device_ids
    from cribside.edge.config import load_config

    config = load_config(args.config)
    if config.mqtt is None:
        raise CribsideError(f"{args.config}: no mqtt section: nothing to purge")
    ids = list(args.device_ids)
    if args.removed:
        ids += [d for d in retained_device_ids(config.mqtt) if d not in config.device_ids and d not in ids]
    if not ids:
        raise CribsideError("mqtt purge: give --device-id ID or --removed" if not args.removed
                            else "mqtt purge --removed: the broker holds no retained crib the config does not list")
    listed = [d for d in ids if d in config.device_ids]
    if listed:
        raise CribsideError(f"mqtt purge: {', '.join(listed)} still in {args.config}: remove the camera first")
    topics = purge(config.mqtt, ids)
    print(f"cleared {len(topics)} retained topics of {', '.join(ids)}")
    return 0
