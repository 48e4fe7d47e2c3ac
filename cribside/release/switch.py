"""Which release is active: ``ROOT/current`` and the stable links, switched atomically.

``ROOT/current`` is a relative symlink ``releases/<release_id>``. Switching writes a
new link beside it and renames it over the old one (``rename(2)`` is atomic), so a
power cut leaves either the old or the new release active, never neither. The
stable paths the units and configs name (``ROOT/venv``, ``ROOT/models``,
``ROOT/face-models``) are links through ``current`` and never change.

Standard library only (see :mod:`cribside.release`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from cribside.edge.errors import CribsideError
from cribside.release.layout import CURRENT, DEFAULT_ROOT, INSTALLED_MARK, RELEASES, STABLE_LINKS, UNITS

log = logging.getLogger(__name__)


def current_release(root: Path) -> str | None:
    """The active release id, or None when nothing is installed."""
    link = root / CURRENT
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).name


def release_dir(root: Path, release_id: str) -> Path:
    """Where a release lives."""
    return root / RELEASES / release_id


def _replace_link(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def activate(root: Path, release_id: str, *, system_root: Path | None = None) -> None:
    """Make ``release_id`` the active release, and install its units under ``system_root``.

    On the running system (``system_root`` is ``/`` and systemd is up, so not in a chroot) systemd
    is told to reload the units.

    Raises:
        CribsideError: the release is not (completely) installed.
    """
    release = release_dir(root, release_id)
    if not (release / INSTALLED_MARK).is_file():
        raise CribsideError(f"release {release_id} is not completely installed in {release} (install it again)")
    _replace_link(root / CURRENT, f"{RELEASES}/{release_id}")
    for name in STABLE_LINKS:
        link = root / name
        if link.exists() and not link.is_symlink():
            # A tree from a manual install (the layout before releases): kept aside, never deleted.
            aside = root / RELEASES / f"manual-{name}"
            log.warning("moving the manually installed %s aside to %s", link, aside)
            aside.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(link), str(aside))
        if not link.is_symlink() or os.readlink(link) != f"{CURRENT}/{name}":
            _replace_link(link, f"{CURRENT}/{name}")
    if system_root is not None:
        install_units(release, root, system_root)
        if system_root == Path("/") and shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
            subprocess.run(["systemctl", "daemon-reload"], check=False)
    _fsync_dir(root)


def install_units(release: Path, root: Path, system_root: Path) -> list[Path]:
    """Copy the release's units into ``system_root/etc/systemd/system``, pointing at ``root``."""
    unit_dir = system_root / "etc" / "systemd" / "system"
    unit_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in UNITS:
        text = (release / "systemd" / unit).read_text(encoding="utf-8")
        if root != DEFAULT_ROOT:
            text = text.replace(str(DEFAULT_ROOT), str(root))
        target = unit_dir / unit
        tmp = target.with_name(f".{unit}.new")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        written.append(target)
    return written


def enable_units(system_root: Path) -> list[Path]:
    """Enable both units the way ``systemctl enable`` does for ``WantedBy=multi-user.target``.

    Done with links, so it works the same in an image being built (a chroot) as on a device.
    """
    wants = system_root / "etc" / "systemd" / "system" / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    links = []
    for unit in UNITS:
        link = wants / unit
        if not link.is_symlink():
            os.symlink(f"/etc/systemd/system/{unit}", link)
        links.append(link)
    return links


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
