"""The dataset layout: loading, validation problems with line numbers, writing, read_faces, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cribside.cli import main
from cribside.training.data.check import MAX_LISTED
from cribside.training.data.dataset import (
    CRY_LABELS,
    PAIN_LABELS,
    DatasetError,
    image_path,
    load_dataset,
    read_faces,
    validate_dataset,
    write_dataset,
)

HEADER = "subject,video,frame,cry,pain"


def _rows(subjects=("a", "b"), videos=("v1", "v2"), frames=5) -> list[dict]:
    rows = []
    for s in subjects:
        for v in videos:
            for f in range(frames):
                rows.append({"subject": s, "video": v, "frame": f * 2, "cry": f % 2, "pain": f % 3})
    return rows


def _crop(seed: int, shape=(64, 64)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture()
def aligned_root(tmp_path: Path) -> Path:
    rows = _rows()
    return write_dataset(tmp_path / "data", rows, [_crop(i) for i in range(len(rows))], kind="aligned", fps=3.0)


def _write_csv(root: Path, lines: list[str]) -> None:
    (root / "labels.csv").write_text("\n".join(lines) + "\n")


def test_valid_dataset_loads_with_videos_in_time_order(aligned_root: Path):
    dataset = load_dataset(aligned_root)
    assert dataset.kind == "aligned" and dataset.fps == 3.0 and dataset.synthetic is False
    assert dataset.aligner is None and dataset.warnings == ()
    assert len(dataset.frames) == 20
    assert dataset.subjects() == ["a", "b"]
    videos = dataset.videos()
    assert list(videos) == [("a", "v1"), ("a", "v2"), ("b", "v1"), ("b", "v2")]
    for frames in videos.values():
        assert [f.frame for f in frames] == [0, 2, 4, 6, 8]
        assert all(f.face and f.path.is_file() for f in frames)
    first = videos[("a", "v1")][2]
    assert (first.cry, first.pain, PAIN_LABELS[first.pain]) == (0, 2, "severe")
    assert CRY_LABELS == ("no", "yes")


def test_read_faces_returns_the_written_crops_in_the_order_asked(aligned_root: Path):
    dataset = load_dataset(aligned_root)
    faces = read_faces(dataset)
    assert faces.shape == (20, 64, 64) and faces.dtype == np.uint8
    assert np.array_equal(faces[3], _crop(3))
    picked = read_faces(dataset, [dataset.frames[7], dataset.frames[1]])
    assert np.array_equal(picked[0], _crop(7)) and np.array_equal(picked[1], _crop(1))


def test_face_column_frames_without_a_face_need_no_image(tmp_path: Path):
    rows = _rows(subjects=("a",), videos=("v",), frames=4)
    rows[2]["face"] = False
    images = [None if not r.get("face", True) else _crop(i) for i, r in enumerate(rows)]
    root = write_dataset(tmp_path / "d", rows, images, kind="aligned")
    assert "face" in (root / "labels.csv").read_text().splitlines()[0]
    dataset = load_dataset(root)
    assert [f.face for f in dataset.frames] == [True, True, False, True]
    assert read_faces(dataset).shape == (3, 64, 64)  # default: only frames with a face
    with pytest.raises(DatasetError, match="has no face image"):
        read_faces(dataset, dataset.frames)


def test_kind_is_inferred_from_the_first_image_without_dataset_json(tmp_path: Path):
    rows = _rows(subjects=("a",), videos=("v",), frames=2)
    aligned = write_dataset(tmp_path / "al", rows, [_crop(0), _crop(1)], kind="aligned")
    raw = write_dataset(tmp_path / "raw", rows, [_crop(0, (240, 320, 3)), _crop(1, (240, 320, 3))], kind="raw",
                        ext=".jpg")
    for root in (aligned, raw):
        (root / "dataset.json").unlink()
    assert load_dataset(aligned).kind == "aligned"
    raw_set = load_dataset(raw)
    assert raw_set.kind == "raw" and raw_set.fps == 3.0
    with pytest.raises(DatasetError, match="raw frames"):
        read_faces(raw_set)


# (labels.csv lines after the header, the line that must be named, text the message must contain)
PROBLEMS = {
    "unknown pain label": (["a,v1,0,0,none", "a,v1,2,1,mild"], 3, "unknown pain label 'mild'"),
    "bad cry value": (["a,v1,0,2,none"], 2, "cry '2' must be 0 or 1"),
    "unsorted frames": (["a,v1,4,0,none", "a,v1,2,0,none"], 3, "in time order"),
    "duplicate row": (["a,v1,0,0,none", "a,v1,0,0,none"], 3, "duplicate row"),
    "missing file": (["a,v1,0,0,none", "a,v1,40,0,none"], 3, "image missing: a/v1/000040"),
    "bad frame": (["a,v1,x,0,none"], 2, "not a non-negative integer"),
    "wrong field count": (["a,v1,0,0"], 2, "4 fields"),
}


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_each_problem_kind_names_its_line(aligned_root: Path, kind: str):
    body, line, text = PROBLEMS[kind]
    _write_csv(aligned_root, [HEADER] + body)
    with pytest.raises(DatasetError) as info:
        validate_dataset(aligned_root)
    message = str(info.value)
    assert f"line {line}: " in message and text in message


def test_missing_columns_and_empty_dataset(aligned_root: Path):
    _write_csv(aligned_root, ["subject,video,frame,pain", "a,v1,0,none"])
    with pytest.raises(DatasetError, match=r"line 1: missing column\(s\) cry"):
        load_dataset(aligned_root)
    _write_csv(aligned_root, [HEADER])
    with pytest.raises(DatasetError, match="empty dataset"):
        load_dataset(aligned_root)
    (aligned_root / "labels.csv").unlink()
    with pytest.raises(DatasetError, match="labels.csv not found") as missing:
        load_dataset(aligned_root)
    assert "inside are datasets" not in str(missing.value)


def test_a_folder_holding_datasets_names_them(tmp_path: Path, aligned_root: Path):
    """``cribside synth OUT`` writes OUT/raw and OUT/aligned: training on OUT says which to use."""
    out = tmp_path / "synth_out"
    out.mkdir()
    aligned_root.rename(out / "aligned")
    with pytest.raises(DatasetError, match=r"labels.csv not found.*inside are datasets: .*aligned$"):
        load_dataset(out)


def test_bad_face_value_and_bad_dataset_json(aligned_root: Path):
    _write_csv(aligned_root, [HEADER + ",face", "a,v1,0,0,none,yes"])
    with pytest.raises(DatasetError, match="line 2: face 'yes' must be 1 or 0"):
        load_dataset(aligned_root)
    (aligned_root / "dataset.json").write_text(json.dumps({"kind": "crops"}))
    with pytest.raises(DatasetError, match="kind must be one of raw, aligned"):
        load_dataset(aligned_root)


def test_only_the_first_problems_are_listed(aligned_root: Path):
    bad = 15
    _write_csv(aligned_root, [HEADER] + [f"a,v1,{i},0,mild" for i in range(bad)])
    with pytest.raises(DatasetError) as info:
        load_dataset(aligned_root)
    message = str(info.value)
    assert f"{bad} problem(s)" in message
    assert message.count("line ") == MAX_LISTED
    assert f"and {bad - MAX_LISTED} more" in message


def test_images_without_a_row_are_a_warning_not_an_error(aligned_root: Path):
    cv2.imwrite(str(image_path(aligned_root, "a", "v1", 99)), _crop(0))
    dataset = load_dataset(aligned_root)
    assert len(dataset.frames) == 20
    assert any("a/v1/" in w and "000099.png" in w for w in dataset.warnings)


def test_cli_prints_a_summary_or_the_problems(aligned_root: Path, capsys: pytest.CaptureFixture):
    assert main(["validate-data", str(aligned_root)]) == 0
    out = capsys.readouterr().out
    assert "subjects: 2" in out and "videos:   4" in out and "frames:   20" in out
    assert "moderate" in out and "severe" in out
    _write_csv(aligned_root, [HEADER, "a,v1,0,0,none", "a,v1,2,5,none"])
    assert main(["validate-data", str(aligned_root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cribside validate-data: error:") and "line 3: cry '5'" in err
    assert main(["validate-data", str(aligned_root / "nowhere")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
