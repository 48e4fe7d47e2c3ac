"""Learning an expression on REAL faces of people never seen in training (tests/data/faces/london_expressions_24).

24 adults, neutral and smiling (CC BY 4.0, see the folder's LICENSE.md), turned into pseudo-videos,
aligned by the device's aligner, and trained with the default recipe in folds split by person, through
``cribside bench real-faces`` (the same code as the README's real-face table, on a smaller set).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.face import LONDON_24

LONDON = LONDON_24
FOLDS = 3


@pytest.fixture(scope="module")
def real_face_comparison(face_models, tmp_path_factory) -> dict:
    """The default features' k-fold comparison on 24 real people (3 folds of 8 held-out people)."""
    pytest.importorskip("tensorflow", reason="training needs the train extra")
    pytest.importorskip("sklearn", reason="the baseline needs the train extra")
    from cribside.bench.real_faces import compare

    return compare(LONDON, tmp_path_factory.mktemp("real_faces"), ["hog"], folds=FOLDS, frames=6, seed=0)


def test_photos_become_pseudo_videos_in_the_dataset_layout(tmp_path: Path):
    from cribside.training.data.dataset import validate_dataset
    from cribside.training.data.photos import photos_to_dataset

    photoset = photos_to_dataset(LONDON, tmp_path / "raw", frames=3, seed=1)
    dataset = validate_dataset(tmp_path / "raw")
    assert photoset.positive == "smiling" and len(photoset.people) == 24
    assert dataset.kind == "raw" and not dataset.synthetic
    assert len(dataset.frames) == 24 * 2 * 3
    assert {f.cry for f in dataset.frames if f.video == "smiling"} == {1}
    assert {f.cry for f in dataset.frames if f.video == "neutral"} == {0}
    # Frames of one photo differ (motion, light, noise): a window is never four copies of one image.
    import cv2

    a, b = (cv2.imread(str(f.path), cv2.IMREAD_GRAYSCALE).astype(int) for f in dataset.frames[:2])
    assert np.abs(a - b).mean() > 2.0


def test_photo_folder_errors_name_the_problem(tmp_path: Path):
    from cribside.edge.errors import CribsideError
    from cribside.training.data.photos import find_photos

    with pytest.raises(CribsideError, match="not a folder"):
        find_photos(tmp_path / "missing")
    (tmp_path / "happy").mkdir()
    (tmp_path / "sad").mkdir()
    for name in ("happy", "sad"):
        (tmp_path / name / "p1.jpg").write_bytes(b"")
    with pytest.raises(CribsideError, match="--positive"):
        find_photos(tmp_path)
    with pytest.raises(CribsideError, match="no expression folder 'angry'"):
        find_photos(tmp_path, "angry")
    with pytest.raises(CribsideError, match="fewer than two people"):
        find_photos(tmp_path, "happy")


@pytest.mark.slow
def test_default_features_learn_a_real_expression_across_people(real_face_comparison: dict):
    row = real_face_comparison["rows"][0]
    table = row["summary"]["table"]
    # Chance is 0.5 (balanced classes): the default must read a smile on faces it has never seen.
    assert table["model"]["cry_f1"]["mean"] > 0.75, table
    assert table["model"]["cry_roc_auc"]["mean"] > 0.85, table
    assert table["model"]["cry_f1"]["n"] == FOLDS


@pytest.mark.slow
def test_fold_summary_is_the_mean_and_sd_of_the_fold_reports(real_face_comparison: dict, tmp_path: Path):
    from cribside.training.fit.folds import fold_runs
    from cribside.training.fit.run import read_json

    row = real_face_comparison["rows"][0]
    root = Path(real_face_comparison["photos"])  # the photos; the runs live beside the work folder
    del root
    summary = row["summary"]
    runs = fold_runs(Path(summary["data"]).parent / "runs" / "hog")
    reports = [read_json(p / "report.json") for p in runs]
    f1 = np.array([r["metrics"]["cry_f1"] for r in reports])
    hog = np.array([r["baseline_hog"]["cry_f1"] for r in reports])
    assert summary["table"]["model"]["cry_f1"]["mean"] == pytest.approx(f1.mean())
    assert summary["table"]["model"]["cry_f1"]["sd"] == pytest.approx(f1.std(ddof=1))
    assert summary["table"]["hog"]["cry_f1"]["mean"] == pytest.approx(hog.mean())
    # Every fold's baseline is scored on exactly that fold's windows, and the folds hold different people.
    assert all(r["baseline_hog"]["n_windows"] == r["metrics"]["n_windows"] for r in reports)
    tests = [r["split"]["test"] for r in reports]
    assert len(set(tests)) == FOLDS
