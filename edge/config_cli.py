"""``cribside config validate FILE``: check a device config before a reboot finds the typo.

Prints every error with its field path and exits 2, or prints ``ok`` and a
summary. Secrets are never printed: the summary says where a password comes
from, not what it is.
"""

from __future__ import annotations

import argparse
import sys

from cribside.edge.config import ConfigError, DeviceConfig, load_config
from cribside.edge.errors import CribsideError
from cribside.edge.secrets import password_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cribside config validate``."""
    parser.add_argument("config", metavar="FILE", help="device config YAML (CRIBSIDE__* environment overrides apply)")


def summary(cfg: DeviceConfig) -> list[str]:
    """Human-readable lines describing a valid config (no secret values)."""
    lines = [
        f"models: {cfg.models.dir} (variant {cfg.models.variant}, delegate {cfg.models.delegate}, threads {cfg.models.threads})",
        f"cameras: {len(cfg.cameras)}"
        + "".join(f"\n  - {c.device_id}: {c.source} ({c.width}x{c.height}{', realtime' if c.realtime else ''})" for c in cfg.cameras),
    ]
    if cfg.mqtt is None:
        lines.append("mqtt: off (events go to the terminal only)")
    else:
        m = cfg.mqtt
        auth = f"user {m.username}, password from {password_source(m) or 'env CRIBSIDE_MQTT_PASSWORD or systemd credential mqtt_password (not set here)'}" if m.username else "anonymous"
        tls = "TLS" + (" with client certificate" if m.tls.cert_file else "") if m.tls.enabled else "plain TCP"
        ha = f", Home Assistant discovery under {m.homeassistant.discovery_prefix}/" if m.homeassistant.enabled else ""
        lines.append(f"mqtt: {m.host}:{m.port}, {tls}, {auth}, topics {m.prefix}/<device_id>/...{ha}")
    lines.append(f"outbox: {cfg.outbox.path} (max {cfg.outbox.max_messages} messages, sync {cfg.outbox.sync})")
    a = cfg.alerts
    lines.append(f"alerts: {a.k} of {a.m} windows, quiet {a.quiet_s:g} s, severe immediate {a.severe_immediate}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Validate the file; 0 and a summary when valid, 2 and every error otherwise."""
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.errors)} error(s):", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return 2
    except CribsideError as exc:
        print(f"cribside config validate: error: {exc}", file=sys.stderr)
        return 2
    print(f"ok: {args.config}")
    for line in summary(cfg):
        print(f"  {line}")
    return 0
