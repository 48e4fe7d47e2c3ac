"""Install a bundle as a release: verify it, make its venv offline, copy its payload, activate it.

``install.sh`` in every bundle runs this module from the bundle's own cribside wheel
(``PYTHONPATH=wheels/cribside-*.whl python3 -m cribside.release install ...``), so a
device with nothing but Python installs the first release, and ``cribside update``
runs the *new* bundle's installer, never the old one's. Standard library only.

Steps, each safe to repeat:

1. ``SHA256SUMS`` checked (a damaged or altered bundle is refused, naming the file);
2. ``ROOT/releases/<id>/venv``: ``python3 -m venv --system-site-packages`` (so the OS's
   ``python3-picamera2`` is seen), then ``pip install --no-index --require-hashes`` from
   the bundle's wheels only, with any pip configuration of the machine ignored;
3. the models, face models, configs, sample and units copied into the release, and a
   ``.installed`` mark written last;
4. unless ``--no-activate``: ``current`` switched to it (:mod:`.switch`);
5. unless ``--no-system``: the ``cribside`` system user and group, ``/etc/cribside``
   (0750 root:cribside) with the example configs, the units, and with ``--enable``
   the units enabled.
"""

from __future__ import annotations

import argparse
import grp
import logging
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

from cribside.edge.errors import CribsideError
from cribside.release.layout import (
    CONFIG_DIR,
    DEFAULT_ROOT,
    INSTALLED_MARK,
    LOCK,
    PAYLOAD,
    WHEELS,
    verify_bundle,
)
from cribside.release.switch import activate, enable_units, release_dir

log = logging.getLogger(__name__)

SERVICE_USER = "cribside"
DEVICE_GROUPS = ("video", "render")  # the unit's SupplementaryGroups=


def install(
    bundle: Path,
    root: Path = DEFAULT_ROOT,
    *,
    python: str = sys.executable,
    activate_release: bool = True,
    system_root: Path | None = Path("/"),
    enable: bool = False,
    base_config: str | None = None,
) -> str:
    """Install ``bundle`` under ``root`` and return its release id (see the module's steps)."""
    info = verify_bundle(bundle)
    release_id = str(info["release_id"])
    release = release_dir(root, release_id)
    writable = next((p for p in (root, *root.parents) if p.exists()), root)
    if not os.access(writable, os.W_OK):
        raise CribsideError(f"cannot write {writable}: run install.sh as root (sudo)")
    if (release / INSTALLED_MARK).is_file():
        log.info("release %s is already installed in %s", release_id, release)
    else:
        _make_release(bundle, release, python)
    if system_root is not None:
        _system_setup(release, system_root, base_config)
    if activate_release:
        activate(root, release_id, system_root=system_root)
        if system_root is not None and enable:
            enable_units(system_root)
    return release_id


def _make_release(bundle: Path, release: Path, python: str) -> None:
    if release.exists():
        log.info("removing the incomplete earlier attempt at %s", release)
        shutil.rmtree(release)
    release.mkdir(parents=True)
    venv = release / "venv"
    _run([python, "-m", "venv", "--system-site-packages", str(venv)], "create the venv")
    # Only the bundle's wheels: the machine's pip configuration (indexes, find-links, constraints) ignored.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PIP_CONSTRAINT", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index", "--no-cache-dir",
          "--find-links", str(bundle / WHEELS), "--require-hashes", "--ignore-installed", "--only-binary", ":all:",
          "-r", str(bundle / LOCK)], "install the wheels (offline, hash-checked)", env=env)
    for name in PAYLOAD:
        if (bundle / name).is_dir():
            shutil.copytree(bundle / name, release / name)
    shutil.copy2(bundle / "bundle.json", release / "bundle.json")
    (release / INSTALLED_MARK).write_text("installed\n", encoding="utf-8")


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise CribsideError(f"cannot {what}: {' | '.join(tail) or f'exit {proc.returncode}'}")


