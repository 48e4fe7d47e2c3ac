"""The device configuration: one YAML file, validated before anything starts.

The sections are pydantic models in :mod:`cribside.edge.config.models`
(re-exported here); this module reads the file, applies environment overrides
and turns validation errors into one ``field.path: message`` line each.

Environment overrides use the ``CRIBSIDE__SECTION__FIELD`` form, for example
``CRIBSIDE__MQTT__HOST=broker`` or ``CRIBSIDE__MQTT__TLS__CA_FILE=/etc/ca.pem``.
Cameras are a list and are configured in the YAML only.

Relative paths in the file (models dir, outbox, password and TLS files, and
file-like camera sources) are resolved against the folder holding the config
file, not the working directory, because a systemd service's working directory is ``/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cribside.edge.config.models import (
    DEVICE_ID_PATTERN,
    AlertsConfig,
    AlignerConfig,
    CameraConfig,
    DeviceConfig,
    HealthConfig,
    HomeAssistantConfig,
    ModelsConfig,
    MqttConfig,
    OutboxConfig,
    ReconnectConfig,
    StatsConfig,
    TlsConfig,
)
from cribside.edge.errors import CribsideError

__all__ = [
    "DEVICE_ID_PATTERN", "AlertsConfig", "AlignerConfig", "CameraConfig", "ConfigError", "DeviceConfig", "HealthConfig",
    "HomeAssistantConfig", "ModelsConfig", "MqttConfig", "OutboxConfig", "ReconnectConfig", "StatsConfig", "TlsConfig",
    "config_from_dict", "default_client_id", "env_overrides", "format_validation_errors", "load_config",
]

ENV_PREFIX = "CRIBSIDE__"


class ConfigError(CribsideError):
    """An invalid config file; ``errors`` holds one ``"field.path: message"`` line per problem."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        n = len(errors)
        super().__init__(f"{source}: {n} error{'s' if n != 1 else ''}: " + "; ".join(errors))


def format_validation_errors(exc: ValidationError) -> list[str]:
    """One ``field.path: message`` line per pydantic error (list indexes as [i]).

    Values are never echoed: a misplaced password must not reach a log.
    """
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and err["loc"][-1] == "password":
            message = "not allowed: the password never goes in this file; use password_file, CRIBSIDE_MQTT_PASSWORD or a systemd credential"
        elif err["type"] == "extra_forbidden":
            message = "unknown key (not allowed here; check the spelling)"
        elif err["type"] == "missing":
            message = "required field missing"
        lines.append(f"{path or '(top level)'}: {message}")
    return lines


def env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Nested dict from ``CRIBSIDE__A__B=value`` variables (values parsed as YAML scalars).

    ``CRIBSIDE__MQTT__PORT=8883`` becomes ``{"mqtt": {"port": 8883}}``. Keys are
    lower-cased. ``cameras`` cannot be overridden (it is a list).

    Raises:
        ConfigError: for a variable naming ``cameras`` or with an empty path part.
    """
    tree: dict[str, Any] = {}
    errors = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if not all(parts):
            errors.append(f"{name}: empty path part (use CRIBSIDE__SECTION__FIELD)")
            continue
        if parts[0] == "cameras":
            errors.append(f"{name}: cameras can only be configured in the YAML file")
            continue
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                errors.append(f"{name}: conflicts with another override")
                break
        else:
            node[parts[-1]] = _parse_scalar(env[name])
    if errors:
        raise ConfigError("environment", errors)
    return tree


def _parse_scalar(text: str) -> Any:
    # YAML scalar rules so "8883" is an int and "true" a bool, like in the file.
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) or value is None else text


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        elif isinstance(value, dict) and merged.get(key) is None:
            merged[key] = _merge({}, value)
        else:
            merged[key] = value
    return merged


def config_from_dict(data: Mapping[str, Any], *, source: str = "config", env: Mapping[str, str] | None = None) -> DeviceConfig:
    """Validate a config mapping, applying environment overrides.

    Args:
        data: the parsed YAML document.
        source: name used in error messages (the file name).
        env: environment to read ``CRIBSIDE__*`` overrides from; ``os.environ`` when None.

    Returns:
        The validated, immutable :class:`DeviceConfig`.

    Raises:
        ConfigError: listing every problem with its field path.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(source, ["(top level): expected a mapping of sections (models, mqtt, cameras, ...)"])
    env = os.environ if env is None else env
    merged = _merge(dict(data), env_overrides(env))
    try:
        return DeviceConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(source, _name_env_sources(format_validation_errors(exc), env)) from None


