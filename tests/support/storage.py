"""A tiny real file system for disk-full tests: a 600 KB tmpfs (root and mount needed, else the test skips)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 600 KB tmpfs (needs root and mount); unmounted afterwards."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("the disk-full tests mount a tiny tmpfs, which needs root")
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("mount/umount are not installed")
    folder = tmp_path / "tiny"
    folder.mkdir()
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=600k,mode=0755", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        if subprocess.run([umount, str(folder)], capture_output=True).returncode != 0:
            subprocess.run([umount, "-l", str(folder)], capture_output=True)


def fill(path: Path) -> None:
    """Write zeros to ``path`` until the file system has no byte left."""
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 16, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