def _system_setup(release: Path, system_root: Path, base_config: str | None) -> None:
    """The service user, /etc/cribside and its example configs (idempotent)."""
    _ensure_user(system_root)
    etc = system_root / CONFIG_DIR.relative_to("/")
    etc.mkdir(parents=True, exist_ok=True)
    gid = _group_id(system_root)
    try:
        os.chown(etc, 0, gid if gid is not None else 0)
    except PermissionError:
        log.warning("cannot give %s to root:%s (not root?)", etc, SERVICE_USER)
    os.chmod(etc, 0o750)
    configs = release / "configs"
    for example in sorted(configs.glob("*.yaml")) if configs.is_dir() else []:
        shutil.copy2(example, etc / f"{example.stem}.example.yaml")
    if base_config is not None:
        src = configs / f"{base_config}.yaml"
        if not src.is_file():
            choices = ", ".join(p.stem for p in sorted(configs.glob("*.yaml")))
            raise CribsideError(f"--base-config {base_config}: no such example config (choices: {choices})")
        shutil.copy2(src, etc / "config.base.yaml")


def _ensure_user(system_root: Path) -> None:
    """Create the ``cribside`` system user and group, and the device groups, in ``system_root``.

    The unit's ``SupplementaryGroups=video render`` fails the start when a group is missing (a
    root without udev has no ``render``), so both are created if absent; the user joins them too,
    for a technician running ``cribside doctor`` as it.
    """
    for group in (SERVICE_USER, *DEVICE_GROUPS):
        if _group_id(system_root, group) is None:
            _run(["groupadd", "--system", *_root_args(system_root), group], f"create the group {group}")
    if not _user_exists(system_root):
        _run(["useradd", "--system", *_root_args(system_root), "--gid", SERVICE_USER, "--groups", ",".join(DEVICE_GROUPS),
              "--no-create-home", "--home-dir", "/var/lib/cribside", "--shell", "/usr/sbin/nologin", SERVICE_USER],
             f"create the user {SERVICE_USER}")


def _root_args(system_root: Path) -> list[str]:
    return [] if system_root == Path("/") else ["--root", str(system_root)]


def _group_id(system_root: Path, group: str = SERVICE_USER) -> int | None:
    if system_root == Path("/"):
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            return None
    return _lookup(system_root / "etc" / "group", group)


def _user_exists(system_root: Path) -> bool:
    if system_root == Path("/"):
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return False
        return True
    return _lookup(system_root / "etc" / "passwd", SERVICE_USER) is not None


def _lookup(path: Path, name: str) -> int | None:
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split(":")
            if fields[0] == name and len(fields) > 2:
                return int(fields[2])
    except (OSError, ValueError):
        return None
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The installer's options (``install.sh`` passes its own through)."""
    parser.add_argument("bundle", type=Path, help="the bundle folder")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"where releases live (default {DEFAULT_ROOT})")
    parser.add_argument("--python", default=sys.executable, help="the Python that makes the venv (default: this one)")
    parser.add_argument("--no-activate", action="store_true", help="install beside the active release; do not switch")
    parser.add_argument("--no-system", action="store_true", help="only the release tree: no user, /etc/cribside or units")
    parser.add_argument("--system-root", type=Path, default=Path("/"), help="the system to set up (an image being built)")
    parser.add_argument("--enable", action="store_true", help="enable cribside-firstboot.service and cribside.service")
    parser.add_argument("--base-config", default=None, metavar="NAME",
                        help="example config first boot completes (pi-cpu, pi-coral, jetson): /etc/cribside/config.base.yaml")


def main(argv: list[str] | None = None) -> int:
    """``python -m cribside.release install BUNDLE ...``: one line per outcome, exit 2 on bad input."""
    parser = argparse.ArgumentParser(prog="install.sh", description="Install a cribside bundle offline.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="install: %(message)s")
    try:
        release_id = install(
            args.bundle.resolve(), args.root, python=args.python, activate_release=not args.no_activate,
            system_root=None if args.no_system else args.system_root, enable=args.enable, base_config=args.base_config,
        )
    except CribsideError as exc:
        print(f"install: error: {exc}", file=sys.stderr)
        return 2
    state = "installed" if args.no_activate else "installed and active"
    print(f"cribside release {release_id} {state} in {release_dir(args.root, release_id)}")
    return 0

