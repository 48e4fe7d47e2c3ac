"""First boot: provision the device once from ``cribside.yaml`` on the boot partition.

A technician writes ``cribside.yaml`` onto the SD card's boot partition (FAT, readable
from any laptop) before the first boot. It is a device config (the ``cribside config
schema``), merged over the image's ``/etc/cribside/config.base.yaml``, that may also hold
what the config itself never does:

- ``mqtt.password``: the broker password, written to ``/etc/cribside/mqtt_password``
  (0600 root; the unit hands it to the service as the ``mqtt_password`` credential; without a
  password the file is written empty, which means none);
- ``mqtt.tls.ca_file`` / ``cert_file`` / ``key_file`` (and ``mqtt.password_file``) given as
  file names on the boot partition: moved to ``/etc/cribside/tls/`` (0600, owned by the
  service user) and the config pointed at them.

The result is validated with the config schema and every reference it makes (models,
face models, cameras, TLS files) *before* anything is written; then the config goes to
``/etc/cribside/config.yaml`` and ``cribside.yaml`` and the secret files are deleted from
the boot partition, leaving ``cribside-provisioned.txt`` there. An invalid file is left in
place, beside ``cribside-provisioning-error.txt`` naming every problem (read it from a
laptop), the same lines go to the journal and the console, and the command exits 1, so
``cribside.service`` (which ``Requires=`` the first-boot unit) does not start.
"""

from __future__ import annotations

import copy
import os
import pwd
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cribside.edge.config.loading import ConfigError, _merge, config_from_dict
from cribside.edge.errors import CribsideError

PROVISION_FILE = "cribside.yaml"
DONE_NOTE = "cribside-provisioned.txt"
ERROR_NOTE = "cribside-provisioning-error.txt"
BOOT_DIRS = (Path("/boot/firmware"), Path("/boot"))
_TLS_FIELDS = ("ca_file", "cert_file", "key_file")


class ProvisioningError(CribsideError):
    """The boot partition's cribside.yaml cannot be used; ``problems`` has one line each."""

    def __init__(self, source: Path, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s): " + "; ".join(problems))


@dataclass
class Provisioned:
    """What provisioning wrote."""

    source: Path
    config: Path
    secrets: list[Path] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)


def find_provision_file(boot_dirs: tuple[Path, ...] | list[Path] = BOOT_DIRS) -> Path | None:
    """The first ``cribside.yaml`` on the boot partition, or None."""
    for boot in boot_dirs:
        candidate = boot / PROVISION_FILE
        if candidate.is_file():
            return candidate
    return None


def provision(source: Path, etc: Path = Path("/etc/cribside"), *, service_user: str = "cribside") -> Provisioned:
    """Validate ``source`` and install its config and secrets under ``etc`` (see the module).

    Raises:
        ProvisioningError: every problem found; nothing has been written to ``etc``.
    """
    boot = source.parent
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProvisioningError(source, [f"cannot read it as YAML ({' '.join(str(exc).split())[:200]})"]) from None
    if not isinstance(data, dict):
        raise ProvisioningError(source, ["expected a mapping of config sections (mqtt, cameras, ...)"])
    base_file = etc / "config.base.yaml"
    base: dict[str, Any] = {}
    if base_file.is_file():
        loaded = yaml.safe_load(base_file.read_text(encoding="utf-8"))
        base = loaded if isinstance(loaded, dict) else {}
    merged = _merge(base, data)

    problems: list[str] = []
    password: str | None = None
    moves: list[tuple[Path, Path]] = []  # boot file -> destination
    mqtt = merged.get("mqtt")
    if isinstance(mqtt, dict):
        raw = mqtt.pop("password", None)
        if raw is not None and (not isinstance(raw, str) or not raw):
            problems.append("mqtt.password: must be a non-empty string")
        elif raw is not None:
            password = raw
        pw_file = mqtt.pop("password_file", None)
        if pw_file is not None:
            path = _boot_path(boot, pw_file)
            if path is None or not path.is_file():
                problems.append(f"mqtt.password_file: {pw_file} not found on the boot partition {boot}")
            elif password is not None:
                problems.append("mqtt.password and mqtt.password_file: give one, not both")
            else:
                password = path.read_text(encoding="utf-8").rstrip("\r\n")
                moves.append((path, Path()))  # deleted, its content becomes the credential
        tls = mqtt.get("tls")
        if isinstance(tls, dict):
            for name in _TLS_FIELDS:
                value = tls.get(name)
                if not isinstance(value, str):
                    continue
                path = _boot_path(boot, value)
                if path is None:
                    continue  # an absolute path outside the boot partition stays as it is
                if not path.is_file():
                    problems.append(f"mqtt.tls.{name}: {value} not found on the boot partition {boot}")
                    continue
                dest = etc / "tls" / path.name
                moves.append((path, dest))
                tls[name] = str(dest)
        if mqtt.get("username") and password is None:
            problems.append("mqtt.password: required with mqtt.username (the broker allows no anonymous login)")
    try:
        config_from_dict(merged, source=str(source), env={})
    except ConfigError as exc:
        problems.extend(exc.errors)
    if not merged.get("cameras"):
        problems.append("cameras: at least one camera (device_id and source) is required")
    if problems:
        raise ProvisioningError(source, problems)

    staging = Path(tempfile.mkdtemp(prefix=".provision-", dir=_ensure_dir(etc)))
    try:
        written = _stage(staging, merged, password, moves, etc)
        problems = _check_staged(staging, etc)
        if problems:
            raise ProvisioningError(source, problems)
        uid = _uid(service_user)
        secrets = _commit(staging, etc, written, uid)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for path, _ in moves:
        path.unlink(missing_ok=True)
    cameras = [str(c.get("device_id")) for c in merged["cameras"] if isinstance(c, dict)]
    source.unlink()
    (boot / ERROR_NOTE).unlink(missing_ok=True)
    (boot / DONE_NOTE).write_text(
        f"cribside provisioned this device on {time.strftime('%Y-%m-%d %H:%M:%S %Z')} from {PROVISION_FILE}:\n"
        f"cameras {', '.join(cameras)}; config {etc / 'config.yaml'}; secrets moved to {etc} and deleted here.\n"
        f"To provision again, put a new {PROVISION_FILE} here and reboot.\n",
        encoding="utf-8",
    )
    return Provisioned(source=source, config=etc / "config.yaml", secrets=secrets, cameras=cameras)


