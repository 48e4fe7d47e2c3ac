"""``cribside eval RUN --device MODELS``: the device path agrees with the Keras evaluation (SYNTHETIC run)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cribside.training.evaluate.device import _device_episodes, _truth_episodes

pytestmark = pytest.mark.slow

# float32 TFLite computes what Keras computes; the device path (aligner with tracking,
# sampling, windows) must add no skew of its own.
FLOAT32_AGREEMENT_POINTS = 1.0


def test_float32_device_path_agrees_with_keras(trained_run_aligned, converted_models_aligned, monkeypatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    from cribside.training.evaluate.device import evaluate_device
    from cribside.training.fit.run import load_run

    monkeypatch.setenv("CRIBSIDE__MODELS__VARIANT", "float32")
    with caplog.at_level(logging.INFO, logger="cribside.edge"):
        report = evaluate_device(load_run(trained_run_aligned), converted_models_aligned)
    choices = [r for r in caplog.records if r.name == "cribside.edge.inference.runtime" and "variant float32" in r.getMessage()]
    assert len(choices) == 1  # one line for the model choice, not one per replayed recording
    assert report["synthetic"] is True
    assert report["device"]["n_windows"] > 0
    assert report["device"]["n_windows"] == pytest.approx(report["keras"]["n_windows"], rel=0.05)
    for name, points in report["difference_points"].items():
        assert abs(points) <= FLOAT32_AGREEMENT_POINTS, name
    # The yardstick is scored on the Keras side's windows, and printed beside the device figures.
    assert report["baseline_hog"]["n_windows"] == report["keras"]["n_windows"]
    from cribside.training.evaluate.device import format_report

    assert "HOG+logistic baseline on the Keras windows" in format_report(report)


def test_truth_episodes_merge_short_gaps(tmp_path: Path) -> None:
    rows = ["t_s,cry,pain,face"]
    hot = {1, 2, 3, 6, 7, 30, 31}  # 3 fps frames; a 1 s gap (merged) and a long gap (not)
    rows += [f"{i / 3:.3f},{int(i in hot)},none,1" for i in range(40)]
    labels = tmp_path / "v.labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    episodes, duration_s = _truth_episodes(labels, merge_gap_s=5.0)
    csv_rounding_s = 1e-3  # the CSV keeps t_s to milliseconds
    assert episodes == [pytest.approx((1 / 3, 7 / 3), abs=csv_rounding_s), pytest.approx((10.0, 31 / 3), abs=csv_rounding_s)]
    assert duration_s == pytest.approx(40 / 3, abs=csv_rounding_s)


def test_device_episodes_from_alert_levels() -> None:
    levels = ["none", "cry", "cry", "severe_pain", "none", "no_signal", "moderate_pain"]
    rows = [{"t_s": float(i), "alert_level": level} for i, level in enumerate(levels)]
    assert _device_episodes(rows) == [(1.0, 3.0), (6.0, 6.0)]


def test_replay_logs_each_message_once_but_every_warning() -> None:
    from cribside.edge.app.replay import _each_message_once

    logger = logging.getLogger("cribside.test.once")
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with _each_message_once(("cribside.test.once",)):
            for _ in range(3):
                logger.info("models m: variant int8 on cpu")
                logger.warning("camera lost")
        logger.info("models m: variant int8 on cpu")  # the filter is gone afterwards
    finally:
        logger.removeHandler(handler)
    assert seen == ["models m: variant int8 on cpu", "camera lost", "camera lost", "camera lost",
                    "models m: variant int8 on cpu"]
