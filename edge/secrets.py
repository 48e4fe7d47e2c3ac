"""Reading the MQTT password: from a file or the environment, never from the YAML.

Order (first found wins): ``mqtt.password_file``, env ``CRIBSIDE_MQTT_PASSWORD``,
``$CREDENTIALS_DIRECTORY/mqtt_password`` (systemd ``LoadCredential=mqtt_password:...``).
The value is never logged nor put in an error message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from cribside.edge.config import MqttConfig
from cribside.edge.errors import CribsideError

PASSWORD_ENV = "CRIBSIDE_MQTT_PASSWORD"
CREDENTIAL_NAME = "mqtt_password"


def _read_secret_file(path: Path, what: str) -> str:
    try:
        # One trailing newline is what `echo secret > file` leaves; it is not part of the secret.
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise CribsideError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


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
            password = _read_secret_file(candidate, "systemd credential")
    if password is not None and not cfg.username:
        raise CribsideError(f"mqtt.username is required with a password (from {password_source(cfg, env)})")
    return password