def _boot_path(boot: Path, value: str) -> Path | None:
    """A file named relative to the boot partition (or absolute inside it), else None."""
    path = Path(value)
    if not path.is_absolute():
        return boot / path
    try:
        path.relative_to(boot)
    except ValueError:
        return None
    return path


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stage(staging: Path, merged: dict[str, Any], password: str | None, moves: list[tuple[Path, Path]], etc: Path) -> dict[str, Path]:
    """Write everything into ``staging``; returns staged file -> final path."""
    written: dict[str, Path] = {}
    # The staged config names the staged TLS files, so it is checked as it will run.
    staged_cfg = copy.deepcopy(merged)
    tls = (staged_cfg.get("mqtt") or {}).get("tls") or {}
    for src, dest in moves:
        if dest == Path():
            continue
        staged = staging / "tls" / dest.name
        staged.parent.mkdir(exist_ok=True)
        _write_private(staged, src.read_bytes())
        written[f"tls/{dest.name}"] = dest
        for name in _TLS_FIELDS:
            if tls.get(name) == str(dest):
                tls[name] = str(staged)
    # Always written: the unit loads it as a credential and a missing file would fail the start;
    # empty means the device logs in without a password.
    _write_private(staging / "mqtt_password", (password or "").encode("utf-8"))
    written["mqtt_password"] = etc / "mqtt_password"
    if password is not None and isinstance(staged_cfg.get("mqtt"), dict):
        staged_cfg["mqtt"]["password_file"] = str(staging / "mqtt_password")
    header = "# Written by `cribside firstboot` from the boot partition's cribside.yaml. Check: cribside config validate FILE\n"
    (staging / "config.yaml").write_text(header + yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    (staging / "check.yaml").write_text(yaml.safe_dump(staged_cfg, sort_keys=False), encoding="utf-8")
    written["config.yaml"] = etc / "config.yaml"
    return written


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (never readable by others, even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _check_staged(staging: Path, etc: Path) -> list[str]:
    """Every reference the config makes, checked as ``cribside config validate`` does."""
    from cribside.commands.config_validate import check_references
    from cribside.edge.config import load_config

    try:
        cfg = load_config(staging / "check.yaml", env={})
    except CribsideError as exc:
        return [str(exc)]
    return [line.replace(str(staging), str(etc)) for line in check_references(cfg, env={})]


def _uid(user: str) -> int | None:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _commit(staging: Path, etc: Path, written: dict[str, Path], uid: int | None) -> list[Path]:
    """Move the staged files into place (each an atomic rename); returns the secrets."""
    secrets = []
    for rel, dest in written.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        src = staging / rel
        if rel == "config.yaml":
            os.chmod(src, 0o640)
        elif rel.startswith("tls/") and uid is not None:
            os.chown(src, uid, -1)  # the service reads its TLS files itself; the password comes via systemd
        os.replace(src, dest)
        if rel != "config.yaml":
            secrets.append(dest)
    if uid is not None:
        try:
            gid = pwd.getpwuid(uid).pw_gid
            os.chown(etc / "config.yaml", 0, gid)
        except (KeyError, PermissionError):
            pass
    return secrets
