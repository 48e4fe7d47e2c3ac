"""The paper's metrics, from confusion matrices.

Confusion matrices are laid out as in the paper's Tables IV and V: rows are the
truth, columns the prediction, classes in label order (cry: no, yes; pain:
none, moderate, severe).

- accuracy: trace / total.
- per class: precision, recall, F1 = 2PR / (P + R) (0 when P + R = 0).
- cry F1: the F1 of the "yes" (crying) class, the positive class; the paper's
  Table IV gives 0.930 this way.
- pain: mean F1 (unweighted over classes) and weighted F1 (weighted by each
  class's support, the number of true windows).
Pure numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cribside.training.data.layout import CRY_LABELS, PAIN_LABELS


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): rows truth, columns prediction."""
    truth = np.asarray(truth, dtype=np.int64).ravel()
    predicted = np.asarray(predicted, dtype=np.int64).ravel()
    if truth.shape != predicted.shape:
        raise ValueError(f"truth and predictions differ in length: {truth.shape} vs {predicted.shape}")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (truth, predicted), 1)
    return cm


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def summarize(cm: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Everything the report needs for one task, JSON-ready.

    Returns:
        ``accuracy``, ``mean_f1``, ``weighted_f1``, ``per_class`` {label: {precision, recall, f1, support}},
        ``confusion`` (list of rows, truth by prediction), ``labels``, ``n``.
    """
    cm = np.asarray(cm, dtype=np.int64)
    stats = per_class(cm)
    total = int(cm.sum())
    support = stats["support"]
    weighted = float((stats["f1"] * support).sum() / support.sum()) if support.sum() else 0.0
    return {
        "labels": list(labels),
        "n": total,
        "accuracy": float(np.trace(cm) / total) if total else 0.0,
        "mean_f1": float(stats["f1"].mean()),
        "weighted_f1": weighted,
        "per_class": {
            label: {
                "precision": float(stats["precision"][i]),
                "recall": float(stats["recall"][i]),
                "f1": float(stats["f1"][i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": cm.tolist(),
    }


def task_metrics(cry_true: np.ndarray, cry_pred: np.ndarray, pain_true: np.ndarray, pain_pred: np.ndarray,
                 cry_labels: Sequence[str], pain_labels: Sequence[str]) -> dict[str, Any]:
    """The paper's headline figures for both tasks, plus the full per-task summaries.

    Returns:
        ``cry_accuracy``, ``cry_f1`` (crying class), ``pain_accuracy``, ``pain_f1`` (per class),
        ``pain_mean_f1``, ``pain_weighted_f1``, ``severe_precision``, ``severe_recall``, and
        ``cry`` / ``pain`` summaries (see :func:`summarize`).
    """
    cry = summarize(confusion_matrix(cry_true, cry_pred, len(cry_labels)), cry_labels)
    pain = summarize(confusion_matrix(pain_true, pain_pred, len(pain_labels)), pain_labels)
    positive, severe = cry_labels[-1], pain_labels[-1]
    return {
        "n_windows": cry["n"],
        "cry_accuracy": cry["accuracy"],
        "cry_f1": cry["per_class"][positive]["f1"],
        "pain_accuracy": pain["accuracy"],
        "pain_f1": {label: pain["per_class"][label]["f1"] for label in pain_labels},
        "pain_mean_f1": pain["mean_f1"],
        "pain_weighted_f1": pain["weighted_f1"],
        "severe_precision": pain["per_class"][severe]["precision"],
        "severe_recall": pain["per_class"][severe]["recall"],
        "cry": cry,
        "pain": pain,
    }


def window_metrics(cry: np.ndarray, pain: np.ndarray, cry_pred: np.ndarray, pain_pred: np.ndarray) -> dict[str, Any]:
    """The paper's metrics with this project's label names (:func:`task_metrics`)."""
    return task_metrics(cry, cry_pred, pain, pain_pred, CRY_LABELS, PAIN_LABELS)
