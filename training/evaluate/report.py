"""The paper's metrics for a run (``cribside eval``), as report.json, report.md and figures.

Reports, on the held-out test windows of the run's split (or on every window of
another dataset with ``--data``): cry accuracy and F1 (crying class); pain
accuracy, per-class F1, mean F1 and weighted F1; precision and recall of severe
pain; both confusion matrices laid out like the paper's Tables IV and V; the
majority-class baseline (what always answering the commonest class scores);
the autoencoder's SSIM loss on held-out faces with reconstructions (Fig. 7).
The split protocol and the synthetic flag are in every output.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.data.layout import CRY_LABELS, PAIN_LABELS
from cribside.training.fit.run import HISTORY_FILE, Run, read_json, write_json
from cribside.training.metrics import window_metrics
from cribside.training.nets.networks import predict_windows

log = logging.getLogger(__name__)
RECONSTRUCTIONS_SHOWN = 8
AE_EVAL_FACES = 2000  # held-out faces used for the autoencoder loss (enough for 3 decimals)
PAPER = {  # Kristian et al. 2018 on IFPaLD, random window split (Tables II-VI); for reference only
    "cry_f1": "0.930-0.942", "pain_weighted_f1": "0.924-0.952", "severe_f1": "0.985", "ssim_loss": "0.037",
}


def baseline(cry: np.ndarray, pain: np.ndarray) -> dict[str, Any]:
    """Scores of always answering the commonest test class (the floor a model must clear)."""
    cry_major = int(np.bincount(cry, minlength=2).argmax())
    pain_major = int(np.bincount(pain, minlength=3).argmax())
    m = window_metrics(cry, pain, np.full_like(cry, cry_major), np.full_like(pain, pain_major))
    return {"cry_accuracy": m["cry_accuracy"], "cry_f1": m["cry_f1"], "pain_accuracy": m["pain_accuracy"],
            "pain_weighted_f1": m["pain_weighted_f1"]}


def beats_baseline(metrics: dict[str, Any], hog: dict[str, Any] | None) -> dict[str, bool] | None:
    """Whether the model's cry F1 and pain weighted F1 are above the HOG baseline's (None without one)."""
    if hog is None:
        return None
    return {k: bool(metrics[k] > hog[k]) for k in ("cry_f1", "pain_weighted_f1")}


def verdict(model: float, hog: float, beats: bool) -> str:
    """"beats", "matches" (equal to 3 decimals) or "does not beat": the report's one-line answer."""
    if beats:
        return "beats"
    return "matches" if round(model, 3) == round(hog, 3) else "does not beat"


def cry_roc_auc(cry: np.ndarray, cry_proba: np.ndarray) -> float | None:
    """ROC AUC of the crying probability (None when the windows hold one class only)."""
    if np.unique(cry).size < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(cry, cry_proba))


def autoencoder_quality(run: Run, faces: np.ndarray) -> dict[str, Any]:
    """Mean SSIM loss (1 - SSIM) of the autoencoder on held-out faces, local and global SSIM."""
    from cribside.training.fit.latents import faces_to_input
    from cribside.training.nets.ssim import ssim

    x = faces_to_input(faces)
    recon = run.autoencoder().predict(x, batch_size=256, verbose=0)
    local = 1.0 - np.asarray(ssim(x, recon, window="gaussian"))
    whole = 1.0 - np.asarray(ssim(x, recon, window="global"))
    return {
        "faces": int(len(faces)),
        "ssim_loss": float(local.mean()), "ssim_loss_global": float(whole.mean()),
        "ssim_loss_trained_on": run.config.get("ssim_window", "gaussian"),
        "_recon": recon, "_losses": local,
    }


def evaluate_run(run: Run, out: Path | None = None, *, figures: bool = True) -> dict[str, Any]:
    """Evaluate a run on its held-out test windows and faces; write report.json, report.md, figures/.

    Returns:
        The report dict (as written to report.json).
    """
    out = Path(out) if out is not None else run.root
    latents, cry, pain = run.test_windows()
    if len(cry) == 0:
        raise CribsideError(f"{run.root}: the test split holds no windows")
    faces = run.test_faces(limit=AE_EVAL_FACES)
    from cribside.training.evaluate.baseline import run_baseline

    return _evaluate(run, out, latents, cry, pain, faces, source=run.data["data"],
                     test_desc=_test_description(run), figures=figures, hog=run_baseline(run))


