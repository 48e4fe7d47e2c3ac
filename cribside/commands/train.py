"""``cribside train DATA --out RUN``: train the autoencoder and the LSTM classifier.

The flags of the tunable fields come from :data:`cribside.training.config.TUNABLE_FLAGS`, the
layering of defaults, ``--config``, ``--set`` and those flags from
:func:`cribside.training.config.resolve_config`; the work is :func:`cribside.training.fit.train.train`.
TensorFlow is imported only when the command runs (the CLI imports this module for --help).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cribside.edge.errors import CribsideError
from cribside.training.config import TUNABLE_FLAGS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("data", type=Path, help="dataset root (raw frames are aligned first into RUN/aligned)")
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--config", type=Path, help="JSON file of TrainConfig fields (flags override it)")
    for name, kwargs in TUNABLE_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None, **kwargs)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other TrainConfig field, e.g. --set filters=8 (JSON values)")
    parser.add_argument("--workers", type=int, help="processes for aligning raw frames (default: all cores)")
    parser.add_argument("--overwrite", action="store_true", help="replace the models of an existing run")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Train and print where the run went."""
    from cribside.training.nets.session import prepare_tensorflow

    prepare_tensorflow()
    from cribside.training.config import resolve_config
    from cribside.training.fit.train import train

    flags = vars(args)
    if flags.get("fold") == "all":
        from cribside.training.fit.folds import train_folds

        if flags.get("split") not in (None, "kfold"):
            raise CribsideError(f"--fold all needs --split kfold, not --split {flags['split']}")
        config = resolve_config(args.config, args.set, flags | {"fold": None, "split": "kfold"})
        out = train_folds(args.data, args.out, config, overwrite=args.overwrite, workers=args.workers,
                          progress=not args.quiet)
        print(f"{config.folds} fold runs written to {out}; evaluate all with: cribside eval {out}")
        return 0
    config = resolve_config(args.config, args.set, flags)
    out = train(args.data, args.out, config, overwrite=args.overwrite, workers=args.workers,
                progress=not args.quiet)
    print(f"run written to {out} (split: {config.split}); evaluate with: cribside eval {out}")
    return 0
