"""The systemd unit: sandboxed (systemd-analyze security) and valid (systemd-analyze verify), with Debian's systemd."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[2] / "deploy" / "systemd" / "cribside.service"
MAX_EXPOSURE = 2.5

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (Debian: systemd)")


def test_the_unit_is_sandboxed() -> None:
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for cribside\.service: ([0-9.]+)", done.stdout)
    assert match, done.stdout[-2000:] + done.stderr[-1000:]
    assert float(match.group(1)) <= MAX_EXPOSURE, done.stdout[-3000:]
    text = UNIT.read_text(encoding="utf-8")
    for line in ("ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "DevicePolicy=closed",
                 "UMask=0077", "Group=cribside", "SupplementaryGroups=video render", "ExecStartPre="):
        assert line in text, line


def test_the_unit_verifies(tmp_path: Path) -> None:
    # verify checks that the commands exist: point them at an executable that does.
    unit = tmp_path / "cribside.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/cribside/venv/bin/cribside", shutil.which("true") or "/bin/true"),
                    encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "cribside.service" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr
