"""``cribside train DATA --out RUN``: train the autoencoder and the LSTM classifier.

TensorFlow is imported only when the command runs (the CLI imports this module for --help).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from cribside.edge.errors import CribsideError
from cribside.training.config import BALANCES, HEADS, LABEL_RULES, SPLITS, SSIM_WINDOWS, TrainConfig

# Flags for config fields, grouped for --help; every TrainConfig field is reachable via --set too.
_FLAGS = {
    "split": dict(choices=SPLITS, help="subject: held-out infants (default, honest); kfold: by subject; "
                                       "random: the paper's window-level 80/20"),
    "folds": dict(type=int, help="number of subject folds for --split kfold"),
    "fold": dict(type=int, help="which fold is the test set (0-based) for --split kfold"),
    "seed": dict(type=int, help="random seed (runs are deterministic for a seed)"),
    "seq_len": dict(type=int, help="frames per window (paper: 4)"),
    "units": dict(type=int, help="LSTM units (paper: 1024)"),
    "dropout": dict(type=float, help="dropout of the shared LSTM, or of the cry LSTM with --heads separate (0.5)"),
    "pain_dropout": dict(type=float, help="dropout of the pain LSTM with --heads separate (paper's best: 0.25)"),
    "heads": dict(choices=HEADS, help="shared: one LSTM, two heads; separate: one LSTM per task"),
    "balance": dict(choices=BALANCES, help="class imbalance: class_weight (default), sample (oversample), none"),
    "label_rule": dict(choices=LABEL_RULES, help="window label: last frame's (default) or majority vote"),
    "ae_epochs": dict(type=int, help="autoencoder epochs (early stopping may end sooner)"),
    "lstm_epochs": dict(type=int, help="classifier epochs (early stopping may end sooner)"),
    "ae_learning_rate": dict(type=float, help="autoencoder learning rate (paper: 0.01)"),
    "ssim_window": dict(choices=SSIM_WINDOWS, help="SSIM statistics: gaussian 11x11 (default) or global"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("data", type=Path, help="dataset root (raw frames are aligned first into RUN/aligned)")
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--config", type=Path, help="JSON file of TrainConfig fields (flags override it)")
    for name, kwargs in _FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None, **kwargs)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other TrainConfig field, e.g. --set filters=8 (JSON values)")
    parser.add_argument("--workers", type=int, help="processes for aligning raw frames (default: all cores)")
    parser.add_argument("--overwrite", action="store_true", help="replace the models of an existing run")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from defaults, then --config, then --set, then the named flags."""
    values: dict = {}
    if args.config is not None:
        try:
            values.update(json.loads(args.config.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise CribsideError(f"cannot read --config {args.config}: {exc}") from None
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep or key not in known:
            raise CribsideError(f"--set {item!r}: expected KEY=VALUE with KEY a training config field")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    values.update({name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None})
    return TrainConfig.from_dict(values)


def run(args: argparse.Namespace) -> int:
    """Train and print where the run went."""
    from cribside.training.models import prepare_tensorflow

    prepare_tensorflow()
    from cribside.training.train import train

    config = resolve_config(args)
    out = train(args.data, args.out, config, overwrite=args.overwrite, workers=args.workers,
                progress=not args.quiet)
    print(f"run written to {out} (split: {config.split}); evaluate with: cribside eval {out}")
    return 0
