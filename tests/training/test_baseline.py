"""The HOG + logistic-regression yardstick of ``cribside eval`` (training/evaluate/baseline.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the baseline needs the train extra")


def _crops(n: int, bar: bool, rng: np.random.Generator, seq: int = 4) -> np.ndarray:
    faces = rng.normal(100, 25, size=(n, seq, 64, 64))
    if bar:
        rows = rng.integers(20, 40, size=n)
        for i, r in enumerate(rows):
            faces[i, :, r:r + 6, 8:56] += 120  # a bright horizontal bar somewhere in the middle
    return np.clip(faces, 0, 255).astype(np.uint8)


def test_hog_logistic_regression_sees_a_visible_pattern():
    from cribside.training.evaluate.baseline import hog_baseline

    rng = np.random.default_rng(0)

    def make(n: int):
        faces = np.concatenate([_crops(n, True, rng), _crops(n, False, rng)])
        cry = np.array([1] * n + [0] * n)
        pain = np.array([2] * n + [0] * n)
        return faces, cry, pain

    train, test = make(40), make(30)
    result = hog_baseline(*train, *test)
    assert result["n_windows"] == 60 and result["n_train_windows"] == 80
    assert result["cry_f1"] > 0.9
    assert result["cry_roc_auc"] > 0.9
    assert result["pain_weighted_f1"] > 0.9


def test_window_features_are_the_mean_of_frame_hogs():
    from cribside.training.evaluate.baseline import hog, window_features

    faces = _crops(2, True, np.random.default_rng(1))
    feats = window_features(faces)
    want = hog(faces[1]).mean(axis=0)
    assert feats.shape == (2, 1764)
    np.testing.assert_allclose(feats[1], want, rtol=1e-5)


@pytest.mark.slow
def test_baseline_scores_exactly_the_evaluated_windows(trained_run: Path):
    from cribside.training.evaluate.baseline import run_windows
    from cribside.training.fit.run import load_run

    run = load_run(trained_run)
    _, test = run_windows(run)
    latents, cry, pain = run.test_windows()
    _, all_latents = run.frames()
    assert {tuple(r) for r in np.asarray(test.rows)} == {tuple(r) for r in _rows_of(run)}
    np.testing.assert_array_equal(all_latents[test.rows], latents)
    np.testing.assert_array_equal(test.cry, cry)
    np.testing.assert_array_equal(test.pain, pain)


def _rows_of(run) -> np.ndarray:
    from cribside.training.fit.run import TEST

    windows, part = run.windows()
    return np.asarray(windows.select(part == TEST).rows)


@pytest.mark.slow
def test_eval_prints_the_baseline_and_the_verdict(trained_run: Path, tmp_path: Path, capsys):
    import json

    from cribside.cli import main

    assert main(["eval", str(trained_run), "--out", str(tmp_path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "HOG+logistic baseline" in out and "ROC AUC" in out
    # The verdict is one of three: on a tiny synthetic run the model and HOG may tie on cry F1 ("matches").
    assert any(f"model {v} the HOG baseline on cry F1" in out for v in ("beats", "matches", "does not beat"))
    report = json.loads((tmp_path / "report.json").read_text())
    assert "baseline_majority" in report and report["baseline_hog"]["n_windows"] == report["metrics"]["n_windows"]
    assert set(report["beats_hog_baseline"]) == {"cry_f1", "pain_weighted_f1"}
    assert "HOG baseline" in (tmp_path / "report.md").read_text()
