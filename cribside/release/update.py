"""``cribside update BUNDLE``: a new release beside the running one, an atomic switch, a check, a rollback.

1. The bundle is checked (``SHA256SUMS``); the same release as the active one is a no-op.
2. While an alert episode is open (the device's open-episode journal beside the outbox),
   the update waits (``--wait-max``): a restart must not cut an alert a nurse is reading.
3. The *new* bundle's installer builds ``ROOT/releases/<id>`` beside the running release
   (offline, hash-checked); nothing the running service uses is touched.
4. ``ROOT/current`` is switched in one rename, the new units installed, the service restarted.
5. The service must stay active for ``--settle`` seconds and ``cribside doctor`` (cameras
   skipped: the service holds them) must pass; otherwise ``current`` is switched back, the
   old units restored, the service restarted, and the command exits 1 naming what failed.
6. Releases older than the previous one are removed; a failed one is kept, marked ``.failed``.

A fleet with an A/B system updater (RAUC, Mender) ships the same bundle inside its image
instead (deploy/README.md).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cribside.edge.errors import CribsideError
from cribside.release.layout import RELEASES, WHEELS, verify_bundle
from cribside.release.switch import activate, current_release, release_dir

log = logging.getLogger(__name__)

EXIT_ROLLED_BACK = 1
EXIT_EPISODE_OPEN = 3
DEFAULT_RESTART = "systemctl restart cribside.service"
DEFAULT_CHECK = "systemctl is-active --quiet cribside.service"


class EpisodeOpen(CribsideError):
    """An alert episode stayed open for the whole wait."""


@dataclass
class UpdateResult:
    """How an update ended."""

    previous: str | None
    release: str
    active: str
    ok: bool
    reason: str = ""


def open_episodes(journal: Path) -> list[str]:
    """``device_id/episode_id`` of every episode the running device has open."""
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return []  # unreadable: the device itself reports it; an update must not hang on it
    if not isinstance(data, dict):
        return []
    return [f"{dev}/{r.get('episode_id')}" for dev, rows in data.items() if isinstance(rows, list) for r in rows if isinstance(r, dict)]


def wait_for_quiet(journal: Path, wait_max_s: float, poll_s: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once no episode is open; raise :class:`EpisodeOpen` after ``wait_max_s``."""
    deadline = time.monotonic() + wait_max_s
    said = False
    while True:
        episodes = open_episodes(journal)
        if not episodes:
            return
        if time.monotonic() >= deadline:
            raise EpisodeOpen(f"alert episode {', '.join(episodes)} still open after {wait_max_s:g} s: not updating now "
                              "(acknowledge or wait for it to end, then run the update again)")
        if not said:
            log.warning("waiting: alert episode %s open (up to %g s)", ", ".join(episodes), wait_max_s)
            said = True
        sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def _sh(command: str, timeout: float = 120.0) -> tuple[int, str]:
    try:
        proc = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        return 127, f"{exc.filename}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:g} s"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def install_new(bundle: Path, root: Path, python: str) -> None:
    """Run the new bundle's own installer (``--no-activate``; it checks ``SHA256SUMS`` itself)."""
    wheels = sorted((bundle / WHEELS).glob("cribside-*.whl"))
    if not wheels:
        raise CribsideError(f"{bundle}: no cribside wheel in {WHEELS}/")
    env = dict(os.environ, PYTHONPATH=str(wheels[0]))
    proc = subprocess.run([python, "-P", "-m", "cribside.release", "install", str(bundle), "--root", str(root), "--python", python,
                           "--no-activate", "--no-system"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CribsideError(f"installing {bundle} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")


def doctor(root: Path, config: Path) -> tuple[bool, str]:
    """``cribside doctor --skip cameras`` from the now active release."""
    env = dict(os.environ, CRIBSIDE_FACE_MODELS=str(root / "face-models"))
    proc = subprocess.run([str(root / "venv" / "bin" / "cribside"), "doctor", "--config", str(config), "--skip", "cameras", "--json"],
                          env=env, capture_output=True, text=True, timeout=120)
    try:
        rows = json.loads(proc.stdout)
        failed = [f"{r['check']}: {r['detail']}" for r in rows if r.get("result") == "fail"]
    except (ValueError, TypeError, KeyError):
        failed = [f"doctor exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}"]
    if proc.returncode != 0 and not failed:
        failed = [f"doctor exited {proc.returncode}"]
    return not failed, "; ".join(failed)


def update(
    bundle: Path,
    root: Path,
    config: Path,
    *,
    journal: Path | None,
    wait_max_s: float = 3600.0,
    settle_s: float = 15.0,
    restart: str = DEFAULT_RESTART,
    check: str = DEFAULT_CHECK,
    system_root: Path | None = Path("/"),
    python: str = "python3",
) -> UpdateResult:
    """Update to ``bundle`` with rollback (the module's steps)."""
    info = verify_bundle(bundle)
    new_id = str(info["release_id"])
    previous = current_release(root)
    if previous == new_id:
        return UpdateResult(previous, new_id, new_id, True, "already the active release")
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = open(root / ".update.lock", "w")  # noqa: SIM115 (held for the whole update)
    except PermissionError:
        raise CribsideError(f"cannot write {root}: run the update as root (sudo)") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CribsideError(f"another cribside update is running ({root / '.update.lock'})") from None
        if journal is not None:
            wait_for_quiet(journal, wait_max_s)
        log.info("installing release %s beside %s", new_id, previous or "nothing")
        install_new(bundle, root, python)
        (release_dir(root, new_id) / ".failed").unlink(missing_ok=True)
        activate(root, new_id, system_root=system_root)
        reason = _restart_and_check(root, config, restart, check, settle_s)
        if reason is None:
            _prune(root, keep={new_id, previous})
            return UpdateResult(previous, new_id, new_id, True)
        log.error("release %s failed its check (%s)", new_id, reason)
        (release_dir(root, new_id) / ".failed").write_text(reason + "\n", encoding="utf-8")
        if previous is None:
            return UpdateResult(previous, new_id, new_id, False, reason)
        activate(root, previous, system_root=system_root)
        back = _restart_and_check(root, config, restart, check, settle_s)
        if back is not None:
            reason += f"; the previous release {previous} fails too after the rollback ({back})"
        return UpdateResult(previous, new_id, previous, False, reason)


def _restart_and_check(root: Path, config: Path, restart: str, check: str, settle_s: float) -> str | None:
    """None when the restarted service stays up and doctor passes, else why not."""
    code, out = _sh(restart)
    if code != 0:
        return f"restart failed ({restart}: {out[-200:] or f'exit {code}'})"
    time.sleep(settle_s)
    code, out = _sh(check)
    if code != 0:
        return f"the service is not running after {settle_s:g} s ({check}: {out[-200:] or f'exit {code}'})"
    ok, failed = doctor(root, config)
    return None if ok else f"doctor: {failed}"


def _prune(root: Path, keep: set[str | None]) -> None:
    for release in (root / RELEASES).iterdir():
        if release.is_dir() and release.name not in keep and not release.name.startswith("manual-"):
            log.info("removing old release %s", release.name)
            shutil.rmtree(release, ignore_errors=True)


def python_for_installer() -> str:
    """The system Python 3 (the new release's venv is made from it, not from this venv)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return base
