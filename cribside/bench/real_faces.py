"""``cribside bench real-faces PHOTOS``: does a feature option learn an expression across unseen people?

PHOTOS is a folder of ``<expression>/<person>.jpg`` photos (the same file name for the same person
in every folder), for example ``london_expressions`` (72 adults, neutral and smiling, CC BY 4.0).
The command turns them into short pseudo-videos in the dataset layout (training/data/photos.py),
aligns them once with the device's aligner, then for each feature option trains and evaluates
k folds split by person (``cribside train --split kfold --fold all`` and ``cribside eval``) and
prints one table: option, cry F1 mean ± sd, ROC AUC, the HOG + logistic-regression baseline on the
same folds, and training time per fold. The positive expression plays the role of "crying".

These are real faces but adults, posed and in studio light: a proxy for infant expressions, never
clinical evidence. TensorFlow is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from cribside.edge.errors import CribsideError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    from cribside.training.config import FEATURES

    parser.add_argument("photos", type=Path, help="folder of <expression>/<person>.jpg photos")
    parser.add_argument("--positive", help="the expression that plays 'crying' (default: the one not named neutral)")
    parser.add_argument("--features", default=",".join(FEATURES),
                        help=f"comma-separated feature options to compare (default: {','.join(FEATURES)})")
    parser.add_argument("--folds", type=int, default=5, help="folds by person (default 5)")
    parser.add_argument("--frames", type=int, default=8, help="pseudo-video frames per photo (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pseudo-videos and the folds")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a TrainConfig field for every option, e.g. --set lstm_epochs=10")
    parser.add_argument("--work", type=Path, help="keep the dataset and the runs here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")


def run(args: argparse.Namespace) -> int:
    """Build the pseudo-videos, train and evaluate every option on every fold, print the table."""
    from cribside.training.config import FEATURES

    options = [name.strip() for name in args.features.split(",") if name.strip()]
    unknown = [name for name in options if name not in FEATURES]
    if not options or unknown:
        raise CribsideError(f"--features: unknown option {', '.join(unknown) or '(none given)'} "
                            f"(choose from {', '.join(FEATURES)})")
    if args.folds < 2:
        raise CribsideError(f"--folds must be at least 2, got {args.folds}")
    from cribside.training.nets.session import prepare_tensorflow

    prepare_tensorflow()
    with tempfile.TemporaryDirectory(prefix="cribside-real-faces-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        result = compare(args.photos, work, options, folds=args.folds, frames=args.frames, seed=args.seed,
                         positive=args.positive, sets=args.set)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def compare(photos: Path, work: Path, options: list[str], *, folds: int, frames: int, seed: int,
            positive: str | None = None, sets: list[str] | None = None) -> dict[str, Any]:
    """The comparison's figures (see the module docstring); the runs stay in WORK/runs/<option>."""
    from cribside.training.config import resolve_config
    from cribside.training.data.photos import photos_to_dataset
    from cribside.training.data.preprocess import preprocess
    from cribside.training.evaluate.folds import evaluate_folds
    from cribside.training.fit.folds import fold_runs, train_folds
    from cribside.training.fit.run import HISTORY_FILE, read_json

    photoset = photos_to_dataset(photos, work / "raw", positive=positive, frames=frames, seed=seed)
    preprocess(work / "raw", work / "aligned", progress=False)
    rows = []
    for option in options:
        config = resolve_config(None, sets or [], {"features": option, "split": "kfold", "folds": folds, "seed": seed})
        start = time.perf_counter()
        root = train_folds(work / "aligned", work / "runs" / option, config, overwrite=True, progress=False)
        wall = time.perf_counter() - start
        summary = evaluate_folds(root, figures=False)
        train_s = [read_json(p / HISTORY_FILE)["timings_s"]["total_s"] for p in fold_runs(root)]
        rows.append({"option": option, "summary": summary, "train_s_per_fold": sum(train_s) / len(train_s),
                     "wall_s": wall})
    return {
        "photos": str(Path(photos).resolve()), "people": len(photoset.people), "positive": photoset.positive,
        "expressions": sorted(photoset.photos), "frames_per_photo": frames, "folds": folds, "seed": seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.system()}",
        "rows": rows,
    }


def format_table(result: dict[str, Any]) -> str:
    """Markdown table of the comparison."""
    from cribside.training.evaluate.folds import fmt

    lines = [f"Real faces (not clinical evidence): {result['people']} people, '{result['positive']}' vs the rest, "
             f"{result['folds']} folds by person, {result['frames_per_photo']}-frame pseudo-videos of each photo.", "",
             "| features | cry F1 (mean ± sd) | ROC AUC | HOG + LR F1, same folds | HOG + LR AUC | train s / fold |",
             "|---|---|---|---|---|---|"]
    for row in result["rows"]:
        t = row["summary"]["table"]
        lines.append(f"| {row['option']} | {fmt(t['model']['cry_f1'])} | {fmt(t['model']['cry_roc_auc'])} | "
                     f"{fmt(t['hog']['cry_f1'])} | {fmt(t['hog']['cry_roc_auc'])} | {row['train_s_per_fold']:.0f} |")
    return "\n".join(lines)
