"""The bundle's and the release tree's fixed names, and checking a bundle's ``SHA256SUMS``.

Standard library only (see :mod:`cribside.release`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from cribside.edge.errors import CribsideError

# In a bundle.
INFO = "bundle.json"
SUMS = "SHA256SUMS"
LOCK = "requirements.lock"
WHEELS = "wheels"
# Copied from a bundle into each release as they are.
PAYLOAD = ("models", "face-models", "configs", "samples", "systemd")
UNITS = ("cribside.service", "cribside-firstboot.service")

# On a device.
DEFAULT_ROOT = Path("/opt/cribside")
RELEASES = "releases"
CURRENT = "current"
# Stable paths the units and configs name, each a link into ``current``.
STABLE_LINKS = ("venv", "models", "face-models")
INSTALLED_MARK = ".installed"
CONFIG_DIR = Path("/etc/cribside")

__all__ = ["sha256_file", "verify_bundle", "write_sums", "read_info", "bundle_files"]

RELEASE_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,80}$")


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file (Python 3.11's ``hashlib.file_digest``; bundles are for 3.11)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def bundle_files(bundle: Path) -> list[Path]:
    """Every file of a bundle but ``SHA256SUMS``, sorted, relative to the bundle."""
    top_sums = bundle / SUMS
    return sorted(p.relative_to(bundle) for p in bundle.rglob("*") if p.is_file() and p != top_sums)


def write_sums(bundle: Path) -> Path:
    """Write ``SHA256SUMS`` (the ``sha256sum -c`` format) over every other file."""
    lines = [f"{sha256_file(bundle / rel)}  {rel.as_posix()}\n" for rel in bundle_files(bundle)]
    out = bundle / SUMS
    out.write_text("".join(lines), encoding="utf-8")
    return out


def verify_bundle(bundle: Path) -> dict[str, Any]:
    """Check a bundle against its ``SHA256SUMS`` and return its ``bundle.json``.

    Raises:
        CribsideError: naming the first missing, changed or unlisted file.
    """
    if not bundle.is_dir():
        raise CribsideError(f"{bundle}: not a bundle folder (no such directory)")
    sums = bundle / SUMS
    if not sums.is_file():
        raise CribsideError(f"{bundle}: not a bundle ({SUMS} missing)")
    listed: dict[str, str] = {}
    for n, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest) or name.startswith("/") or ".." in Path(name).parts:
            raise CribsideError(f"{sums}:{n}: not a sha256sum line")
        listed[name] = digest
    for name, digest in listed.items():
        path = bundle / name
        if not path.is_file():
            raise CribsideError(f"{bundle}: {name} is listed in {SUMS} but missing (incomplete copy?)")
        if sha256_file(path) != digest:
            raise CribsideError(f"{bundle}: {name} does not match its sha256 in {SUMS} (damaged or altered)")
    extra = [rel.as_posix() for rel in bundle_files(bundle) if rel.as_posix() not in listed]
    if extra:
        raise CribsideError(f"{bundle}: {extra[0]} is not listed in {SUMS} (added after the bundle was made)")
    return read_info(bundle)


def read_info(bundle: Path) -> dict[str, Any]:
    """The bundle's ``bundle.json``, with its release id checked."""
    try:
        info = json.loads((bundle / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CribsideError(f"{bundle / INFO}: unreadable ({exc})") from None
    if not isinstance(info, dict) or not RELEASE_ID.match(str(info.get("release_id", ""))):
        raise CribsideError(f"{bundle / INFO}: no valid release_id")
    return info
