"""Edge TPU builds: compile the int8 models with Coral's ``edgetpu_compiler`` when it is installed.

``edgetpu_compiler`` is an x86-64 Linux tool from Coral's own apt repository
(``packages.cloud.google.com/apt coral-edgetpu-stable``, package ``edgetpu-compiler``;
see docs/conversion.md, "Edge TPU"). Without it the conversion says so in one line and goes on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cribside.edge.errors import CribsideError

COMPILER = "edgetpu_compiler"
_MAPPED = "Mapped to Edge TPU"
# One row of the compiler's operation table: "CONV_2D    3    Mapped to Edge TPU".
_OP_ROW = re.compile(r"^([A-Z][A-Z0-9_]*)\s+(\d+)\s+(\S.*)$")
_TIMEOUT_S = 600


@dataclass(frozen=True)
class EdgeTpuBuild:
    """A compiled model and the operators that stayed on the CPU (name -> count)."""

    path: Path
    ops_on_cpu: dict[str, int]


def find_compiler() -> str | None:
    """Path of ``edgetpu_compiler`` on PATH, or None."""
    return shutil.which(COMPILER)


def compile_model(compiler: str, model: Path, out_dir: Path) -> EdgeTpuBuild:
    """Compile one int8 model; the output is ``<stem>_edgetpu.tflite`` in ``out_dir``.

    Raises:
        CribsideError: the compiler fails or writes no model.
    """
    try:
        done = subprocess.run(
            [compiler, "-s", "-o", str(out_dir), str(model)],
            capture_output=True, text=True, timeout=_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CribsideError(f"{COMPILER} failed on {model.name}: {exc}") from None
    out = out_dir / f"{model.stem}_edgetpu.tflite"
    if done.returncode != 0 or not out.is_file():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise CribsideError(f"{COMPILER} failed on {model.name} (exit {done.returncode}): {last[0]}")
    return EdgeTpuBuild(out, parse_ops_on_cpu(done.stdout))


def parse_ops_on_cpu(report: str) -> dict[str, int]:
    """Operators the compiler's ``-s`` table does not map to the Edge TPU: name -> count."""
    on_cpu: dict[str, int] = {}
    for line in report.splitlines():
        match = _OP_ROW.match(line.strip())
        if match and not match.group(3).startswith(_MAPPED):
            on_cpu[match.group(1)] = on_cpu.get(match.group(1), 0) + int(match.group(2))
    return on_cpu
