"""``cribside align`` on real images and a real video, with bad files among good ones."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from support.face import FACE_IMAGES, FD_VIDEO

from cribside.cli import main

# fd_video.mp4 is 173 frames at 30 fps: sampled at 3 fps that is frames 0, 10, ..., 170.
FD_VIDEO_FRAMES = 173
FD_VIDEO_FPS = 30


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_bad_files_are_reported_and_good_ones_still_processed(
    face_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.png"
    inputs = [str(FACE_IMAGES["obama"]), str(text), str(missing), str(empty), str(FACE_IMAGES["infant_no_face"])]
    code = main(["align", "--json", "--models-dir", str(face_models_dir), *inputs])
    out, err = capsys.readouterr()
    assert code == 2
    records = _records(out)
    assert [r["path"] for r in records] == [inputs[0], inputs[4]]
    assert records[0]["face"] is True and records[1]["face"] is False
    for bad in (text, missing, empty):
        assert f"cribside align: error: {bad}" in err
    assert "Traceback" not in err


def test_video_is_sampled_at_the_papers_rate(face_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["align", "--json", "--models-dir", str(face_models_dir), "--save-crops", str(tmp_path), str(FD_VIDEO)])
    out, _err = capsys.readouterr()
    assert code == 0
    records = _records(out)
    assert [r["frame"] for r in records] == list(range(0, FD_VIDEO_FRAMES, FD_VIDEO_FPS // 3))
    for record in records:
        assert set(record) >= {"path", "frame", "face", "box", "left_eye", "right_eye", "eye_angle_deg"}
    faces = [r for r in records if r["face"]]
    assert len(faces) >= 0.9 * len(records)
    crops = sorted(tmp_path.glob("*_f*.png"))
    assert len(crops) == len(faces)
    crop = cv2.imread(str(crops[0]), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (64, 64)
    sheet = cv2.imread(str(tmp_path / "contact_sheet.png"), cv2.IMREAD_UNCHANGED)
    assert sheet is not None and sheet.shape[0] > 64 and sheet.shape[1] > 64


def test_readable_output_without_json(face_models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["align", "--models-dir", str(face_models_dir), str(FACE_IMAGES["obama"]), str(FACE_IMAGES["dogs"])])
    out, _err = capsys.readouterr()
    assert code == 0
    lines = out.strip().splitlines()
    assert "face at" in lines[0] and "eye angle" in lines[0]
    assert lines[1].endswith("no face")


def test_every_frame_with_fps_zero(face_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short.avi"
    capture = cv2.VideoCapture(str(FD_VIDEO))
    writer = None
    for _ in range(5):
        ok, frame = capture.read()
        assert ok
        if writer is None:
            writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    writer.release()
    capture.release()
    code = main(["align", "--json", "--fps", "0", "--models-dir", str(face_models_dir), str(short)])
    out, _err = capsys.readouterr()
    assert code == 0
    assert [r["frame"] for r in _records(out)] == [0, 1, 2, 3, 4]


def test_bench_align_reports_every_configuration(face_models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "align", "--frames", "3", "--json", "--models-dir", str(face_models_dir)])
    out, _err = capsys.readouterr()
    assert code == 0
    report = json.loads(out)
    assert "SYNTHETIC" in report["source"]
    configs = {(r["resolution"], r["track"]) for r in report["results"]}
    assert configs == {("640x480", False), ("640x480", True), ("1280x720", False), ("1280x720", True)}
    for result in report["results"]:
        assert result["faces_found"] == 3  # the drawn face is found in every frame
        assert result["align_fps"] > 0
        assert set(result["stages"]) == {"decode", "detect", "landmarks", "warp", "total"}
