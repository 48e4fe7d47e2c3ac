"""The device path over a run's held-out recordings (``cribside eval RUN --device MODELS``).

Window metrics: every held-out (subject, video) of the run's *raw* dataset is replayed
through the device exactly as ``cribside run`` would watch it (frames folder at the
dataset's frame rate -> aligner -> TFLite encoder -> window -> TFLite classifier).
Each classified window is scored against its last frame's label (or the majority, as
the run's ``label_rule`` says), and the paper's metrics are printed next to the Keras
models' on the run's test windows: they should agree within 1 point (no train/serve skew).

Alert figures: on continuous videos (``cribside synth --video`` writes them to
``<dataset>/../videos/<subject>_<video>.mp4`` with ``.labels.csv``), the device's alert
level over time against the true distress episodes: false alarms per hour, missed
episodes and the median time from an episode's first frame to its alert. Truth episodes
closer together than ``quiet_s`` are merged, as the device merges them.
All of it is a SYNTHETIC figure when the run was trained on synthetic data.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from cribside.edge.app.replay import replay
from cribside.edge.errors import CribsideError
from cribside.edge.sources.folder import IMAGE_SUFFIXES
from cribside.edge.temporal.alerts import AlertSettings

DISTRESS_LEVELS = {"cry", "moderate_pain", "severe_pain"}
_HEADLINE = ("cry_accuracy", "cry_f1", "pain_accuracy", "pain_mean_f1", "pain_weighted_f1")
AGREEMENT_POINTS = 1.0  # device and Keras figures should agree within this many points
DEVICE_REPORT_FILE = "device_report.json"


def _raw_source(run_: Any) -> Path:
    """The raw dataset behind a run: its own source, or the raw folder 'cribside preprocess' aligned."""
    from cribside.training.data.dataset import load_dataset

    if run_.data.get("source_kind") == "raw":
        return Path(run_.data["source"])
    aligned = load_dataset(run_.data["data"])
    raw = (json.loads((aligned.root / "dataset.json").read_text(encoding="utf-8")).get("source")
           if (aligned.root / "dataset.json").is_file() else None)
    if aligned.aligner is None or not raw or not Path(raw).is_dir():
        raise CribsideError(
            f"run {run_.root} was trained on crops not made by the aligner from a raw dataset that is still "
            "on disk; the device path needs the raw frames (train from a raw dataset, or preprocess one)"
        )
    return Path(raw)


def evaluate_device(run_: Any, models: Path) -> dict[str, Any]:
    """Window metrics (device vs Keras) and, when videos exist, alert-level figures."""
    from cribside.training.data.dataset import load_dataset

    if run_.split.get("protocol") == "random":
        raise CribsideError("--device needs a subject or kfold split (a random split has no held-out videos)")
    dataset = load_dataset(_raw_source(run_))
    test = set(run_.split["test"])
    videos = {key: frames for key, frames in dataset.videos().items() if key[0] in test}
    specs = {f"{s}/{v}": f"frames:{dataset.root / s / v}?fps={dataset.fps:g}" for s, v in videos}
    rows = replay(specs, models)
    device = _window_metrics(rows, videos, dataset.root, run_.config.get("label_rule", "last"))
    report = {
        "synthetic": bool(run_.synthetic),
        "models": str(models),
        "test_subjects": sorted(test),
        "device": device,
        "keras": {k: v for k, v in run_.keras_metrics().items() if k in _HEADLINE or k == "n_windows"},
    }
    report["difference_points"] = {k: round(100 * (device[k] - report["keras"][k]), 2) for k in _HEADLINE}
    report["agree_within_1_point"] = all(abs(d) <= AGREEMENT_POINTS for d in report["difference_points"].values())
    report["baseline_hog"] = _hog_baseline(run_)
    alerts = _alert_figures(Path(run_.data["source"]).parent / "videos", test, models)
    if alerts is not None:
        report["alerts"] = alerts
    return report


def _hog_baseline(run_: Any) -> dict[str, Any] | None:
    """The HOG + logistic-regression yardstick on the Keras side's test windows (None without scikit-learn)."""
    try:
        from cribside.training.evaluate.baseline import run_baseline

        return run_baseline(run_)
    except ModuleNotFoundError as exc:
        if exc.name != "sklearn":
            raise
        return None


