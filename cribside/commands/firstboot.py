"""``cribside firstboot [--boot DIR ...] [--etc DIR]``: provision once from the boot partition.

Run by ``cribside-firstboot.service`` when ``cribside.yaml`` is on the boot partition
(:mod:`cribside.release.firstboot`). Exit 0 when provisioned or when there is nothing to
do, 1 with every problem on stderr (the journal and the console) when the file is invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cribside.release.firstboot import BOOT_DIRS, ERROR_NOTE, PROVISION_FILE, ProvisioningError, find_provision_file, provision


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("--boot", type=Path, action="append", default=None,
                        help=f"boot partition to look in (repeatable; default {' then '.join(map(str, BOOT_DIRS))})")
    parser.add_argument("--etc", type=Path, default=Path("/etc/cribside"), help="where the config and secrets go")


def run(args: argparse.Namespace) -> int:
    """Provision, or say why not."""
    boots = tuple(args.boot) if args.boot else BOOT_DIRS
    source = find_provision_file(boots)
    if source is None:
        print(f"firstboot: no {PROVISION_FILE} in {', '.join(map(str, boots))}: nothing to provision")
        return 0
    try:
        done = provision(source, args.etc)
    except ProvisioningError as exc:
        lines = [f"cribside firstboot: {exc.source} is invalid; cribside will not start until it is fixed:"]
        lines += [f"  {p}" for p in exc.problems]
        for line in lines:
            print(line, file=sys.stderr)
        try:
            (exc.source.parent / ERROR_NOTE).write_text("\n".join(lines) + "\n", encoding="utf-8")
        except OSError as err:
            print(f"cribside firstboot: cannot write {exc.source.parent / ERROR_NOTE}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"firstboot: provisioned cameras {', '.join(done.cameras)} from {done.source}: config {done.config}, "
          f"{len(done.secrets)} secret file(s) in {args.etc} (0600), deleted from the boot partition")
    return 0
