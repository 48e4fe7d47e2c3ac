"""Preprocessing a raw SYNTHETIC dataset with the real aligner: faces, report, resume, errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from cribside.cli import main
from cribside.edge.errors import CribsideError
from cribside.training.data.dataset import load_dataset
from cribside.training.data.preprocess import REPORT_FILE, STATE_DIR, preprocess

MIN_DETECTION_RATE = 0.95  # drawn faces the aligner must find (tracking on, 3 fps)

pytestmark = pytest.mark.slow


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of every file that is part of the dataset."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and STATE_DIR not in p.parts}


@pytest.fixture(scope="module")
def preprocessed(synth_small_raw: Path, face_models_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("pre") / "aligned"
    report = preprocess(synth_small_raw, out, workers=2, progress=False, models_dir=face_models_dir)
    return out, report


def test_faces_found_and_report_written(preprocessed, synth_small_raw: Path):
    out, report = preprocessed
    raw = load_dataset(synth_small_raw)
    assert report.frames == len(raw.frames)
    assert report.detection_rate >= MIN_DETECTION_RATE
    with open(out / REPORT_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["subject"], r["video"]) for r in rows] == list(raw.videos())
    assert sum(int(r["faces_found"]) for r in rows) == report.faces_found
    assert "frames with a face" in report.summary()


def test_output_is_a_valid_aligned_dataset_with_the_aligner_recorded(preprocessed, synth_small_raw: Path):
    from cribside.edge.face import AlignerSettings

    out, report = preprocessed
    aligned = load_dataset(out)
    raw = load_dataset(synth_small_raw)
    assert aligned.kind == "aligned" and aligned.synthetic is True
    assert aligned.aligner == AlignerSettings().to_dict()
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["aligner_fingerprint"] == AlignerSettings().fingerprint() == report.aligner_fingerprint
    assert [(f.subject, f.video, f.frame, f.cry, f.pain) for f in aligned.frames] == \
        [(f.subject, f.video, f.frame, f.cry, f.pain) for f in raw.frames]
    assert sum(f.face for f in aligned.frames) == report.faces_found
    assert all(f.path.is_file() == f.face for f in aligned.frames)  # no image without a face


def test_second_run_skips_everything_and_changes_nothing(preprocessed, synth_small_raw: Path,
                                                         face_models_dir: Path):
    out, first = preprocessed
    before = _snapshot(out)
    again = preprocess(synth_small_raw, out, workers=2, progress=False, models_dir=face_models_dir)
    assert all(v.skipped for v in again.videos)
    assert again.faces_found == first.faces_found
    after = _snapshot(out)
    images = [k for k in before if k.endswith(".png")]
    assert {k: before[k] for k in images} == {k: after[k] for k in images}  # not even rewritten
    assert {k: v[0] for k, v in before.items()} == {k: v[0] for k, v in after.items()}


def test_an_interrupted_video_is_redone_alone(preprocessed, synth_small_raw: Path, face_models_dir: Path,
                                              tmp_path: Path):
    out, first = preprocessed
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    # make the copy look like a run that died inside the first video
    subject, video = first.videos[0].subject, first.videos[0].video
    (copy / STATE_DIR / subject / f"{video}.csv").unlink()
    shutil.rmtree(copy / subject / video)
    state = json.loads((copy / STATE_DIR / "aligner.json").read_text())
    assert state["source"] == str(synth_small_raw.resolve())
    report = preprocess(synth_small_raw, copy, workers=1, progress=False, models_dir=face_models_dir)
    assert [v.skipped for v in report.videos] == [False] + [True] * (len(report.videos) - 1)
    assert (copy / "labels.csv").read_text() == (out / "labels.csv").read_text()


def test_aligned_input_is_refused(synth_small: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    with pytest.raises(CribsideError, match="already an aligned dataset"):
        preprocess(synth_small, tmp_path / "x", progress=False)
    assert main(["preprocess", str(synth_small), str(tmp_path / "y")]) == 2
    assert "cribside preprocess: error:" in capsys.readouterr().err