def write_device_report(report: dict[str, Any], out: Path) -> Path:
    """Write ``OUT/device_report.json`` (OUT is created); returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / DEVICE_REPORT_FILE
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def _window_metrics(rows: dict[str, list[dict[str, Any]]], videos: dict[tuple[str, str], list[Any]], root: Path,
                    label_rule: str) -> dict[str, Any]:
    from cribside.training.metrics import window_metrics

    cry_true, pain_true, cry_pred, pain_pred = [], [], [], []
    for (subject, video), frames in videos.items():
        by_number = {f.frame: f for f in frames}
        files = sorted(p for p in (root / subject / video).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        numbers = [int(p.stem) for p in files]  # FolderSource index -> labelled frame number
        for row in rows[f"{subject}/{video}"]:
            if row["window_frames"] is None:
                continue
            labels = [by_number[numbers[i]] for i in row["window_frames"]]
            cry_true.append(_rule([f.cry for f in labels], label_rule))
            pain_true.append(_rule([f.pain for f in labels], label_rule))
            cry_pred.append(int(np.argmax(list(row["cry"]["p"].values()))))
            pain_pred.append(int(np.argmax(list(row["pain"]["p"].values()))))
    if not cry_true:
        raise CribsideError("the device classified no window on the held-out videos (no faces found?)")
    metrics = window_metrics(np.array(cry_true), np.array(pain_true), np.array(cry_pred), np.array(pain_pred))
    return {k: v for k, v in metrics.items() if k in _HEADLINE or k == "n_windows"}


def _rule(values: list[int], label_rule: str) -> int:
    if label_rule == "majority":
        counts = np.bincount(values)
        return int(np.flatnonzero(counts == counts.max())[-1])  # ties go to the more severe class
    return int(values[-1])


def _alert_figures(videos_dir: Path, test: set[str], models: Path) -> dict[str, Any] | None:
    """False alarms per hour, missed episodes and time to alert on the held-out continuous videos."""
    videos = sorted(p for p in videos_dir.glob("*.mp4") if p.stem.split("_")[0] in test) if videos_dir.is_dir() else []
    labelled = [p for p in videos if p.with_name(p.stem + ".labels.csv").is_file()]
    if not labelled:
        return None
    quiet_s = AlertSettings().quiet_s
    rows = replay({p.stem: str(p) for p in labelled}, models)
    false_alarms, missed, found, delays, hours = 0, 0, 0, [], 0.0
    for video in labelled:
        truth, duration_s = _truth_episodes(video.with_name(video.stem + ".labels.csv"), quiet_s)
        alarms = _device_episodes(rows[video.stem])
        hours += duration_s / 3600
        false_alarms += sum(not any(t0 <= a0 <= t1 for t0, t1 in truth) for a0, _ in alarms)
        for t0, t1 in truth:
            overlapping = [a0 for a0, a1 in alarms if a0 <= t1 and a1 >= t0]
            if not overlapping:
                missed += 1
                continue
            found += 1
            delays.append(max(0.0, min(overlapping) - t0))
    return {
        "videos": len(labelled),
        "hours": round(hours, 4),
        "episodes": found + missed,
        "missed_episodes": missed,
        "false_alarms": false_alarms,
        "false_alarms_per_hour": round(false_alarms / hours, 2) if hours else None,
        "median_time_to_alert_s": round(float(np.median(delays)), 2) if delays else None,
        "alert_settings": AlertSettings().__dict__,
    }


def _truth_episodes(labels_csv: Path, merge_gap_s: float) -> tuple[list[tuple[float, float]], float]:
    """Distress runs (cry or any pain) from a video's labels CSV, merged across gaps under ``merge_gap_s``."""
    with labels_csv.open(encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    times = [float(r["t_s"]) for r in table]
    distress = [r["cry"] == "1" or r["pain"] != "none" for r in table]
    episodes: list[tuple[float, float]] = []
    for t, hot in zip(times, distress):
        if not hot:
            continue
        if episodes and t - episodes[-1][1] < merge_gap_s:
            episodes[-1] = (episodes[-1][0], t)
        else:
            episodes.append((t, t))
    step = times[1] - times[0] if len(times) > 1 else 0.0
    return episodes, (times[-1] + step if times else 0.0)


def _device_episodes(rows: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """Runs of sampled frames during which the device's alert level was a distress level."""
    episodes: list[tuple[float, float]] = []
    active = False
    for row in rows:
        hot = row["alert_level"] in DISTRESS_LEVELS
        if hot and not active:
            episodes.append((row["t_s"], row["t_s"]))
        elif hot:
            episodes[-1] = (episodes[-1][0], row["t_s"])
        active = hot
    return episodes


def format_report(report: dict[str, Any]) -> str:
    """Side-by-side table of device and Keras figures, then the alert figures."""
    tag = "SYNTHETIC data: " if report["synthetic"] else ""
    d, k = report["device"], report["keras"]
    lines = [f"{tag}device path vs Keras on held-out subjects {', '.join(report['test_subjects'])}",
             f"{'metric':<18} {'device':>8} {'keras':>8} {'diff (points)':>14}",
             f"{'windows':<18} {d['n_windows']:>8} {k['n_windows']:>8}"]
    for name in _HEADLINE:
        lines.append(f"{name:<18} {d[name]:>8.3f} {k[name]:>8.3f} {report['difference_points'][name]:>+14.2f}")
    verdict = "agree" if report["agree_within_1_point"] else "DO NOT agree"
    lines.append(f"device and Keras {verdict} within {AGREEMENT_POINTS:g} point")
    hog = report.get("baseline_hog")
    if hog is not None:
        lines.append(f"HOG+logistic baseline on the Keras windows ({hog['n_windows']}): cry F1 {hog['cry_f1']:.3f}, "
                     f"pain weighted F1 {hog['pain_weighted_f1']:.3f} (device: {d['cry_f1']:.3f}, {d['pain_weighted_f1']:.3f})")
    alerts = report.get("alerts")
    if alerts:
        lines.append(
            f"alerts on {alerts['videos']} continuous videos ({alerts['hours'] * 60:.1f} min): "
            f"{alerts['episodes']} episodes, {alerts['missed_episodes']} missed, {alerts['false_alarms']} false alarms "
            f"({alerts['false_alarms_per_hour']}/h), median time to alert {alerts['median_time_to_alert_s']} s"
        )
    else:
        lines.append("alert figures: no continuous test videos with labels (cribside synth --video makes them)")
    return "\n".join(lines)
