"""``cribside update``: beside the running release, an atomic switch, doctor against a real broker, rollback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.release import derived_bundle, install


@pytest.fixture
def device(host_bundle: Path, tmp_path: Path, mosquitto) -> dict[str, Path]:
    """Release A installed and active, a config on a real broker, and a 'service' whose restarts are logged."""
    root = tmp_path / "opt-cribside"
    done = install(host_bundle, root)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "config.yaml"
    config.write_text(
        f"models:\n  dir: {root / 'models'}\n"
        f"mqtt:\n  host: {mosquitto.host}\n  port: {mosquitto.port}\n  prefix: test\n"
        f"outbox:\n  path: {tmp_path / 'state' / 'outbox.sqlite'}\n"
        f"cameras:\n  - device_id: crib-1\n    source: {root / 'current' / 'samples' / 'synthetic_infant_demo.mp4'}\n",
        encoding="utf-8")
    log = tmp_path / "restarts.log"
    # The 'restart' starts the now active release's own cribside (systemd would run the service).
    restart = tmp_path / "restart.sh"
    restart.write_text(f"#!/bin/sh\nset -e\nreadlink {root}/current >> {log}\n{root}/venv/bin/cribside --version >/dev/null\n")
    restart.chmod(0o755)
    return {"root": root, "config": config, "log": log, "restart": restart, "tmp": tmp_path}


def _update(device: dict[str, Path], bundle: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(device["root"] / "venv" / "bin" / "cribside"), "update", str(bundle), "--root", str(device["root"]),
           "--config", str(device["config"]), "--no-system", "--settle", "0", "--restart-command", str(device["restart"]),
           "--check-command", "true", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={"PATH": "/usr/bin:/bin", "HOME": str(device["tmp"])})


def _release_id(bundle: Path) -> str:
    return json.loads((bundle / "bundle.json").read_text())["release_id"]


def test_a_good_bundle_is_switched_to_and_kept_beside_the_previous(device, host_bundle: Path) -> None:
    new = derived_bundle(host_bundle, device["tmp"], "0.1.0-newer")
    done = _update(device, new)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"cribside release 0.1.0-newer is active (was {_release_id(host_bundle)})" in done.stdout
    assert (device["root"] / "current").readlink() == Path("releases/0.1.0-newer")
    assert device["log"].read_text().split() == ["releases/0.1.0-newer"]  # restarted once, on the new release
    assert {p.name for p in (device["root"] / "releases").iterdir()} == {"0.1.0-newer", _release_id(host_bundle)}
    again = _update(device, new)
    assert again.returncode == 0 and "already the active release" in again.stdout


def test_a_bundle_that_fails_doctor_is_rolled_back(device, host_bundle: Path) -> None:
    def break_a_model(bundle: Path) -> None:
        manifest = json.loads((bundle / "models" / "manifest.json").read_text())
        first = next(iter(manifest["variants"].values()))["encoder"]["file"]
        (bundle / "models" / first).write_bytes(b"not a model")

    broken = derived_bundle(host_bundle, device["tmp"], "0.1.0-broken", break_a_model)
    done = _update(device, broken)
    assert done.returncode == 1, done.stdout + done.stderr
    old = _release_id(host_bundle)
    assert "update to 0.1.0-broken failed: doctor: config:" in done.stdout and "does not match manifest.json" in done.stdout and f"active release: {old}" in done.stdout
    assert (device["root"] / "current").readlink() == Path(f"releases/{old}")
    assert device["log"].read_text().split() == ["releases/0.1.0-broken", f"releases/{old}"]  # tried, then restored
    assert (device["root"] / "releases" / "0.1.0-broken" / ".failed").read_text().startswith("doctor:")
    # the restored release still works
    version = subprocess.run([str(device["root"] / "venv" / "bin" / "cribside"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0


def test_an_open_alert_episode_holds_the_update(device, host_bundle: Path) -> None:
    journal = device["tmp"] / "state" / "outbox.sqlite.episodes.json"
    journal.parent.mkdir()
    journal.write_text(json.dumps({"crib-1": [{"episode_id": "ep-42", "type": "distress", "level": "cry"}]}))
    new = derived_bundle(host_bundle, device["tmp"], "0.1.0-newer")
    done = _update(device, new, "--wait-max", "1")
    assert done.returncode == 3 and "alert episode crib-1/ep-42 still open after 1 s" in done.stderr
    assert (device["root"] / "current").readlink() == Path(f"releases/{_release_id(host_bundle)}")
    assert not (device["root"] / "releases" / "0.1.0-newer").exists() and not device["log"].exists()
    journal.write_text("{}")  # the episode ended
    assert _update(device, new, "--wait-max", "1").returncode == 0
