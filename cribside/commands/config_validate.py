"""``cribside config validate FILE``: check a device config before a reboot finds the typo.

First the file itself (every error with its field path), then everything it
refers to, as ``cribside run`` would find it at start-up on this machine: the
models folder, its ``manifest.json`` and every model file it names, the face
models (``cribside fetch-models``), every camera source that is a file or folder,
the MQTT password file and TLS files, and at least one camera. Each problem is
one line naming the field and the path; any problem exits 2. Otherwise it prints
``ok`` and a summary.

Warnings (printed, exit 0): a password or TLS key file others can read, a config
others can change, a password sent over plain TCP to another host
(:func:`cribside.edge.config.secrets.security_warnings`), and a camera without a crib zone
(:func:`cribside.edge.config.zones.zone_warnings`).

Secrets are never printed: the summary says where a password comes from, not
what it is, and stream URLs lose their ``user:password@`` everywhere in the output.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path

from cribside.edge.config import ConfigError, DeviceConfig, MqttConfig, load_config
from cribside.edge.config.secrets import password_source, read_mqtt_password, security_warnings
from cribside.edge.config.zones import crib_zone, zone_warnings
from cribside.edge.errors import CribsideError
from cribside.edge.sources.base import SourceOptions, file_source_path, redact_url
from cribside.edge.sources.registry import open_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cribside config validate``."""
    parser.add_argument("config", metavar="FILE", help="device config YAML (CRIBSIDE__* environment overrides apply)")


def summary(cfg: DeviceConfig) -> list[str]:
    """Human-readable lines describing a valid config (no secret values, URLs without credentials)."""
    lines = [
        f"models: {cfg.models.dir} (variant {cfg.models.variant}, delegate {cfg.models.delegate}, threads {cfg.models.threads})",
        f"cameras: {len(cfg.cameras)}"
        + "".join(f"\n  - {c.device_id}: {c.source} ({c.width}x{c.height}{', realtime' if c.realtime else ''}), {crib_zone(c).describe()}"
                  for c in cfg.cameras),
    ]
    if cfg.mqtt is None:
        lines.append("mqtt: off (events go to the terminal only)")
    else:
        m = cfg.mqtt
        unset = "env CRIBSIDE_MQTT_PASSWORD or systemd credential mqtt_password (not set here)"
        auth = f"user {m.username}, password from {password_source(m) or unset}" if m.username else "anonymous"
        tls = "TLS" + (" with client certificate" if m.tls.cert_file else "") if m.tls.enabled else "plain TCP"
        ha = f", Home Assistant discovery under {m.homeassistant.discovery_prefix}/" if m.homeassistant.enabled else ""
        lines.append(f"mqtt: {m.host}:{m.port}, {tls}, {auth}, topics {m.prefix}/<device_id>/...{ha}")
    lines.append(f"outbox: {cfg.outbox.path} (max {cfg.outbox.max_messages} messages, sync {cfg.outbox.sync})")
    a = cfg.alerts
    lines.append(f"alerts: {a.k} of {a.m} windows, quiet {a.quiet_s:g} s, severe immediate {a.severe_immediate}")
    return [redact_url(line) for line in lines]


