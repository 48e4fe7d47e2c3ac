"""Face models: pinned, sha256-checked, never downloaded at run time; settings fingerprint."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from cribside.cli import main
from cribside.edge.errors import CribsideError
from cribside.edge.face import AlignerSettings, FaceAligner
from cribside.edge.face.assets import FACE_MODELS, ensure_face_models, fetch_face_models, sha256_file


def test_fetched_models_match_their_pins(face_models: dict[str, Path]) -> None:
    assert set(face_models) == set(FACE_MODELS)
    for key, path in face_models.items():
        assert sha256_file(path) == FACE_MODELS[key][1]


def test_missing_models_tell_the_user_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(CribsideError, match="cribside fetch-models"):
        ensure_face_models(tmp_path)


def test_missing_models_stop_the_aligner(tmp_path: Path) -> None:
    with pytest.raises(CribsideError, match="fetch-models"):
        FaceAligner(models_dir=tmp_path)


def test_corrupt_model_is_refused(face_models_dir: Path, tmp_path: Path) -> None:
    for path in face_models_dir.glob("*.tflite"):
        shutil.copy(path, tmp_path / path.name)
    victim = tmp_path / Path(FACE_MODELS["landmarks"][0]).name
    data = bytearray(victim.read_bytes())
    data[1000] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(CribsideError, match="sha256"):
        ensure_face_models(tmp_path)


def test_env_var_chooses_the_models_dir(face_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRIBSIDE_FACE_MODELS", str(face_models_dir))
    assert ensure_face_models()["landmarks"].parent == face_models_dir


def test_wrong_wheel_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    fake = tmp_path / "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("mediapipe/modules/face_landmark/face_landmark.tflite", b"not a model")
    target = tmp_path / "models"
    with pytest.raises(CribsideError, match="sha256"):
        fetch_face_models(target, wheel=fake)
    assert not list(target.glob("*.tflite"))


def test_fetch_models_cli_reports_a_missing_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fetch-models", "--dir", str(tmp_path), "--wheel", str(tmp_path / "nope.whl")])
    assert code == 2
    assert "nope.whl" in capsys.readouterr().err


def test_settings_round_trip_and_fingerprint() -> None:
    settings = AlignerSettings()
    again = AlignerSettings.from_dict(settings.to_dict())
    assert again == settings
    assert again.fingerprint() == settings.fingerprint()
    assert len(settings.fingerprint()) == 64
    # Crop geometry changes the fingerprint; which face is chosen does not.
    assert AlignerSettings(margin_top=0.1).fingerprint() != settings.fingerprint()
    assert AlignerSettings(crop_size=48).fingerprint() != settings.fingerprint()
    assert AlignerSettings(select="center").fingerprint() == settings.fingerprint()


@pytest.mark.parametrize(
    "bad, words",
    [({"margins": 0.1}, "unknown"), ({"select": "nearest"}, "select"), ({"presence_threshold": 1.5}, "presence_threshold"),
     ({"crop_size": 4}, "crop_size")],
)
def test_bad_settings_are_refused(bad: dict, words: str) -> None:
    with pytest.raises(CribsideError, match=words):
        AlignerSettings.from_dict({**AlignerSettings().to_dict(), **bad})


def test_aligner_refuses_settings_pinning_other_models(face_models_dir: Path) -> None:
    with pytest.raises(CribsideError, match="landmarks"):
        FaceAligner(AlignerSettings(landmarks_sha256="0" * 64), models_dir=face_models_dir)
