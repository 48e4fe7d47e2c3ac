"""The ``cribside`` command: one entry point, subcommands registered in a table.

Each subcommand lives in its own module, imported only when that subcommand is
used, so ``cribside --help`` and the device commands never import TensorFlow.
A command module provides::

    def add_arguments(parser: argparse.ArgumentParser) -> None
    def run(args: argparse.Namespace) -> int

Bad input never ends in a traceback: argparse rejects unknown options, :func:`main`
rejects values no command can use (``nan``/``inf`` numbers, an empty ``--source``),
and a :class:`~cribside.edge.errors.CribsideError` from a command is printed as one
``cribside <command>: error: ...`` line with exit code 2. Any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import sys
from collections.abc import Sequence

from cribside import NOT_A_MEDICAL_DEVICE, __version__

# name -> (module, one-line help). Groups map to a nested table.
COMMANDS: dict[str, tuple[str, str] | dict[str, tuple[str, str]]] = {
    "align": ("cribside.commands.align", "align faces in images or videos to 64x64 crops"),
    "fetch-models": ("cribside.commands.fetch_models", "download MediaPipe's face models from PyPI (pinned, sha256-checked)"),
    "synth": ("cribside.commands.synth", "write a SYNTHETIC dataset (tests and demos only)"),
    "validate-data": ("cribside.commands.validate_data", "check a dataset folder against the documented layout"),
    "preprocess": ("cribside.commands.preprocess", "align every raw frame of a dataset (parallel, resumable)"),
    "train": ("cribside.commands.train", "train the per-frame encoder (if it learns) and the LSTM classifier [train extra]"),
    "eval": ("cribside.commands.eval", "evaluate a training run; --device evaluates the TFLite device path"),
    "sweep": ("cribside.commands.sweep", "re-run the paper's Table II/III grids [train extra]"),
    "convert": ("cribside.commands.convert", "quantize a run to TFLite models with a manifest [train extra]"),
    "run": ("cribside.commands.run", "watch cameras or videos and publish state and alerts over MQTT"),
    "doctor": ("cribside.commands.doctor", "check that this device works: config, models, cameras, broker, disk, clock"),
    "zones": ("cribside.commands.zones", "draw a camera's crib zone, masks and the faces found, to check the zone"),
    "firstboot": ("cribside.commands.firstboot", "provision this device once from cribside.yaml on the boot partition"),
    "update": ("cribside.commands.update", "install a bundle beside the running release, switch, check, roll back on failure"),
    "bundle": ("cribside.commands.bundle", "build the offline release bundle (wheels, lock, models, units) for a device"),
    "mqtt": {
        "purge": ("cribside.commands.mqtt_purge", "clear a removed crib's retained discovery, availability, state and status"),
    },
    "config": {
        "validate": ("cribside.commands.config_validate", "validate a device config file, printing every error"),
        "schema": ("cribside.commands.config_schema", "print the device config's JSON Schema"),
    },
    "bench": {
        "align": ("cribside.bench.align", "time the face aligner per stage"),
        "faces": ("cribside.bench.faces", "real faces: the size x angle envelope, and child hits with and without a crib zone"),
        "train": ("cribside.bench.train", "time training epochs on an IFPaLD-sized synthetic set [train extra]"),
        "models": ("cribside.bench.models", "time the TFLite models in every mode and thread count"),
        "run": ("cribside.bench.run", "time the whole device loop"),
        "real-faces": ("cribside.bench.real_faces",
                       "compare feature options on real photos, k folds by person, beside a HOG baseline [train extra]"),
    },
}

# Modules that only the train extra provides.
_TRAIN_ONLY = {"tensorflow", "keras", "matplotlib"}


def _add_command(subparsers: argparse._SubParsersAction, name: str, module: str, help_: str) -> None:
    parser = subparsers.add_parser(name, help=help_, description=help_)
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in _TRAIN_ONLY:
            # Registered but not usable here: still listed; say why when used.
            parser.set_defaults(_unavailable=exc)
            return
        raise
    mod.add_arguments(parser)
    parser.set_defaults(_run=mod.run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cribside",
        description=f"cribside {__version__}: infant cry and pain monitor for edge devices. {NOT_A_MEDICAL_DEVICE}",
    )
    parser.add_argument("--version", action="version", version=f"cribside {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, entry in COMMANDS.items():
        if isinstance(entry, dict):
            group = subparsers.add_parser(name, help=f"{name} subcommands: {', '.join(entry)}")
            group_sub = group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
            for sub_name, (module, help_) in entry.items():
                _add_command(group_sub, sub_name, module, help_)
            group.set_defaults(_group=group)
        else:
            _add_command(subparsers, name, *entry)
    return parser


def _bad_argument(args: argparse.Namespace) -> str | None:
    """A value no command can use, as ``argument --NAME: why``; None when every value is usable.

    argparse's ``type=float`` takes ``nan`` and ``inf``, which would compare false
    (or true) with every limit; and an empty ``--source`` is never a camera.
    """
    for dest, value in vars(args).items():
        if dest.startswith("_"):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            return f"argument --{dest.replace('_', '-')}: must be a finite number, got {value}"
    source = getattr(args, "source", None)
    if isinstance(source, str) and not source.strip():
        return "argument --source: must not be empty: give e.g. picamera2, v4l2:0, rtsp://HOST/PATH or a video path"
    return None


# syslog priorities journald reads from a "<N>" line prefix (sd-daemon(3)): journalctl -p err finds errors.
_JOURNAL_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def stderr_is_journal(env: dict[str, str] | None = None) -> bool:
    """True when stderr is connected to journald (systemd sets ``JOURNAL_STREAM`` to its device:inode)."""
    value = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(v) for v in value.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = max((lvl for lvl in _JOURNAL_PRIORITY if lvl <= record.levelno), default=logging.DEBUG)
        return f"<{_JOURNAL_PRIORITY[level]}>" + super().format(record)


def log_formatter(*, journal: bool) -> logging.Formatter:
    """Log lines with time and level; for journald, the time is its own and each line carries its priority."""
    if journal:
        return _JournalFormatter("%(levelname)s %(name)s: %(message)s")
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    from cribside.edge.errors import CribsideError

    parser = build_parser()
    args = parser.parse_args(argv)
    command = " ".join(w for w in (getattr(args, "command", None), getattr(args, f"{args.command}_command", None)) if w)
    bad = _bad_argument(args)
    if bad is not None:
        print(f"cribside {command}: error: {bad}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter(journal=stderr_is_journal()))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    if getattr(args, "_unavailable", None) is not None:
        missing = args._unavailable.name
        print(
            f"cribside {args.command}: error: needs the Python package '{missing}'; "
            "install the extra with: pip install 'cribside[train]'",
            file=sys.stderr,
        )
        return 2
    if not hasattr(args, "_run"):
        (getattr(args, "_group", None) or parser).print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except CribsideError as exc:
        print(f"cribside {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in _TRAIN_ONLY:
            print(
                f"cribside {args.command}: error: needs '{exc.name}', which comes with the train extra: "
                "pip install 'cribside[train]'",
                file=sys.stderr,
            )
            return 2
        raise
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
