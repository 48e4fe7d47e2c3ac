"""Reading the MQTT password: from a file or the environment, never from the YAML.

Order (first found wins): ``mqtt.password_file``, env ``CRIBSIDE_MQTT_PASSWORD``,
``$CREDENTIALS_DIRECTORY/mqtt_password`` (systemd ``LoadCredential=mqtt_password:...``).
The value is never logged nor put in an error message.

:func:`security_warnings` lists what is unsafe but not wrong (``config validate``
prints it, ``cribside run`` logs it): a password or TLS key file others can read,
a config others can change, and a user name and password sent in clear over plain
TCP to another host.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from cribside.edge.config import DeviceConfig, MqttConfig
from cribside.edge.errors import CribsideError

PASSWORD_ENV = "CRIBSIDE_MQTT_PASSWORD"
CREDENTIAL_NAME = "mqtt_password"


def _read_secret_file(path: Path, what: str) -> str:
    try:
        # One trailing newline is what `echo secret > file` leaves; it is not part of the secret.
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise CribsideError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CribsideError(f"{what} {path} is not UTF-8 text (wrong file?)") from None


def password_source(cfg: MqttConfig, env: Mapping[str, str] | None = None) -> str | None:
    """Where the password comes from (for logs and ``config validate``), or None."""
    env = os.environ if env is None else env
    if cfg.password_file is not None:
        return f"file {cfg.password_file}"
    if env.get(PASSWORD_ENV):
        return f"environment variable {PASSWORD_ENV}"
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / CREDENTIAL_NAME).is_file():
        return f"systemd credential {CREDENTIAL_NAME}"
    return None


def read_mqtt_password(cfg: MqttConfig, env: Mapping[str, str] | None = None) -> str | None:
    """The broker password, or None when none is configured.

    Raises:
        CribsideError: the configured password file cannot be read, or a password
            is given without ``mqtt.username`` (MQTT sends no password without a user).
    """
    env = os.environ if env is None else env
    password: str | None = None
    if cfg.password_file is not None:
        password = _read_secret_file(cfg.password_file, "mqtt.password_file")
    elif env.get(PASSWORD_ENV):
        password = env[PASSWORD_ENV]
    elif env.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(env["CREDENTIALS_DIRECTORY"]) / CREDENTIAL_NAME
        if candidate.is_file():
            # Empty means "no password": the unit always loads the credential (a missing file would
            # fail the start), so a device that logs in without one gets an empty file.
            password = _read_secret_file(candidate, "systemd credential") or None
    if password is not None and not cfg.username:
        raise CribsideError(f"mqtt.username is required with a password (from {password_source(cfg, env)})")
    return password


# Names that always mean this machine; anything else may be reached over a network.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, ``*.localhost`` and loopback addresses (no DNS lookup).

    ``127.0.0.1``, ``::1`` and ``[::1]`` are loopback; a name that only resolves
    to one (through ``/etc/hosts``) is not trusted to stay so.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _readable_by_others(path: Path) -> str | None:
    """``"everyone"``, ``"its group (NAME)"`` or None (also None when the file cannot be stat'ed)."""
    try:
        info = path.stat()
    except (OSError, ValueError):
        return None  # missing or unreadable: an error for config validate, not a warning
    if info.st_mode & stat.S_IROTH:
        return "everyone"
    if info.st_mode & stat.S_IRGRP:
        try:
            import grp

            group = grp.getgrgid(info.st_gid).gr_name
        except (ImportError, KeyError):
            group = str(info.st_gid)
        return f"its group ({group})"
    return None


def secret_file_warnings(cfg: MqttConfig) -> list[str]:
    """One line per secret file others can read: ``mqtt.password_file`` and ``mqtt.tls.key_file``.

    Args:
        cfg: the ``mqtt`` section.

    Returns:
        Warning lines naming the field, the path, who can read it and the fix;
        empty when both are private (mode 0600 or 0400) or not set.
    """
    warnings = []
    for field, path in (("mqtt.password_file", cfg.password_file), ("mqtt.tls.key_file", cfg.tls.key_file)):
        if path is None:
            continue
        who = _readable_by_others(path)
        if who is not None:
            mode = stat.S_IMODE(path.stat().st_mode)
            warnings.append(f"{field}: {path} is readable by {who} (mode {mode:04o}): chmod 600 {path}")
    return warnings


def plain_tcp_warnings(cfg: MqttConfig, env: Mapping[str, str] | None = None) -> list[str]:
    """A warning when a user name and password would cross the network unencrypted.

    Plain TCP (no ``mqtt.tls`` file) to a host that is not loopback sends the
    MQTT CONNECT packet, user name and password included, in clear.

    Args:
        cfg: the ``mqtt`` section.
        env: environment the password may come from; ``os.environ`` when None.
    """
    if cfg.tls.enabled or is_loopback_host(cfg.host):
        return []
    if not cfg.username and password_source(cfg, env) is None:
        return []
    return [
        f"mqtt: user name and password go to {cfg.host}:{cfg.port} over plain TCP, readable by anyone on the "
        "network: set mqtt.tls.ca_file (and use port 8883)"
    ]


def config_file_warnings(path: str | os.PathLike[str]) -> list[str]:
    """A warning when others can change the config file (and so point the device at their broker)."""
    try:
        mode = stat.S_IMODE(Path(path).stat().st_mode)
    except (OSError, ValueError):
        return []
    if mode & (stat.S_IWOTH | stat.S_IWGRP):
        who = "everyone" if mode & stat.S_IWOTH else "its group"
        return [f"config: {path} can be changed by {who} (mode {mode:04o}): chmod go-w {path}"]
    return []


def security_warnings(
    cfg: DeviceConfig, config_path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> list[str]:
    """Every warning of :func:`secret_file_warnings`, :func:`plain_tcp_warnings` and :func:`config_file_warnings`.

    What ``config validate`` prints and ``cribside run`` should log at start-up;
    none of it stops the device.

    Args:
        cfg: the validated device config.
        config_path: the file it came from (None: defaults, no file to check).
        env: environment the password may come from; ``os.environ`` when None.
    """
    warnings = config_file_warnings(config_path) if config_path is not None else []
    if cfg.mqtt is not None:
        warnings += secret_file_warnings(cfg.mqtt) + plain_tcp_warnings(cfg.mqtt, env)
    return warnings
