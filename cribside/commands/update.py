"""``cribside update BUNDLE [--config FILE]``: update this device with rollback (:mod:`cribside.release.update`).

Exit 0 updated (or already current), 1 the new release failed its check and the previous
one is active again, 2 bad input, 3 an alert episode stayed open for the whole wait.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cribside.release.layout import DEFAULT_ROOT
from cribside.release.update import (
    DEFAULT_CHECK,
    DEFAULT_RESTART,
    EXIT_EPISODE_OPEN,
    EXIT_ROLLED_BACK,
    EpisodeOpen,
    python_for_installer,
    update,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("bundle", type=Path, help="the new bundle folder (cribside bundle --out ...)")
    parser.add_argument("--config", type=Path, default=Path("/etc/cribside/config.yaml"), help="the device config")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"where releases live (default {DEFAULT_ROOT})")
    parser.add_argument("--wait-max", type=float, default=3600.0, metavar="S",
                        help="wait this long at most for an open alert episode to end (default 3600)")
    parser.add_argument("--settle", type=float, default=15.0, metavar="S",
                        help="the restarted service must stay up this long before doctor runs (default 15)")
    parser.add_argument("--restart-command", default=DEFAULT_RESTART, help=f"how to restart the service (default: {DEFAULT_RESTART})")
    parser.add_argument("--check-command", default=DEFAULT_CHECK, help=f"is the service up (default: {DEFAULT_CHECK})")
    parser.add_argument("--no-system", action="store_true", help="do not install the units (containers, tests)")


def run(args: argparse.Namespace) -> int:
    """Update, and say how it ended."""
    from cribside.edge.app.build import episode_journal_path
    from cribside.edge.config import load_config

    config = load_config(args.config)
    journal = episode_journal_path(config) if config.mqtt is not None else None
    try:
        result = update(
            args.bundle.resolve(), args.root, args.config, journal=journal, wait_max_s=args.wait_max, settle_s=args.settle,
            restart=args.restart_command, check=args.check_command, system_root=None if args.no_system else Path("/"),
            python=python_for_installer(),
        )
    except EpisodeOpen as exc:
        logging.getLogger("cribside.update").error("%s", exc)
        return EXIT_EPISODE_OPEN
    if result.ok:
        print(f"cribside release {result.release} is active" + (f" (was {result.previous})" if result.previous else "")
              + (f": {result.reason}" if result.reason else ""))
        return 0
    print(f"update to {result.release} failed: {result.reason}; active release: {result.active}")
    return EXIT_ROLLED_BACK