def check_references(cfg: DeviceConfig, env: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with what a valid config refers to, one ``field: problem`` line each.

    Reads the files (never prints their content) and decodes the first frame of
    each video; opens no camera, stream or broker connection.

    Args:
        cfg: the validated config.
        env: environment for the MQTT password and the face models' folder; ``os.environ`` when None.

    Returns:
        Problem lines; empty when ``cribside run`` would find everything it needs.
    """
    env = os.environ if env is None else env
    problems = []
    if not cfg.cameras:
        problems.append("cameras: no camera configured: add a cameras: list (or give cribside run --source)")
    problems += _check_models(cfg)
    problems += _check_face_models(env)
    problems += _check_cameras(cfg)
    if cfg.mqtt is not None:
        problems += _check_mqtt(cfg.mqtt, env)
        problems += _check_outbox(cfg.outbox.path)
    return [redact_url(line) for line in problems]


def _check_models(cfg: DeviceConfig) -> list[str]:
    """The models folder, its manifest, the files it names and the aligner they were trained with."""
    from cribside.edge.face.settings import AlignerSettings
    from cribside.edge.inference.manifest import MANIFEST_FILE, check_aligner, parse_manifest, sha256_file

    folder = Path(cfg.models.dir)
    manifest_path = folder / MANIFEST_FILE
    if not folder.is_dir():
        return [f"models.dir: folder not found: {folder}"]
    if not manifest_path.is_file():
        return [f"models.dir: no {MANIFEST_FILE} in {folder}: convert a run with 'cribside convert RUN --out DIR'"]
    try:
        manifest = parse_manifest(manifest_path.read_bytes(), str(manifest_path))
    except OSError as exc:
        return [f"models.dir: cannot read {manifest_path}: {exc.strerror or exc}"]
    except CribsideError as exc:
        return [f"models.dir: {exc}"]
    problems = []
    variant = cfg.models.variant
    if variant != "auto" and variant not in manifest.variants:
        problems.append(f"models.variant: {variant} is not in {manifest_path} (it has {', '.join(manifest.variants)})")
    # variant auto may pick any of them, depending on the delegate found at start-up
    wanted = [manifest.variants[variant]] if variant in manifest.variants else list(manifest.variants.values())
    files = {m.file: m.sha256 for v in wanted for m in (v.encoder, v.classifier)}
    for name, expected in files.items():
        path = folder / name
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            problems.append(f"models.dir: model file missing: {path} (listed in {MANIFEST_FILE})")
            continue
        except (OSError, ValueError) as exc:
            problems.append(f"models.dir: cannot read model file {path}: {getattr(exc, 'strerror', None) or exc}")
            continue
        if actual != expected:
            problems.append(
                f"models.dir: model file {path} does not match {MANIFEST_FILE} (sha256): damaged or from another conversion"
            )
    try:
        check_aligner(manifest, AlignerSettings(select=cfg.aligner.select).fingerprint())
    except CribsideError as exc:
        problems.append(f"models.dir: {manifest_path}: {exc}")
    return problems


def _check_face_models(env: Mapping[str, str]) -> list[str]:
    """MediaPipe's face models where the aligner looks: ``$CRIBSIDE_FACE_MODELS`` or the user's cache."""
    from cribside.edge.face.assets import ENV_DIR, default_models_dir, ensure_face_models

    folder = Path(env[ENV_DIR]).expanduser() if env.get(ENV_DIR) else default_models_dir()
    try:
        ensure_face_models(folder)
    except CribsideError as exc:
        where = f"${ENV_DIR}" if env.get(ENV_DIR) else f"the cache of user {_user()} (or set ${ENV_DIR})"
        return [f"face models ({where}): {exc}"]
    return []


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def _check_cameras(cfg: DeviceConfig) -> list[str]:
    """Each camera's source opened as ``cribside run`` opens it (files: first frame decoded)."""
    problems = []
    for i, camera in enumerate(cfg.cameras):
        options = SourceOptions(realtime=camera.realtime, width=camera.width, height=camera.height)
        path = file_source_path(camera.source)
        if path is not None and not path.exists():
            problems.append(f"cameras[{i}].source: not found: {path}")
            continue
        device = camera.source[len("v4l2:"):] if camera.source.startswith("v4l2:/dev/") else None
        if device is not None and not Path(device).exists():
            problems.append(f"cameras[{i}].source: no camera at {device} (unplugged? list them: ls -l /dev/v4l/by-id/)")
            continue
        try:
            open_source(camera.source, options).close()
        except CribsideError as exc:
            problems.append(f"cameras[{i}].source: {exc}")
    return problems


class _EncryptedKey(Exception):
    """The TLS key asked for a passphrase (paho is given none at run time)."""


def _refuse_passphrase() -> bytes:
    raise _EncryptedKey


def _check_mqtt(cfg: MqttConfig, env: Mapping[str, str]) -> list[str]:
    """The password (readable, not empty, with a user name) and the TLS files (readable PEM)."""
    problems = []
    if cfg.password_file is not None:
        try:
            content = cfg.password_file.read_bytes()
        except (OSError, ValueError) as exc:
            problems.append(f"mqtt.password_file: cannot read {cfg.password_file}: {getattr(exc, 'strerror', None) or exc}")
        else:
            if not content.rstrip(b"\r\n"):
                problems.append(f"mqtt.password_file: {cfg.password_file} is empty")
    if not problems:
        try:
            read_mqtt_password(cfg, env)  # not UTF-8, or a password without mqtt.username
        except CribsideError as exc:
            problems.append(str(exc))
    tls = cfg.tls
    missing = False
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, name)
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except (OSError, ValueError) as exc:
            problems.append(f"mqtt.tls.{name}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}")
            missing = True
    if missing or not tls.enabled:
        return problems
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if tls.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(tls.ca_file))
        except ssl.SSLError as exc:
            problems.append(f"mqtt.tls.ca_file: {tls.ca_file} is not a PEM CA certificate ({exc.reason or exc})")
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=_refuse_passphrase)
        except _EncryptedKey:
            problems.append(
                f"mqtt.tls.key_file: {tls.key_file} is encrypted with a passphrase, which cribside cannot give: "
                "store it unencrypted, readable only by the service (chmod 600)"
            )
        except ssl.SSLError as exc:
            problems.append(
                f"mqtt.tls.cert_file: cannot load {tls.cert_file} with key {tls.key_file} "
                f"(not PEM, or a key of another certificate: {exc.reason or exc})"
            )
    return problems


def _check_outbox(path: Path) -> list[str]:
    """The outbox must be (or become) a file: not a folder, not under a file."""
    path = Path(path)
    if path.is_dir():
        return [f"outbox.path: {path} is a directory (give a file name, e.g. {path / 'outbox.sqlite'})"]
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return [f"outbox.path: {parent} is not a directory, so {path} cannot be created"]
            break
    return []


def run(args: argparse.Namespace) -> int:
    """Validate the file and what it refers to; 0 and a summary when valid, 2 and every problem otherwise."""
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(redact_url(f"{exc.source}: {len(exc.errors)} error(s):"), file=sys.stderr)
        for line in exc.errors:
            print(redact_url(f"  {line}"), file=sys.stderr)
        return 2
    except CribsideError as exc:
        print(redact_url(f"cribside config validate: error: {exc}"), file=sys.stderr)
        return 2
    problems = check_references(cfg)
    for line in security_warnings(cfg, args.config) + zone_warnings(cfg, args.config):
        print(redact_url(f"warning: {line}"), file=sys.stderr)
    if problems:
        print(f"{args.config}: {len(problems)} problem(s):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 2
    print(f"ok: {args.config}")
    for line in summary(cfg):
        print(f"  {line}")
    return 0
