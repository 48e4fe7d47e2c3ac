"""k-fold training by subject (``cribside train --split kfold --fold all``): one run per fold.

Layout::

    RUN/
      folds.json      {"folds": k, "runs": ["fold-0", ...], "features": ..., "data": ..., "seed": ...}
      aligned/        the preprocessed dataset, when training started from raw frames (aligned once)
      fold-0/ ...     one complete training run per fold (training/fit/run.py), fold K's subjects held out

``cribside eval RUN`` on such a folder evaluates every fold and reports mean and standard deviation
(training/evaluate/folds.py): with ~20 held-out subjects one split moves F1 by about +-0.09.
"""

from __future__ import annotations

from pathlib import Path

from cribside.edge.errors import CribsideError
from cribside.training.config import TrainConfig
from cribside.training.fit import run as runfiles

FOLDS_FILE = "folds.json"


def fold_dir(root: str | Path, fold: int) -> Path:
    """The run folder of one fold."""
    return Path(root) / f"fold-{fold}"


def is_folds(root: str | Path) -> bool:
    """Whether ROOT holds k-fold runs (a folds.json)."""
    return (Path(root) / FOLDS_FILE).is_file()


def fold_runs(root: str | Path) -> list[Path]:
    """The fold run folders listed in ROOT/folds.json, in fold order.

    Raises:
        CribsideError: folds.json unreadable or a listed fold missing.
    """
    root = Path(root)
    meta = runfiles.read_json(root / FOLDS_FILE)
    runs = [root / name for name in meta.get("runs", [])]
    missing = [str(p) for p in runs if not (p / runfiles.CONFIG_FILE).is_file()]
    if not runs or missing:
        raise CribsideError(f"{root / FOLDS_FILE}: fold run(s) missing or incomplete: {', '.join(missing) or 'none listed'}")
    return runs


def train_folds(data: str | Path, out: str | Path, config: TrainConfig, *, overwrite: bool = False,
                workers: int | None = None, progress: bool = True) -> Path:
    """Train ``config.folds`` runs into OUT/fold-K, each holding out fold K's subjects.

    Raises:
        CribsideError: as :func:`cribside.training.fit.train.train`; OUT already holds folds (unless ``overwrite``).
    """
    from cribside.training.data.preprocess import resolve_dataset
    from cribside.training.fit.train import train

    out = Path(out).resolve()
    if is_folds(out) and not overwrite:
        raise CribsideError(f"{out} already holds k-fold runs: choose another --out or pass --overwrite")
    dataset, _ = resolve_dataset(Path(data), out, workers=workers, progress=progress)
    runs = []
    for fold in range(config.folds):
        run = train(dataset.root, fold_dir(out, fold), config.replace(split="kfold", fold=fold),
                    overwrite=overwrite, workers=workers, progress=progress)
        runs.append(run.name)
    runfiles.write_json(out / FOLDS_FILE, {
        "folds": config.folds, "runs": runs, "features": config.features, "seed": config.seed,
        "data": str(dataset.root), "source": str(Path(data).resolve()), "synthetic": dataset.synthetic,
    })
    return out
