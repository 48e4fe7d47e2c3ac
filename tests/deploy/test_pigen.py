"""The Raspberry Pi OS image recipe (deploy/pi-gen/): its stages run the way pi-gen runs them, in a Debian root.

``deploy/pi-gen/test-in-chroot.sh`` runs a stage's package lists and scripts against a Debian bookworm
minbase root for this machine's architecture, with this machine's bundle (``host_bundle``,
tests/support/release.py): what an image build does, short of the Raspberry Pi and Coral archives
(python3-picamera2 and libedgetpu1-std are skipped, and say so) and of the image itself. The root
starts from tests/support/debian.py's cached debootstrap root; the stages' Debian packages (and
systemd, standing in for pi-gen's stage0-2) are added once into ``~/.cache/cribside-test/pigen-*``,
and each test runs on an overlay of it in a private mount namespace: the cache stays clean, nothing
stays mounted, and a warm run needs no network. Needs root and debootstrap (the README's test command
installs it).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
from support.debian import CACHE, PACKAGES, build_root

import cribside

PIGEN = Path(__file__).parents[2] / "deploy" / "pi-gen"
SCRIPT = PIGEN / "test-in-chroot.sh"
STAGE = PIGEN / "stage-cribside"
CORAL = PIGEN / "stage-cribside-coral"
DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
WANTS = "/etc/systemd/system/multi-user.target.wants"

# Run inside the root after the stages (with pi-gen's mounts); each result lands in /root/checks/.
CHECKS = f"""
mkdir -p /root/checks && cd /root/checks
check() {{ name=$1; shift; "$@" > "$name.out" 2>&1 && echo 0 > "$name.rc" || echo $? > "$name.rc"; }}
check version /opt/cribside/venv/bin/cribside --version
check validate env CRIBSIDE_FACE_MODELS=/opt/cribside/face-models \\
    /opt/cribside/venv/bin/cribside config validate /opt/cribside/current/configs/demo.yaml
check enabled systemctl is-enabled cribside.service cribside-firstboot.service
check wants readlink {WANTS}/cribside.service {WANTS}/cribside-firstboot.service
check units ls /etc/systemd/system/cribside.service /etc/systemd/system/cribside-firstboot.service
check copy_gone test ! -e /var/tmp/cribside-bundle
check base cat /etc/cribside/config.base.yaml
check groups id -nG cribside
check dropin cat /etc/systemd/system/cribside.service.d/60-coral.conf
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root (debootstrap, mount, chroot)"),
    pytest.mark.skipif(platform.machine() not in DEBIAN_ARCH, reason=f"no Debian root for {platform.machine()}"),
]


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def _cache_key() -> str:
    """The debootstrap root's packages, the script and both stages' package lists."""
    digest = hashlib.sha256(PACKAGES.encode() + SCRIPT.read_bytes())
    for path in sorted([*STAGE.rglob("*-packages*"), *CORAL.rglob("*-packages*")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def pigen_root(host_bundle: Path) -> Path:
    """The cached root with the stages' Debian packages installed (read-only: tests use overlays)."""
    arch = DEBIAN_ARCH[platform.machine()]
    cache = CACHE / f"pigen-bookworm-{arch}"
    rootfs, stamp, key = cache / "rootfs", cache / "stamp", _cache_key()
    if rootfs.is_dir() and stamp.is_file() and stamp.read_text().strip() == key:
        return rootfs
    for tool in ("debootstrap", "unshare", "chroot"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (Debian: apt-get install debootstrap)")
    building = cache / "rootfs.building"
    for old in (building, rootfs):
        if old.exists():
            assert not _mounts_under(old), f"{old} still has mounts: not removing it"
            shutil.rmtree(old)
    cache.mkdir(parents=True, exist_ok=True)
    build_root(building, arch)
    # The package step the stages get, once: runs on an overlay of this find everything installed.
    done = _run([str(SCRIPT), str(building), str(host_bundle), str(STAGE), str(CORAL)], env={**os.environ, "PREPARE_ONLY": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    _run(["chroot", str(building), "apt-get", "clean"])
    building.rename(rootfs)
    stamp.write_text(key + "\n")
    return rootfs


class Built:
    """One run of stages on an overlay of the cached root: its output and the checks' results."""

    def __init__(self, done: subprocess.CompletedProcess[str], checks: Path) -> None:
        self.stdout, self.stderr = done.stdout, done.stderr
        self.results = {p.stem: (int(p.read_text()), (checks / f"{p.stem}.out").read_text()) for p in checks.glob("*.rc")}

    def ok(self, name: str) -> str:
        rc, out = self.results[name]
        assert rc == 0, f"{name}: exit {rc}: {out}"
        return out


def _build(root: Path, tmp_path: Path, bundle: Path, *stages: Path, env: dict[str, str] | None = None) -> Built:
    """Run ``stages`` as pi-gen would on an overlay of ``root`` (a copy without overlayfs), then CHECKS."""
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "root"
    for d in (upper, work, merged):
        d.mkdir()
    run = [str(SCRIPT), str(merged), str(bundle), *map(str, stages), "--", "/bin/sh", "-c", CHECKS]
    env = {**os.environ, **(env or {})}
    try:
        # The overlay lives in a private mount namespace with the script's own mounts: gone when it exits.
        done = _run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" || exit 97; shift 4; exec "$@"',
                     "sh", str(root), str(upper), str(work), str(merged), *run], env=env)
        checks = upper / "root" / "checks"
        if done.returncode == 97:  # no overlayfs here: a copy
            merged.rmdir()
            shutil.copytree(root, merged, symlinks=True)
            done = _run(run, env=env)
            checks = merged / "root" / "checks"
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
        return Built(done, checks)
    finally:
        left = _mounts_under(tmp_path)
        assert not left, f"still mounted: {left}"
        for d in (upper, work, merged):
            shutil.rmtree(d, ignore_errors=True)


def test_the_stage_installs_the_bundle_enables_the_units_and_removes_its_copy(pigen_root: Path, host_bundle: Path, tmp_path: Path) -> None:
    built = _build(pigen_root, tmp_path, host_bundle, STAGE)
    assert "skipping python3-picamera2" in built.stdout

    assert built.ok("version").strip() == f"cribside {cribside.__version__}"
    assert built.ok("wants").split() == ["/etc/systemd/system/cribside.service", "/etc/systemd/system/cribside-firstboot.service"]
    built.ok("units")
    assert built.ok("enabled").split() == ["enabled", "enabled"]
    assert built.ok("validate").startswith("ok:")
    assert built.ok("base") == (host_bundle / "configs" / "pi-cpu.yaml").read_text()
    built.ok("copy_gone")  # the bundle copy is not left in the image


def test_the_coral_stage_makes_pi_coral_the_base_config_and_opens_the_coral(pigen_root: Path, host_bundle: Path, tmp_path: Path) -> None:
    # Coral's apt repository is not reachable in a test: its sub-stage is skipped, and so is libedgetpu1-std.
    built = _build(pigen_root, tmp_path, host_bundle, STAGE, CORAL, env={"SKIP_SUBSTAGES": "stage-cribside-coral/00-coral-apt"})
    assert "skipping libedgetpu1-std" in built.stdout

    assert built.ok("base") == (host_bundle / "configs" / "pi-coral.yaml").read_text()
    assert "plugdev" in built.ok("groups").split()
    assert "SupplementaryGroups=plugdev" in built.ok("dropin")
    assert "no edgetpu variant" in built.stderr  # the demo models have none: the build says so
    assert built.ok("enabled").split() == ["enabled", "enabled"]
    built.ok("copy_gone")
