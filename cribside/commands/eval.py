"""``cribside eval RUN [--data DATA] [--device MODELS]``: the paper's metrics for a training run.

Without ``--device``: the Keras models on the run's held-out test windows (or on
every window of ``--data``), written to report.json, report.md and figures/.
With ``--device MODELS``: the device path (TFLite models, aligner, sampling,
windows) over the run's test videos, provided by ``cribside.training.evaluate.device``.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from cribside.edge.errors import CribsideError

DEVICE_EVAL_MODULE = "cribside.training.evaluate.device"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("run", type=Path, help="run folder written by 'cribside train'")
    parser.add_argument("--data", type=Path, help="evaluate on every window of this dataset instead of the test split")
    parser.add_argument("--out", type=Path, help="where to write the report (default: RUN, or RUN/eval-<name> with --data)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.add_argument("--workers", type=int, help="processes for aligning a raw --data dataset")
    parser.add_argument("--device", type=Path, metavar="MODELS",
                        help="evaluate the TFLite device path with the converted models in MODELS")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the headline figures."""
    from cribside.training.nets.session import prepare_tensorflow

    prepare_tensorflow()
    from cribside.training.fit.folds import is_folds
    from cribside.training.fit.run import load_run

    if is_folds(args.run):
        return _folds_eval(args)
    run_ = load_run(args.run)
    if args.device is not None:
        return _device_eval(run_, args)
    from cribside.training.evaluate.report import evaluate_on, evaluate_run

    if args.data is not None:
        out = args.out or run_.root / f"eval-{args.data.resolve().name}"
        report = evaluate_on(run_, args.data, out, workers=args.workers, figures=not args.no_figures)
    else:
        out = args.out or run_.root
        report = evaluate_run(run_, out, figures=not args.no_figures)
    m = report["metrics"]
    tag = "SYNTHETIC data, " if report["synthetic"] else ""
    auc = "" if m.get("cry_roc_auc") is None else f" ROC AUC {m['cry_roc_auc']:.3f}"
    print(
        f"[{tag}split {report['split']['protocol']}, features {report.get('features', 'paper')}] {m['n_windows']} windows: "
        f"cry acc {m['cry_accuracy']:.3f} F1 {m['cry_f1']:.3f}{auc}; pain acc {m['pain_accuracy']:.3f} "
        f"mean F1 {m['pain_mean_f1']:.3f} weighted F1 {m['pain_weighted_f1']:.3f} "
        f"(none {m['pain_f1']['none']:.3f}, moderate {m['pain_f1']['moderate']:.3f}, "
        f"severe {m['pain_f1']['severe']:.3f})"
    )
    hog = report.get("baseline_hog")
    if hog is not None:
        auc = "n/a" if hog["cry_roc_auc"] is None else f"{hog['cry_roc_auc']:.3f}"
        print(f"HOG+logistic baseline (same split, crops, windows; {hog['n_train_windows']} training windows): "
              f"cry F1 {hog['cry_f1']:.3f} ROC AUC {auc}; pain weighted F1 {hog['pain_weighted_f1']:.3f}")
        print(verdict_line(report))
    if report.get("autoencoder"):
        print(f"autoencoder SSIM loss on held-out faces: {report['autoencoder']['ssim_loss']:.3f}")
    print(f"report: {out / 'report.md'}")
    return 0


def _folds_eval(args: argparse.Namespace) -> int:
    if args.data is not None or args.device is not None:
        raise CribsideError(f"{args.run} holds k-fold runs: --data and --device take one fold's run ({args.run}/fold-K)")
    from cribside.training.evaluate.folds import evaluate_folds, fmt
    from cribside.training.evaluate.folds import verdict_line as folds_verdict

    summary = evaluate_folds(args.run, figures=not args.no_figures)
    t = summary["table"]
    tag = "SYNTHETIC data, " if summary["synthetic"] else ""
    print(f"[{tag}{summary['folds']} folds by subject, features {summary['features']}] mean ± sd over folds")
    for source, name in (("model", "model"), ("hog", "HOG+logistic baseline"), ("majority", "majority class")):
        print(f"  {name:<22} cry F1 {fmt(t[source]['cry_f1'])}  ROC AUC {fmt(t[source]['cry_roc_auc'])}  "
              f"pain weighted F1 {fmt(t[source]['pain_weighted_f1'])}")
    print(folds_verdict(summary))
    print(f"report: {args.run / 'report.md'}")
    return 0


def verdict_line(report: dict[str, Any]) -> str:
    """The report's one line: does the model beat the HOG baseline on cry F1 and pain weighted F1."""
    from cribside.training.evaluate.report import verdict

    m, hog, beats = report["metrics"], report["baseline_hog"], report["beats_hog_baseline"]
    return (f"model {verdict(m['cry_f1'], hog['cry_f1'], beats['cry_f1'])} the HOG baseline on cry F1 "
            f"({m['cry_f1']:.3f} vs {hog['cry_f1']:.3f}); "
            f"{verdict(m['pain_weighted_f1'], hog['pain_weighted_f1'], beats['pain_weighted_f1'])} it on pain "
            f"weighted F1 ({m['pain_weighted_f1']:.3f} vs {hog['pain_weighted_f1']:.3f})")


def _device_eval(run_: Any, args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(DEVICE_EVAL_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != DEVICE_EVAL_MODULE:
            raise
        raise CribsideError("--device evaluation is not available in this build (no cribside.training.evaluate.device)") from None
    report = module.evaluate_device(run_, Path(args.device))
    path = module.write_device_report(report, Path(args.out or run_.root))
    print(module.format_report(report))
    print(f"report: {path}")
    return 0
