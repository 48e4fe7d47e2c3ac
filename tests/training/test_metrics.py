"""Metrics against the paper's own confusion matrices (Tables IV and V) and hand-computed cases."""

import numpy as np
import pytest

from cribside.training.data.dataset import CRY_LABELS, PAIN_LABELS
from cribside.training.metrics import confusion_matrix, summarize, task_metrics

PRINTED = 0.0005  # the paper prints three decimals: a figure matches within half a unit of the last digit
PAPER_CRY_CM = np.array([[1674, 137], [35, 1137]])  # Table IV, rows truth (no, yes), columns predicted
PAPER_PAIN_CM = np.array([[943, 2, 0], [85, 139, 22], [21, 11, 1760]])  # Table V, rows truth none/moderate/severe


def _expand(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-window truth and prediction arrays that produce the confusion matrix ``cm``."""
    truth, pred = [], []
    for i, row in enumerate(cm):
        for j, count in enumerate(row):
            truth += [i] * int(count)
            pred += [j] * int(count)
    return np.array(truth), np.array(pred)


def test_paper_table_iv_cry_f1_is_0930():
    summary = summarize(PAPER_CRY_CM, CRY_LABELS)
    assert summary["per_class"]["yes"]["f1"] == pytest.approx(0.930, abs=PRINTED)
    assert summary["accuracy"] == pytest.approx(0.942, abs=PRINTED)  # Table VI's 0.942
    assert summary["n"] == 2983  # the paper's test window count


def test_paper_table_v_pain_figures():
    summary = summarize(PAPER_PAIN_CM, PAIN_LABELS)
    assert summary["weighted_f1"] == pytest.approx(0.949, abs=PRINTED)  # Table III, dropout 0.25
    assert summary["mean_f1"] == pytest.approx(0.876, abs=PRINTED)
    assert summary["accuracy"] == pytest.approx(0.95, abs=0.005)
    assert summary["per_class"]["severe"]["f1"] == pytest.approx(0.985, abs=PRINTED)  # Table VI
    # Moderate is the hard class in the paper.
    f1 = {k: v["f1"] for k, v in summary["per_class"].items()}
    assert min(f1, key=f1.get) == "moderate"


def test_task_metrics_from_window_arrays_reproduce_the_paper():
    cry_t, cry_p = _expand(PAPER_CRY_CM)
    pain_t, pain_p = _expand(PAPER_PAIN_CM)
    # Different lengths are fine for the tasks separately; pad cry to pain's length is not needed:
    m_cry = task_metrics(cry_t, cry_p, cry_t % 3, cry_t % 3, CRY_LABELS, PAIN_LABELS)
    assert m_cry["cry_f1"] == pytest.approx(0.930, abs=PRINTED)
    m_pain = task_metrics(pain_t % 2, pain_t % 2, pain_t, pain_p, CRY_LABELS, PAIN_LABELS)
    assert m_pain["pain_weighted_f1"] == pytest.approx(0.949, abs=PRINTED)
    assert m_pain["severe_precision"] == pytest.approx(1760 / (22 + 1760), abs=1e-12)
    assert m_pain["severe_recall"] == pytest.approx(1760 / (21 + 11 + 1760), abs=1e-12)
    assert m_pain["pain"]["confusion"] == PAPER_PAIN_CM.tolist()


def test_confusion_matrix_layout_rows_truth_columns_prediction():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_hand_computed_small_case_and_absent_class():
    # truth: none none moderate severe; predicted: none moderate moderate moderate
    m = summarize(confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 3), PAIN_LABELS)
    # none: P=1, R=1/2, F1=2/3; moderate: P=1/3, R=1, F1=1/2; severe: never predicted -> P=R=F1=0.
    assert m["per_class"]["none"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["moderate"]["f1"] == pytest.approx(0.5)
    assert m["per_class"]["severe"]["f1"] == 0.0
    assert m["weighted_f1"] == pytest.approx((2 * (2 / 3) + 0.5 + 0) / 4)
    assert m["mean_f1"] == pytest.approx((2 / 3 + 0.5) / 3)
    assert m["accuracy"] == pytest.approx(0.5)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 1]), np.array([0]), 2)