def evaluate_on(run: Run, data: Path, out: Path, *, workers: int | None = None, figures: bool = True) -> dict[str, Any]:
    """Evaluate a run on every window of another dataset (aligned, or raw: aligned into ``out/aligned``).

    Raises:
        CribsideError: the dataset's crops were made with aligner settings other than the run's.
    """
    from cribside.training.data.dataset import read_faces
    from cribside.training.data.preprocess import resolve_dataset
    from cribside.training.data.windows import FrameTable, build_windows
    from cribside.training.fit.latents import encode_faces, latents_for_table
    from cribside.training.fit.run import aligner_record

    out.mkdir(parents=True, exist_ok=True)
    dataset, _ = resolve_dataset(Path(data), out, workers=workers, progress=True)
    theirs = aligner_record(dataset.aligner)
    ours_fp = (run.aligner or {}).get("fingerprint")
    if (theirs or {}).get("fingerprint") != ours_fp:
        raise CribsideError(
            f"{data}: its face crops were made with different aligner settings than the run's "
            "(compare dataset.json 'aligner' with RUN/aligner.json); preprocess it with the run's settings"
        )
    frames = [f for fs in dataset.videos().values() for f in fs]
    table = FrameTable.from_frames(frames)
    faces = read_faces(dataset, [f for f in frames if f.face])
    latents = latents_for_table(table, encode_faces(run.encoder(), faces))
    windows = build_windows(table, run.seq_len, run.config.get("label_rule", "last"))
    if len(windows) == 0:
        raise CribsideError(f"{data}: no video has {run.seq_len} consecutive frames with a face")
    from cribside.training.evaluate.baseline import run_baseline

    crops = np.zeros((len(table), *faces.shape[1:]), np.uint8)
    crops[table.face] = faces
    hog = run_baseline(run, (crops[windows.rows], windows.cry, windows.pain))
    return _evaluate(run, out, latents[windows.rows], windows.cry, windows.pain, faces[:AE_EVAL_FACES],
                     source=str(dataset.root), test_desc=f"every window of {dataset.root}", figures=figures, hog=hog)


def _evaluate(run: Run, out: Path, latents: np.ndarray, cry: np.ndarray, pain: np.ndarray, faces: np.ndarray,
              *, source: str, test_desc: str, figures: bool, hog: dict[str, Any] | None = None) -> dict[str, Any]:
    cry_p, pain_p = predict_windows(run.classifier(), latents)
    metrics = window_metrics(cry, pain, cry_p.argmax(1), pain_p.argmax(1))
    metrics["cry_roc_auc"] = cry_roc_auc(cry, cry_p[:, 1])
    ae = autoencoder_quality(run, faces) if len(faces) and run.autoencoder() is not None else None
    report = {
        "synthetic": run.synthetic,
        "split": {k: run.split[k] for k in ("protocol", "seed") if k in run.split} | {"test": test_desc},
        "data": source,
        "features": run.features,
        "config": {k: run.config.get(k) for k in ("features", "seq_len", "units", "dropout", "pain_dropout", "heads",
                                                    "balance", "label_rule", "l2", "mirror", "fps", "seed")},
        "metrics": metrics,
        "baseline_majority": baseline(cry, pain),
        "baseline_hog": hog,
        "beats_hog_baseline": beats_baseline(metrics, hog),
        "autoencoder": {k: v for k, v in (ae or {}).items() if not k.startswith("_")} or None,
        "paper_reference": PAPER,
    }
    out.mkdir(parents=True, exist_ok=True)
    if figures:
        report["figures"] = _write_figures(run, out, metrics, faces, ae)
    write_json(out / "report.json", report)
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    log.info("cry F1 %.3f, pain weighted F1 %.3f on %d windows; report in %s",
             metrics["cry_f1"], metrics["pain_weighted_f1"], metrics["n_windows"], out / "report.md")
    return report


def _write_figures(run: Run, out: Path, metrics: dict[str, Any], faces: np.ndarray,
                   ae: dict[str, Any] | None) -> list[str]:
    from cribside.training.evaluate import figures

    folder = out / "figures"
    folder.mkdir(exist_ok=True)
    written = [figures.confusion_matrices(
        [("cry", metrics["cry"]["confusion"], CRY_LABELS), ("pain", metrics["pain"]["confusion"], PAIN_LABELS)],
        folder / "confusion.png")]
    history_path = run.root / HISTORY_FILE
    if history_path.is_file():
        written.append(figures.training_curves(read_json(history_path), folder / "training_curves.png"))
    if ae is not None:
        n = min(RECONSTRUCTIONS_SHOWN, len(faces))
        pick = np.linspace(0, len(faces) - 1, n).astype(int)
        recon = np.clip(ae["_recon"][pick, ..., 0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
        title = "held-out faces (top) and reconstructions (bottom), 1 - SSIM under each"
        if run.synthetic:
            title = "SYNTHETIC " + title
        written.append(figures.reconstructions(faces[pick], recon, ae["_losses"][pick],
                                               folder / "reconstructions.png", title))
    return [str(p.relative_to(out)) for p in written]


def _test_description(run: Run) -> str:
    if run.split.get("protocol") == "random":
        return f"{len(run.split['test'])} random windows (subjects also in training)"
    return f"held-out subjects: {', '.join(run.split['test'])}"


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: headline table, confusion matrices in the paper's layout, autoencoder loss."""
    from cribside.training.evaluate.report_md import render

    return render(report)
