"""Mean and standard deviation over k-fold runs (``cribside eval RUN`` on a folder of folds).

Every fold is evaluated like a single run (its own report.json, with the HOG baseline fitted and
scored on that fold's windows); RUN/report.json and RUN/report.md then give, for the model, the
majority class and the HOG baseline, the mean and the sample standard deviation over folds of cry
F1, cry ROC AUC and pain weighted F1, and the one-line answer: does the model beat the baseline on
the mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cribside.training.fit.folds import FOLDS_FILE as FOLDS_META
from cribside.training.fit.folds import fold_runs
from cribside.training.fit.run import load_run, read_json, write_json

FIGURES = ("cry_f1", "cry_roc_auc", "pain_weighted_f1")


def spread(values: list[float | None]) -> dict[str, Any] | None:
    """{"mean", "sd", "n"} of the values that exist (sd: sample, ddof=1; 0 for one value); None if none."""
    have = np.array([v for v in values if v is not None], dtype=np.float64)
    if have.size == 0:
        return None
    sd = float(have.std(ddof=1)) if have.size > 1 else 0.0
    return {"mean": float(have.mean()), "sd": sd, "n": int(have.size)}


def summarize_folds(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean/sd table of fold reports (each as written by ``cribside eval`` for one run)."""
    table: dict[str, dict[str, Any]] = {}
    for source, key in (("model", "metrics"), ("majority", "baseline_majority"), ("hog", "baseline_hog")):
        table[source] = {f: spread([(r.get(key) or {}).get(f) for r in reports]) for f in FIGURES}
    beats = {}
    for f in ("cry_f1", "pain_weighted_f1"):
        model, hog = table["model"][f], table["hog"][f]
        beats[f] = None if model is None or hog is None else bool(model["mean"] > hog["mean"])
    return {"folds": len(reports), "table": table, "beats_hog_baseline": beats,
            "per_fold": [{"test": r["split"]["test"], "windows": r["metrics"]["n_windows"],
                          "cry_f1": r["metrics"]["cry_f1"], "hog_cry_f1": (r.get("baseline_hog") or {}).get("cry_f1")}
                         for r in reports]}


def evaluate_folds(root: str | Path, *, figures: bool = True) -> dict[str, Any]:
    """Evaluate every fold of ROOT (its report in each fold's folder) and write ROOT/report.json, report.md."""
    from cribside.training.evaluate.report import evaluate_run

    root = Path(root)
    reports = [evaluate_run(load_run(path), figures=figures) for path in fold_runs(root)]
    meta = read_json(root / FOLDS_META)
    summary = {"synthetic": bool(meta.get("synthetic", False)), "features": meta.get("features"),
               "data": meta.get("data"), "split": {"protocol": "kfold", "seed": meta.get("seed")}} | summarize_folds(reports)
    write_json(root / "report.json", summary)
    (root / "report.md").write_text(render_markdown(summary), encoding="utf-8")
    return summary


def fmt(cell: dict[str, Any] | None) -> str:
    """``0.874 ± 0.063`` (or ``n/a``)."""
    return "n/a" if cell is None else f"{cell['mean']:.3f} ± {cell['sd']:.3f}"


def render_markdown(summary: dict[str, Any]) -> str:
    """The fold summary as Markdown."""
    tag = "SYNTHETIC data. " if summary["synthetic"] else ""
    lines = [f"# k-fold evaluation ({summary['folds']} folds by subject, features {summary['features']})", "",
             f"{tag}Data: `{summary['data']}`. Mean ± sample standard deviation over folds; every fold's "
             "baseline is fitted and scored on that fold's own windows.", "",
             "| | cry F1 | cry ROC AUC | pain weighted F1 |", "|---|---|---|---|"]
    names = {"model": "model", "hog": "HOG + logistic regression", "majority": "majority class"}
    for source, name in names.items():
        row = summary["table"][source]
        lines.append(f"| {name} | {fmt(row['cry_f1'])} | {fmt(row['cry_roc_auc'])} | {fmt(row['pain_weighted_f1'])} |")
    lines += ["", verdict_line(summary), "", "| fold | test | windows | cry F1 | HOG cry F1 |", "|---|---|---|---|---|"]
    for k, f in enumerate(summary["per_fold"]):
        hog = "n/a" if f["hog_cry_f1"] is None else f"{f['hog_cry_f1']:.3f}"
        lines.append(f"| {k} | {f['test']} | {f['windows']} | {f['cry_f1']:.3f} | {hog} |")
    return "\n".join(lines) + "\n"


def verdict_line(summary: dict[str, Any]) -> str:
    """One line: does the model's mean beat the HOG baseline's mean, per task."""
    from cribside.training.evaluate.report import verdict

    parts = []
    for f, name in (("cry_f1", "cry F1"), ("pain_weighted_f1", "pain weighted F1")):
        model, hog = summary["table"]["model"][f], summary["table"]["hog"][f]
        if model is None or hog is None:
            continue
        parts.append(f"{verdict(model['mean'], hog['mean'], bool(summary['beats_hog_baseline'][f]))} the HOG baseline "
                     f"on mean {name} ({model['mean']:.3f} vs {hog['mean']:.3f})")
    return "model " + "; ".join(parts) if parts else "no HOG baseline"
