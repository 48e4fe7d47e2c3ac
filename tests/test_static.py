"""Static checks in the suite: ruff over the whole tree, mypy --strict over the device package (edge/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_mypy_strict_on_the_device_package(tmp_path: Path) -> None:
    """mypy cannot follow pyproject's package-dir mapping, so lay it out as the installed tree: cribside/edge -> edge/."""
    tree = tmp_path / "cribside"
    tree.mkdir()
    for item in (ROOT / "cribside").iterdir():
        if item.name != "__pycache__":
            (tree / item.name).symlink_to(item)
    (tree / "edge").symlink_to(ROOT / "edge")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--python-executable", sys.executable, "-p", "cribside.edge"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
