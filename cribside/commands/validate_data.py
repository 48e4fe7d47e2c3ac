"""``cribside validate-data DATA``: check a dataset folder and print what it holds."""

from __future__ import annotations

import argparse
from collections import Counter

from cribside.training.data.layout import CRY_LABELS, PAIN_LABELS, Dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="dataset root (labels.csv, dataset.json, <subject>/<video>/)")


def summarize(dataset: Dataset) -> str:
    """Subjects, videos, frames and label counts, one fact per line."""
    n = len(dataset.frames)
    cry = Counter(f.cry for f in dataset.frames)
    pain = Counter(f.pain for f in dataset.frames)
    faces = sum(f.face for f in dataset.frames)

    def counts(counter: Counter, labels: tuple[str, ...]) -> str:
        return ", ".join(f"{label} {counter[k]} ({100 * counter[k] / n:.1f}%)" for k, label in enumerate(labels))

    lines = [
        f"{dataset.root}: {dataset.kind} dataset{' (SYNTHETIC)' if dataset.synthetic else ''}, {dataset.fps:g} fps",
        f"  subjects: {len(dataset.subjects())}",
        f"  videos:   {len(dataset.videos())}",
        f"  frames:   {n} ({faces} with a face)",
        f"  cry:      {counts(cry, CRY_LABELS)}",
        f"  pain:     {counts(pain, PAIN_LABELS)}",
        f"  aligner:  {'recorded' if dataset.aligner else 'none recorded'}",
    ]
    lines += [f"  warning: {w}" for w in dataset.warnings]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from cribside.training.data.dataset import validate_dataset

    print(summarize(validate_dataset(args.data)))
    return 0
