"""``cribside doctor``: every check against real files, a real broker and the shipped demo models."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).parents[2]
MODELS = ROOT / "edge" / "samples" / "models"
VIDEO = ROOT / "edge" / "samples" / "synthetic_infant_demo.mp4"


def _config(tmp_path: Path, mqtt: str = "", source: Path = VIDEO, zone: str = "") -> Path:
    path = tmp_path / "cribside.yaml"
    path.write_text(f"models:\n  dir: {MODELS}\n{mqtt}outbox:\n  path: {tmp_path / 'outbox.sqlite'}\n"
                    f"cameras:\n  - device_id: crib-1\n    source: {source}\n{zone}", encoding="utf-8")
    return path


def test_a_working_device_passes_with_the_demo_models_flagged(face_models_dir, mosquitto, tmp_path: Path,
                                                             capsys, monkeypatch) -> None:
    from cribside.cli import main

    monkeypatch.setenv("CRIBSIDE_FACE_MODELS", str(face_models_dir))
    config = _config(tmp_path, f"mqtt:\n  host: {mosquitto.host}\n  port: {mosquitto.port}\n  prefix: test\n")
    assert main(["doctor", "--config", str(config), "--json"]) == 0
    rows = {r["check"]: r for r in json.loads(capsys.readouterr().out)}
    assert {rows[c]["result"] for c in ("config", "face models", "camera crib-1", "broker", "disk")} == {"pass"}
    assert "round trip on test/crib-1/doctor" in rows["broker"]["detail"]
    assert rows["models"]["result"] == "warn" and "SYNTHETIC" in rows["models"]["detail"] and rows["models"]["fix"]
    assert rows["camera crib-1"]["detail"].endswith("a 320x240 frame")
    # No crib zone yet: a warning that says what it risks and how to draw one, not a failure.
    assert rows["zone crib-1"]["result"] == "warn" and "no crib zone" in rows["zone crib-1"]["detail"]
    assert f"cribside zones --config {config} --camera crib-1" in rows["zone crib-1"]["fix"]
    zoned = _config(tmp_path, zone="    zone:\n      crib: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]\n")
    assert main(["doctor", "--config", str(zoned), "--quick", "--json"]) == 0
    rows = {r["check"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["zone crib-1"] == {"check": "zone crib-1", "result": "pass", "detail": "crib zone of 4 points, 64% of the frame", "fix": ""}


def test_failures_exit_non_zero_and_name_the_check_and_the_fix(face_models_dir, tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    from cribside.cli import main

    monkeypatch.setenv("CRIBSIDE_FACE_MODELS", str(face_models_dir))
    config = _config(tmp_path, "mqtt:\n  host: 127.0.0.1\n  port: 1\n  prefix: test\n")
    assert main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  broker" in out and "-> check mqtt.host/port" in out and out.rstrip().endswith("failed: broker")
    quick = main(["doctor", "--config", str(config), "--quick", "--json"])
    rows = {r["check"] for r in json.loads(capsys.readouterr().out)}
    assert quick == 0 and "broker" not in rows and "camera crib-1" not in rows
    broken = tmp_path / "broken.yaml"
    broken.write_text("cameras: [{device_id: 'bad id!'}]\n", encoding="utf-8")
    assert main(["doctor", "--config", str(broken)]) == 1
    assert "FAIL  config" in capsys.readouterr().out
