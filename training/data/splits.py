"""Train / validation / test splits, recorded in ``RUN/split.json``.

- ``subject`` (default): whole infants are held out for test, and others for
  validation (early stopping); no subject is in two parts. This measures how
  the model does on a baby it has never seen.
- ``kfold``: subjects in ``folds`` groups; group ``fold`` is the test set,
  validation subjects come from the rest. Run once per fold to cover everyone.
- ``random``: the paper's protocol, windows shuffled 80/20 regardless of who
  is in them; the same infant (and overlapping windows, which share frames)
  sits on both sides, so its figures are optimistic. Lists hold window ids.

Deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.data.windows import FrameTable, Windows

MIN_SUBJECTS = 3  # one each for train, validation and test
STRATIFY_TRIES = 200  # seeded shuffles tried to find held-out sets that show every class


@dataclass(frozen=True)
class Split:
    """Which subjects (or, for ``random``, which window ids) go where."""

    protocol: str
    seed: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    folds: int | None = None
    fold: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``split.json``)."""
        out: dict[str, Any] = {
            "protocol": self.protocol, "seed": self.seed,
            "train": list(self.train), "val": list(self.val), "test": list(self.test),
        }
        if self.protocol == "kfold":
            out.update(folds=self.folds, fold=self.fold)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Split:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["protocol"], int(d["seed"]), tuple(d["train"]), tuple(d["val"]), tuple(d["test"]),
            d.get("folds"), d.get("fold"),
        )

    def window_part(self, windows: Windows) -> np.ndarray:
        """Per window: 0 train, 1 val, 2 test, -1 in none (e.g. a subject not in this split)."""
        keys = windows.ids if self.protocol == "random" else windows.subject
        return _part(keys, self)

    def frame_part(self, table: FrameTable, windows: Windows) -> np.ndarray:
        """Per frame, for the autoencoder: 0 train, 1 val, 2 test, -1 unused (no face or not split).

        For ``random`` a frame belongs to the earliest part (train < val < test) of
        any window that holds it, so no training frame is counted as held out.
        """
        if self.protocol != "random":
            part = _part(table.subject, self)
            part[~table.face] = -1
            return part
        part = np.full(len(table), -1, dtype=np.int64)
        wpart = self.window_part(windows)
        for p in (2, 1, 0):  # later assignment wins: train overrides val overrides test
            part[windows.rows[wpart == p].ravel()] = p
        return part


def subject_split(subjects: Sequence[str], test_fraction: float, val_fraction: float, seed: int,
                  classes: Mapping[str, set] | None = None) -> Split:
    """Hold out whole subjects: ``test_fraction`` of them for test, ``val_fraction`` of the rest for validation.

    Args:
        classes: optional subject -> set of labels present (e.g. {("pain", 1), ("cry", 0)}).
            When given, the first of up to ``STRATIFY_TRIES`` seeded shuffles whose test and
            validation subjects both show every label is used, so a held-out set is never
            missing a class (e.g. moderate pain) just by chance; else the seed's own shuffle.
    """
    subjects = _check_subjects(subjects)
    candidates = [_subject_parts(subjects, test_fraction, val_fraction, seed, attempt)
                  for attempt in range(STRATIFY_TRIES if classes else 1)]
    chosen = candidates[0]
    if classes:
        everything = set().union(*(classes.get(s, set()) for s in subjects))
        covers = lambda group: set().union(*(classes.get(s, set()) for s in group)) == everything  # noqa: E731
        chosen = next((c for c in candidates if covers(c[1]) and covers(c[2])), chosen)
    train, val, test = chosen
    return Split("subject", seed, tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test)))


def _subject_parts(subjects: list[str], test_fraction: float, val_fraction: float, seed: int,
                   attempt: int) -> tuple[list[str], list[str], list[str]]:
    order = _shuffled(subjects, seed if attempt == 0 else seed * 1000 + attempt)
    n_test = min(len(order) - 2, max(1, round(test_fraction * len(order))))
    test, rest = order[:n_test], order[n_test:]
    n_val = min(len(rest) - 1, max(1, round(val_fraction * len(rest))))
    return rest[n_val:], rest[:n_val], test


def kfold_split(subjects: Sequence[str], folds: int, fold: int, val_fraction: float, seed: int) -> Split:
    """Fold ``fold`` of ``folds`` subject groups is the test set; validation subjects from the rest."""
    subjects = _check_subjects(subjects)
    if not 2 <= folds <= len(subjects) - 1:
        raise CribsideError(f"--folds must be 2..{len(subjects) - 1} for {len(subjects)} subjects, got {folds}")
    groups = np.array_split(np.array(_shuffled(subjects, seed), dtype=object), folds)
    test = [str(s) for s in groups[fold]]
    rest = [str(s) for g, group in enumerate(groups) if g != fold for s in group]
    n_val = min(len(rest) - 1, max(1, round(val_fraction * len(rest))))
    return Split(
        "kfold", seed, tuple(sorted(rest[n_val:])), tuple(sorted(rest[:n_val])), tuple(sorted(test)), folds, fold
    )


def random_split(window_ids: Sequence[str], test_fraction: float, val_fraction: float, seed: int) -> Split:
    """The paper's protocol: windows shuffled; ``test_fraction`` test, ``val_fraction`` of the rest validation."""
    ids = sorted(set(str(i) for i in window_ids))
    if len(ids) < 3:
        raise CribsideError(f"need at least 3 windows for a random split, found {len(ids)}")
    order = _shuffled(ids, seed)
    n_test = max(1, round(test_fraction * len(order)))
    test, rest = order[:n_test], order[n_test:]
    n_val = max(1, round(val_fraction * len(rest)))
    return Split("random", seed, tuple(sorted(rest[n_val:])), tuple(sorted(rest[:n_val])), tuple(sorted(test)))


def _part(keys: np.ndarray, split: Split) -> np.ndarray:
    part = np.full(keys.shape[0], -1, dtype=np.int64)
    for p, members in enumerate((split.train, split.val, split.test)):
        part[np.isin(keys, np.array(members, dtype=str))] = p
    return part


def _check_subjects(subjects: Sequence[str]) -> list[str]:
    unique = sorted(set(str(s) for s in subjects))
    if len(unique) < MIN_SUBJECTS:
        raise CribsideError(
            f"a subject-independent split needs at least {MIN_SUBJECTS} subjects (train, validation, test); "
            f"the dataset has {len(unique)}: use --split random"
        )
    return unique


def _shuffled(items: list[str], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [items[i] for i in rng.permutation(len(items))]
