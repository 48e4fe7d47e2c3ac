"""Release bundles made by the project's own ``cribside bundle``, and releases installed from them.

``host_bundle`` is built once per session for this machine's platform (it downloads the
pinned wheels from PyPI, which the README's test command needs anyway). Derived bundles
(a new release id, a broken model) are copies with ``SHA256SUMS`` rewritten, as a build
machine would make them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def cribside_cmd() -> list[str]:
    return [sys.executable, "-m", "cribside"]


@pytest.fixture(scope="session")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle for this machine (linux_x86_64 in CI), from ``cribside bundle``."""
    from cribside.release.build import host_platform

    out = tmp_path_factory.mktemp("bundle")
    proc = subprocess.run([*cribside_cmd(), "bundle", "--out", str(out), "--platform", host_platform()],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    bundle = Path(proc.stdout.strip().splitlines()[-1])
    assert (bundle / "SHA256SUMS").is_file()
    return bundle


def derived_bundle(bundle: Path, dest: Path, release_id: str, change: Callable[[Path], None] | None = None) -> Path:
    """A copy of ``bundle`` with another release id (and ``change`` applied), re-summed."""
    from cribside.release.layout import write_sums

    copy = dest / f"{bundle.name}-{release_id}"
    shutil.copytree(bundle, copy, symlinks=True)
    info = json.loads((copy / "bundle.json").read_text())
    info["release_id"] = release_id
    (copy / "bundle.json").write_text(json.dumps(info, indent=2) + "\n")
    if change is not None:
        change(copy)
    write_sums(copy)
    return copy


def install(bundle: Path, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the bundle's own ``install.sh`` (only the release tree: no user, /etc or units)."""
    return subprocess.run([str(bundle / "install.sh"), "--root", str(root), "--no-system", *extra],
                          capture_output=True, text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "PYTHON": system_python()})


def system_python() -> str:
    """A Python 3.11 outside any venv (install.sh makes the release's venv from it)."""
    return getattr(sys, "_base_executable", sys.executable)