def _name_env_sources(lines: list[str], env: Mapping[str, str]) -> list[str]:
    # An error in a value set from the environment should say so, or the file looks fine and puzzles.
    from_env = {name[len(ENV_PREFIX) :].lower().replace("__", "."): name for name in env if name.startswith(ENV_PREFIX)}
    named = []
    for line in lines:
        path = line.split(": ", 1)[0]
        named.append(f"{line} (set by {from_env[path]})" if path in from_env else line)
    return named


_PATH_FIELDS = (("models", "dir"), ("outbox", "path"), ("mqtt", "password_file"), ("mqtt", "tls", "ca_file"),
                ("mqtt", "tls", "cert_file"), ("mqtt", "tls", "key_file"))


def _resolve(value: str, base: Path) -> str:
    path = Path(os.path.expanduser(value))
    return value if path.is_absolute() else os.path.normpath(base / path)


def _resolve_source(source: str, base: Path) -> str:
    # Only file-like sources: "picamera2", "v4l2:0" and URLs are not paths.
    for scheme in ("file:", "frames:"):
        if source.startswith(scheme) and not source.startswith(scheme + "//"):
            return scheme + _resolve(source[len(scheme) :], base)
    if ":" not in source and ("/" in source or "." in source):
        return _resolve(source, base)
    return source


def _resolve_relative_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    for path in _PATH_FIELDS:
        node: Any = data
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(path[-1]), str):
            node[path[-1]] = _resolve(node[path[-1]], base)
    cameras = data.get("cameras")
    if isinstance(cameras, list):
        for camera in cameras:
            if isinstance(camera, dict) and isinstance(camera.get("source"), str):
                camera["source"] = _resolve_source(camera["source"], base)
    return data


# A device config is a few kB; anything this big is the wrong file (a video, /dev/zero).
MAX_CONFIG_BYTES = 1 << 20


def _read_text(file: Path) -> str:
    """The config file's text, or a one-line CribsideError naming the file."""
    try:
        if file.is_dir():
            raise CribsideError(f"cannot read config file {file}: it is a directory, not a YAML file")
        with open(file, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise CribsideError(f"cannot read config file {file}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise CribsideError(f"{file}: larger than {MAX_CONFIG_BYTES // 1024} KiB: not a device config (wrong file?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CribsideError(
            f"{file}: not a UTF-8 text file (byte 0x{raw[exc.start]:02x} at line {line}, offset {exc.start}): "
            "a device config is YAML text (wrong file?)"
        ) from None
    if "\x00" in text:
        raise CribsideError(f"{file}: holds NUL bytes at offset {text.index(chr(0))}: a binary file, not a YAML config")
    return text


def _parse_yaml(text: str, file: Path) -> Any:
    """``yaml.safe_load`` with every parse failure as one line naming the file and, when known, the place."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        raise CribsideError(f"{file}: not valid YAML{where}: {problem}") from None
    except yaml.reader.ReaderError as exc:
        what = f"character #x{exc.character:04x}" if isinstance(exc.character, int) else "byte"
        raise CribsideError(f"{file}: not valid YAML at offset {exc.position}: unacceptable {what} ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise CribsideError(f"{file}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise CribsideError(f"{file}: not valid YAML: nested too deeply") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors raise these for a tagged or implicit value they cannot build,
        # e.g. the date 2024-13-45 or "!!int abc".
        raise CribsideError(f"{file}: not valid YAML: a value cannot be read ({' '.join(str(exc).split())})") from None


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> DeviceConfig:
    """Read, override from the environment, and validate a device config file.

    Relative paths inside the file are resolved against the file's folder.

    Raises:
        CribsideError: the file cannot be read, is not UTF-8 text, or is not YAML
            (a directory, a binary file, a syntax error), each as one line.
        ConfigError: the content is invalid (every error with its field path).
    """
    file = Path(path)
    data = _parse_yaml(_read_text(file), file)
    if data is None:
        data = {}
    if isinstance(data, dict):
        data = _resolve_relative_paths(data, file.resolve().parent)
    return config_from_dict(data, source=str(file), env=env)


def default_client_id(device_id: str, hostname: str, configured: str | None, n_devices: int) -> str:
    """The MQTT client id for one camera: unique per device (the broker drops duplicates).

    A configured id is used as is for a single camera and gets ``-<device_id>``
    appended when the process watches several.
    """
    if configured:
        return configured if n_devices == 1 else f"{configured}-{device_id}"
    host = re.sub(r"[^A-Za-z0-9_-]", "-", hostname) or "host"
    return f"cribside-{device_id}-{host}"
