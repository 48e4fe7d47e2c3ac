"""The systemd unit: sandboxed (systemd-analyze security) and valid (systemd-analyze verify), with Debian's systemd."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).parents[2] / "deploy" / "systemd"
UNIT = UNITS / "cribside.service"
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


def test_the_units_verify(tmp_path: Path) -> None:
    # verify checks that the commands exist: point them at an executable that does. Both units
    # together, as cribside.service Requires= the first-boot one.
    for name in ("cribside.service", "cribside-firstboot.service"):
        (tmp_path / name).write_text((UNITS / name).read_text(encoding="utf-8").replace(
            "/opt/cribside/venv/bin/cribside", shutil.which("true") or "/bin/true"), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "cribside.service"), str(tmp_path / "cribside-firstboot.service")],
                          capture_output=True, text=True)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "cribside" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


def test_the_first_boot_unit_runs_only_with_a_provisioning_file_and_gates_the_service() -> None:
    firstboot = (UNITS / "cribside-firstboot.service").read_text(encoding="utf-8")
    assert "ConditionPathExists=|/boot/firmware/cribside.yaml" in firstboot and "Type=oneshot" in firstboot
    assert "StandardError=journal+console" in firstboot and "Before=cribside.service" in firstboot
    main = UNIT.read_text(encoding="utf-8")
    assert "Requires=cribside-firstboot.service" in main and "After=network-online.target cribside-firstboot.service" in main
