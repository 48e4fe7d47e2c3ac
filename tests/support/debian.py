"""A clean Debian bookworm root made with debootstrap, the OS a bundle is installed into.

Built once (minbase plus python3, python3-venv: what a Raspberry Pi OS Lite image has) and
kept in ``~/.cache/cribside-test/``; each session works on a fresh copy. Commands run in
it through ``chroot`` inside new mount (and, for offline steps, network) namespaces, so
nothing stays mounted when a test dies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

MIRROR = os.environ.get("CRIBSIDE_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE = Path(os.environ.get("CRIBSIDE_TEST_CACHE", Path.home() / ".cache" / "cribside-test"))
PACKAGES = "python3,python3-venv,passwd,ca-certificates"


def _require_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("a Debian root needs root (debootstrap, chroot)")
    for tool in ("debootstrap", "unshare", "chroot"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (Debian: apt-get install debootstrap util-linux coreutils)")


def build_root(dest: Path, arch: str = "amd64") -> Path:
    """``debootstrap --variant=minbase`` bookworm into ``dest`` (cached)."""
    cached = CACHE / f"bookworm-{arch}-minbase"
    if not (cached / ".complete").is_file():
        shutil.rmtree(cached, ignore_errors=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["debootstrap", "--variant=minbase", f"--arch={arch}", f"--include={PACKAGES}", "bookworm",
                               str(cached), MIRROR], capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        (cached / ".complete").write_text("ok\n")
    subprocess.run(["cp", "-a", str(cached), str(dest)], check=True)
    return dest


def in_root(root: Path, script: str, *, network: bool = True, timeout: float = 900,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with /bin/sh in ``root``, with /proc and /dev, offline when ``network`` is False."""
    inner = (f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && "
             f"exec chroot {root} /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "
             + " ".join(f"{k}={v}" for k, v in (env or {}).items()) + " /bin/sh -ec \"$0\"")
    cmd = ["unshare", "--mount", "--propagation", "private", "--fork", *([] if network else ["--net"]), "sh", "-c", inner, script]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def debian_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the cached bookworm amd64 minbase root, for this session."""
    _require_tools()
    return build_root(tmp_path_factory.mktemp("debian") / "root")
