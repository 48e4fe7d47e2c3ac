"""``cribside bundle`` and ``install.sh``: a bundle that installs with no network and runs the demo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.release import derived_bundle, install, system_python

from cribside.edge.face.assets import FACE_MODELS
from cribside.release.layout import sha256_file

NO_NETWORK = ["unshare", "--net"] if shutil.which("unshare") else []


def test_the_bundle_is_complete_and_every_file_is_summed(host_bundle: Path) -> None:
    info = json.loads((host_bundle / "bundle.json").read_text())
    assert re.fullmatch(r"0\.1\.0-[0-9a-f]{8}", info["release_id"]) and info["python"] == "3.11"
    # sha256sum's own check (what a technician runs) over every file but SHA256SUMS itself
    check = subprocess.run(["sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS"], cwd=host_bundle, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = {line.split("  ", 1)[1] for line in (host_bundle / "SHA256SUMS").read_text().splitlines()}
    on_disk = {p.relative_to(host_bundle).as_posix() for p in host_bundle.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert listed == on_disk
    # every wheel is pinned with its hash in the lock, and nothing in the lock lacks a wheel
    lock = (host_bundle / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+) \\$", lock, flags=re.M))
    assert {"cribside", "numpy", "ai-edge-litert", "opencv-python-headless", "paho-mqtt", "pydantic"} <= set(pins)
    hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", lock))
    wheels = sorted((host_bundle / "wheels").glob("*.whl"))
    assert len(wheels) == len(pins) and all(sha256_file(w) in hashes for w in wheels)
    assert not any(w.name.startswith(("tensorflow", "keras")) for w in wheels)  # the device never gets TensorFlow
    # the face models are MediaPipe's pinned files, with their notice; the units and configs are there
    for member, digest in FACE_MODELS.values():
        assert sha256_file(host_bundle / "face-models" / Path(member).name) == digest
    assert "Apache License 2.0" in (host_bundle / "face-models" / "NOTICE").read_text()
    assert {p.name for p in (host_bundle / "systemd").iterdir()} == {"cribside.service", "cribside-firstboot.service"}
    assert {"demo.yaml", "pi-cpu.yaml", "pi-coral.yaml", "jetson.yaml"} <= {p.name for p in (host_bundle / "configs").iterdir()}
    assert info["models"]["synthetic"] is True  # the default: the demo models, labelled as such


def test_the_same_source_makes_the_same_release_id(host_bundle: Path, tmp_path: Path) -> None:
    from cribside.release.build import build_bundle, host_platform

    again = build_bundle(tmp_path, host_platform())
    assert json.loads((again / "bundle.json").read_text())["release_id"] == json.loads((host_bundle / "bundle.json").read_text())["release_id"]


def test_it_installs_with_no_network_and_runs_the_demo(host_bundle: Path, tmp_path: Path) -> None:
    root = tmp_path / "opt-cribside"
    cmd = [*NO_NETWORK, str(host_bundle / "install.sh"), "--root", str(root), "--no-system"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": system_python()})
    assert done.returncode == 0, done.stderr
    release_id = json.loads((host_bundle / "bundle.json").read_text())["release_id"]
    assert f"release {release_id} installed and active" in done.stdout
    assert (root / "current").readlink() == Path("releases") / release_id
    for name in ("venv", "models", "face-models"):
        assert (root / name).readlink() == Path("current") / name
    cribside = root / "venv" / "bin" / "cribside"
    version = subprocess.run([str(cribside), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == "cribside 0.1.0"
    # no settings: the release finds its own face models; the demo runs on the bundled synthetic sample
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    results = tmp_path / "demo.jsonl"
    demo = subprocess.run([*NO_NETWORK, str(cribside), "run", "--config", str(root / "current" / "configs" / "demo.yaml"),
                           "--results", str(results)], capture_output=True, text=True, timeout=600, env=env)
    assert demo.returncode == 0, demo.stderr[-2000:]
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) > 20 and {r["cry"]["label"] for r in rows} >= {"yes", "no", "unknown"}
    assert "ALERT START" in demo.stdout
    doctor = subprocess.run([str(cribside), "doctor", "--config", str(root / "current" / "configs" / "demo.yaml"), "--json"],
                            capture_output=True, text=True, env=env, timeout=300)
    rows = {r["check"]: r["result"] for r in json.loads(doctor.stdout)}
    assert doctor.returncode == 0 and rows["face models"] == rows["config"] == rows["camera demo"] == "pass"
    assert rows["models"] == "warn"  # the synthetic demo models are flagged


def test_a_damaged_or_altered_bundle_is_refused_naming_the_file(host_bundle: Path, tmp_path: Path) -> None:
    damaged = derived_bundle(host_bundle, tmp_path, "0.1.0-damaged")
    model = next((damaged / "models").glob("*.tflite"))
    model.write_bytes(model.read_bytes()[:-1] + b"\0")
    done = install(damaged, tmp_path / "root")
    assert done.returncode == 2 and f"models/{model.name} does not match its sha256 in SHA256SUMS" in done.stderr
    assert not (tmp_path / "root" / "releases").exists()
    added = derived_bundle(host_bundle, tmp_path, "0.1.0-added")
    (added / "wheels" / "evil-1.0-py3-none-any.whl").write_bytes(b"PK")
    done = install(added, tmp_path / "root")
    assert done.returncode == 2 and "wheels/evil-1.0-py3-none-any.whl is not listed in SHA256SUMS" in done.stderr


def test_install_sh_refuses_a_python_that_is_not_3_11(host_bundle: Path, tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    done = subprocess.run([str(host_bundle / "install.sh"), "--root", str(tmp_path / "r")], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake)})
    assert done.returncode == 2 and "is not Python 3.11 with venv" in done.stderr


@pytest.mark.parametrize("platform", ["linux_aarch64"])
def test_the_lock_pins_the_device_platform_too(platform: str, tmp_path: Path) -> None:
    """The lock holds the aarch64 wheels' hashes: pip fetches and checks them for a Pi bundle."""
    from cribside.release.build import lock_path, platform_args

    done = subprocess.run(["python3", "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes", "--dest", str(tmp_path),
                           *platform_args(platform), "-r", str(lock_path())], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    names = [p.name for p in tmp_path.glob("*.whl")]
    assert any("aarch64" in n and n.startswith("numpy-") for n in names) and any(n.startswith("ai_edge_litert-") for n in names)


def test_bad_bundle_input_is_one_line_naming_the_thing(tmp_path: Path, capsys) -> None:
    from cribside.cli import main

    empty = tmp_path / "no-models"
    empty.mkdir()
    assert main(["bundle", "--out", str(tmp_path / "out"), "--models", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no manifest.json in" in err and str(empty) in err
    with pytest.raises(SystemExit):
        main(["bundle", "--out", str(tmp_path / "out"), "--platform", "linux_riscv64"])
    assert "invalid choice: 'linux_riscv64'" in capsys.readouterr().err
