"""The bundle in a clean Debian bookworm root: offline install, first boot, doctor against a real broker, the demo.

This is what a technician's device goes through, minus the hardware: the root has only what
debootstrap's minbase and python3/python3-venv give; the install runs with no network at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.debian import in_root

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(debian_root: Path, host_bundle: Path) -> Path:
    """The host bundle installed with ``install.sh --enable --base-config pi-cpu``, offline, in the root."""
    shutil.copytree(host_bundle, debian_root / "tmp" / "bundle")
    done = in_root(debian_root, "/tmp/bundle/install.sh --enable --base-config pi-cpu", network=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.rmtree(debian_root / "tmp" / "bundle")
    return debian_root


def test_the_bundle_installs_offline_with_its_user_units_and_config_folder(installed: Path, host_bundle: Path) -> None:
    release_id = json.loads((host_bundle / "bundle.json").read_text())["release_id"]
    assert (installed / "opt/cribside/current").readlink() == Path("releases") / release_id
    version = in_root(installed, "/opt/cribside/venv/bin/cribside --version", network=False)
    assert version.stdout.strip() == "cribside 0.1.0", version.stderr
    passwd = (installed / "etc/passwd").read_text()
    assert any(line.startswith("cribside:") and line.endswith(":/usr/sbin/nologin") for line in passwd.splitlines())
    groups = in_root(installed, "id -nG cribside")
    assert set(groups.stdout.split()) == {"cribside", "video", "render"}  # the unit's SupplementaryGroups= exist
    wants = installed / "etc/systemd/system/multi-user.target.wants"
    for unit in ("cribside.service", "cribside-firstboot.service"):
        assert (wants / unit).readlink() == Path("/etc/systemd/system") / unit
        assert (installed / "etc/systemd/system" / unit).read_text() == (host_bundle / "systemd" / unit).read_text()
    etc = installed / "etc/cribside"
    assert oct(etc.stat().st_mode & 0o777) == "0o750" and (etc / "config.base.yaml").is_file()
    assert (etc / "pi-coral.example.yaml").is_file()


def test_first_boot_then_doctor_and_the_demo_against_a_broker_on_loopback(installed: Path, mosquitto) -> None:
    boot = installed / "boot" / "firmware"
    boot.mkdir(parents=True, exist_ok=True)
    (boot / "cribside.yaml").write_text(
        f"mqtt:\n  host: 127.0.0.1\n  port: {mosquitto.port}\n  username: null\n"
        "  tls: {ca_file: null, cert_file: null, key_file: null}\n"
        "outbox: {path: /var/lib/cribside/outbox.sqlite}\n"
        "cameras:\n  - device_id: crib-1\n    room: Ward 3\n    source: /opt/cribside/current/samples/synthetic_infant_demo.mp4\n")
    first = in_root(installed, "/opt/cribside/venv/bin/cribside firstboot")
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(p.name for p in boot.iterdir()) == ["cribside-provisioned.txt"]
    assert (installed / "etc/cribside/mqtt_password").read_text() == ""  # the unit's credential: no password
    # as the service runs it: the config validated by the unit's ExecStartPre, then doctor with the broker round trip
    validate = in_root(installed, "/opt/cribside/venv/bin/cribside config validate /etc/cribside/config.yaml")
    assert validate.returncode == 0, validate.stderr
    doctor = in_root(installed, "mkdir -p /var/lib/cribside && /opt/cribside/venv/bin/cribside doctor --config /etc/cribside/config.yaml --json")
    rows = {r["check"]: r for r in json.loads(doctor.stdout)}
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert {rows[c]["result"] for c in ("config", "face models", "camera crib-1", "broker", "disk")} == {"pass"}
    assert rows["models"]["result"] == "warn" and "SYNTHETIC" in rows["models"]["detail"]
    # the demo, publishing to the broker on loopback
    demo = in_root(installed, "/opt/cribside/venv/bin/cribside run --config /etc/cribside/config.yaml --results /tmp/demo.jsonl")
    assert demo.returncode == 0, demo.stderr[-3000:]
    rows = [json.loads(line) for line in (installed / "tmp/demo.jsonl").read_text().splitlines()]
    assert len(rows) > 20 and {r["cry"]["label"] for r in rows} >= {"yes", "no"}
    # what a nurse station reads: the retained state the device in the root published
    state = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-t", "cribside/crib-1/state",
                            "-C", "1", "-W", "10"], capture_output=True, text=True)
    assert json.loads(state.stdout)["device_id"] == "crib-1", state.stderr


def test_an_invalid_provisioning_file_fails_first_boot_and_stays_on_the_card(installed: Path) -> None:
    boot = installed / "boot" / "firmware"
    boot.mkdir(parents=True, exist_ok=True)
    (boot / "cribside.yaml").write_text("mqtt: {host: broker, prot: 1883}\ncameras: []\n")
    first = in_root(installed, "/opt/cribside/venv/bin/cribside firstboot")
    assert first.returncode == 1
    assert "mqtt.prot: unknown key" in first.stderr and "cameras: at least one camera" in first.stderr
    assert (boot / "cribside.yaml").is_file() and "mqtt.prot" in (boot / "cribside-provisioning-error.txt").read_text()


def test_the_os_camera_stack_built_for_numpy_1_does_not_break_the_release(installed: Path, tmp_path: Path) -> None:
    """Raspberry Pi OS's python3-picamera2 imports the OS's simplejpeg, built against numpy 1.24.

    The release's venv sees the OS packages (``--system-site-packages``) but carries numpy 2, and a
    numpy-1 build of simplejpeg beside numpy 2 fails to import ("numpy.dtype size changed"), which
    takes ``from picamera2 import Picamera2`` down with it. Emulated here with Debian's python3-numpy
    (1.24.2, as on Pi OS) and simplejpeg 1.7.2 (built for numpy 1) in the OS's dist-packages.
    """
    import zipfile

    apt = in_root(installed, "apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-numpy", timeout=900)
    assert apt.returncode == 0, apt.stderr[-2000:]
    got = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                          "--platform", "manylinux2014_x86_64", "--python-version", "3.11", "simplejpeg==1.7.2", "--dest", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert got.returncode == 0, got.stderr[-2000:]
    zipfile.ZipFile(next(tmp_path.glob("simplejpeg-1.7.2-*.whl"))).extractall(installed / "usr/lib/python3/dist-packages")
    # the emulated OS stack works with the OS's Python and numpy 1
    system = in_root(installed, "python3 -c 'import numpy, simplejpeg; print(numpy.__version__)'", network=False)
    assert system.returncode == 0 and system.stdout.startswith("1."), system.stderr
    # in the release, the OS's build beside numpy 2 breaks exactly as on a Pi ...
    shadowed = in_root(installed, "/opt/cribside/venv/bin/python -c "
                       "'import sys, numpy; sys.path.insert(0, \"/usr/lib/python3/dist-packages\"); import simplejpeg'", network=False)
    assert shadowed.returncode != 0 and "numpy.dtype size changed" in shadowed.stderr
    # ... and the release's own simplejpeg, built for numpy 2, is the one it imports
    venv = in_root(installed, "/opt/cribside/venv/bin/python -c 'import numpy, simplejpeg; print(numpy.__version__, simplejpeg.__file__)'",
                   network=False)
    assert venv.returncode == 0, venv.stderr
    version, where = venv.stdout.split()
    assert version.startswith("2.") and where.startswith("/opt/cribside/venv/lib/python3.11/site-packages/")
