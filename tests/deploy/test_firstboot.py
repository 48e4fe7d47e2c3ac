"""``cribside firstboot``: the boot partition's cribside.yaml, validated, with its secrets moved off the card."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
import yaml

from cribside.edge.config import load_config

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "edge" / "samples"


@pytest.fixture
def card(tmp_path: Path, face_models_dir: Path, monkeypatch) -> dict[str, Path]:
    """A boot partition and an /etc/cribside holding the image's base config (as install.sh --base-config leaves it)."""
    monkeypatch.setenv("CRIBSIDE_FACE_MODELS", str(face_models_dir))
    boot, etc = tmp_path / "boot-firmware", tmp_path / "etc-cribside"
    boot.mkdir()
    etc.mkdir()
    base = yaml.safe_load((ROOT / "deploy" / "configs" / "pi-cpu.yaml").read_text())
    base["models"]["dir"] = str(SAMPLES / "models")  # the image's models
    base["outbox"]["path"] = str(tmp_path / "state" / "outbox.sqlite")
    (etc / "config.base.yaml").write_text(yaml.safe_dump(base))
    return {"boot": boot, "etc": etc}


def _firstboot(card: dict[str, Path]) -> int:
    from cribside.cli import main

    return main(["firstboot", "--boot", str(card["boot"]), "--etc", str(card["etc"])])


def test_a_valid_file_provisions_the_device_and_leaves_no_secret_on_the_card(card, tls_certs, capsys) -> None:
    for name in ("ca.crt", "client.crt", "client.key"):
        shutil.copy(tls_certs[name], card["boot"] / name)
    (card["boot"] / "cribside.yaml").write_text(
        "mqtt:\n  host: nurse-station.ward3.example\n  username: crib-7\n  password: s3cret-Pa55\n"
        "  tls: {ca_file: ca.crt, cert_file: client.crt, key_file: client.key}\n"
        f"cameras:\n  - device_id: crib-7\n    room: Ward 3\n    source: {SAMPLES / 'synthetic_infant_demo.mp4'}\n"
        "    zone: {crib: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}\n")
    assert _firstboot(card) == 0
    assert "provisioned cameras crib-7" in capsys.readouterr().out
    etc = card["etc"]
    config = load_config(etc / "config.yaml", env={})
    assert config.mqtt.host == "nurse-station.ward3.example" and config.mqtt.port == 8883  # base config's port kept
    assert config.cameras[0].room == "Ward 3" and config.mqtt.tls.key_file == etc / "tls" / "client.key"
    assert "s3cret" not in (etc / "config.yaml").read_text()
    assert (etc / "mqtt_password").read_text() == "s3cret-Pa55"
    for secret in (etc / "mqtt_password", etc / "tls" / "ca.crt", etc / "tls" / "client.key"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (etc / "tls" / "client.crt").read_bytes() == tls_certs["client.crt"].read_bytes()
    # the card keeps no secret: only the note
    assert sorted(p.name for p in card["boot"].iterdir()) == ["cribside-provisioned.txt"]
    assert not list(etc.glob(".provision-*"))
    # the config is one `cribside config validate` accepts, with the password handed over by systemd
    from cribside.commands.config_validate import check_references

    assert check_references(config, env={"CREDENTIALS_DIRECTORY": str(etc)}) == []


def test_an_invalid_file_is_kept_with_every_reason_and_nothing_is_written(card, capsys) -> None:
    text = ("mqtt:\n  host: broker\n  usrname: crib-7\n  username: crib-7\n  tls: {ca_file: missing-ca.crt}\n"
            "cameras:\n  - device_id: 'crib 7!'\n    source: /dev/video9\n")
    (card["boot"] / "cribside.yaml").write_text(text)
    assert _firstboot(card) == 1
    err = capsys.readouterr().err
    assert "is invalid; cribside will not start until it is fixed" in err
    for reason in ("mqtt.usrname: unknown key", "mqtt.password: required with mqtt.username",
                   "mqtt.tls.ca_file: missing-ca.crt not found on the boot partition", "cameras[0].device_id"):
        assert reason in err, reason
    assert (card["boot"] / "cribside.yaml").read_text() == text  # kept, for the technician to fix on a laptop
    note = (card["boot"] / "cribside-provisioning-error.txt").read_text()
    assert "mqtt.usrname: unknown key" in note
    assert sorted(p.name for p in card["etc"].iterdir()) == ["config.base.yaml"]


def test_a_camera_that_does_not_open_is_refused_before_anything_is_written(card, capsys) -> None:
    (card["boot"] / "cribside.yaml").write_text("mqtt: {password: pw}\n"
                                                "cameras:\n  - device_id: crib-7\n    source: v4l2:/dev/v4l/by-id/usb-none-video-index0\n")
    assert _firstboot(card) == 1
    err = capsys.readouterr().err
    assert "cameras[0].source" in err and "/dev/v4l/by-id/usb-none-video-index0" in err
    assert sorted(p.name for p in card["etc"].iterdir()) == ["config.base.yaml"]  # not even the password


def test_without_a_password_the_credential_file_is_empty_and_means_none(card) -> None:
    """The unit always loads /etc/cribside/mqtt_password (a missing credential fails the start)."""
    from cribside.edge.config.secrets import read_mqtt_password

    (card["boot"] / "cribside.yaml").write_text(
        f"mqtt:\n  host: localhost\n  port: 1883\n  username: null\n  tls: {{ca_file: null, cert_file: null, key_file: null}}\n"
        f"cameras:\n  - device_id: crib-7\n    source: {SAMPLES / 'synthetic_infant_demo.mp4'}\n")
    assert _firstboot(card) == 0
    credential = card["etc"] / "mqtt_password"
    assert credential.read_text() == "" and stat.S_IMODE(credential.stat().st_mode) == 0o600
    config = load_config(card["etc"] / "config.yaml", env={})
    assert read_mqtt_password(config.mqtt, env={"CREDENTIALS_DIRECTORY": str(card["etc"])}) is None


def test_nothing_to_do_without_a_file(card, capsys) -> None:
    assert _firstboot(card) == 0
    assert "nothing to provision" in capsys.readouterr().out
