"""What every publisher shares: topic names, the message envelope, the Publisher protocol.

Kept free of paho so that runs without MQTT (terminal only) import nothing
network-related. The MQTT contract itself is documented in ``docs/mqtt.md``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cribside.edge.types import CommandHandler, DeliveryHealth, Publisher

__all__ = [
    "ENVELOPE_FIELDS", "KINDS", "SCHEMA_VERSION", "CommandHandler", "DeliveryHealth", "EnvelopeStamper", "MessageKind",
    "NullPublisher", "Publisher", "device_topic", "encode_payload", "load_schema",
]

SCHEMA_VERSION = 3  # 2: state gained caregiver_present, pose, snoozed_until; alerts caregiver_present. 3: pose unclear
ENVELOPE_FIELDS = ("schema_version", "msg_id", "device_id", "ts")


@dataclass(frozen=True)
class MessageKind:
    """How one kind of message travels: topic suffix, QoS, retain, durable or best effort."""

    name: str
    topic: str
    qos: int
    retain: bool
    durable: bool


# The contract (docs/mqtt.md): state/status retained, alerts not, stats best effort.
KINDS: dict[str, MessageKind] = {
    "state": MessageKind("state", "state", qos=1, retain=True, durable=True),
    "alert": MessageKind("alert", "alerts", qos=1, retain=False, durable=True),
    "status": MessageKind("status", "status", qos=1, retain=True, durable=True),
    "stats": MessageKind("stats", "stats", qos=0, retain=False, durable=False),
}

def device_topic(prefix: str, device_id: str, suffix: str) -> str:
    """``<prefix>/<device_id>/<suffix>``."""
    return f"{prefix}/{device_id}/{suffix}"


class EnvelopeStamper:
    """Adds ``schema_version``, a unique ``msg_id``, ``device_id`` and ``ts`` to payloads.

    ``msg_id`` is ``<device_id>-<boot_id>-<seq>``: ``boot_id`` is random per process
    so ids never repeat across restarts; ``seq`` counts up within the process.
    """

    def __init__(self, boot_id: str | None = None) -> None:
        self.boot_id = boot_id or uuid.uuid4().hex[:12]
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def stamp(self, device_id: str, payload: dict[str, Any], ts: float | None = None) -> dict[str, Any]:
        """A new dict: the envelope first, then the payload's own fields (envelope keys in payload are replaced)."""
        with self._lock:
            seq = next(self._seq)
        envelope = {
            "schema_version": SCHEMA_VERSION,
            "msg_id": f"{device_id}-{self.boot_id}-{seq}",
            "device_id": device_id,
            "ts": float(time.time() if ts is None else ts),
        }
        return {**envelope, **{k: v for k, v in payload.items() if k not in envelope}}


def encode_payload(message: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN/inf are refused because consumers' JSON parsers reject them."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")


class NullPublisher:
    """A Publisher for runs without MQTT: stamps envelopes, keeps the last message of each kind.

    Terminal printing is the console's job; this only makes the loop's code the same
    with and without a broker.
    """

    connected = False
    outbox_depth = 0

    def __init__(self, boot_id: str | None = None) -> None:
        self._stamper = EnvelopeStamper(boot_id)
        self.last: dict[tuple[str, str], dict[str, Any]] = {}

    def start(self) -> None:
        """Nothing to start."""

    def publish(self, device_id: str, kind: str, payload: dict[str, Any], *, ts: float | None = None) -> str:
        """Stamp the envelope and remember the message; returns its ``msg_id``."""
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r}; expected one of {sorted(KINDS)}")
        message = self._stamper.stamp(device_id, payload, ts)
        self.last[(device_id, kind)] = message
        return str(message["msg_id"])

    def on_command(self, handler: CommandHandler) -> None:
        """No commands arrive without MQTT."""

    def health(self, device_id: str) -> DeliveryHealth:
        """Nothing is queued and nothing can fail without MQTT."""
        return DeliveryHealth()

    def problems(self) -> list[str]:
        """No threads of its own: never a problem."""
        return []

    def stop(self, timeout_s: float = 5.0) -> None:
        """Nothing to flush."""


def load_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a payload kind (state, alert, status, stats, cmd_ack, cmd_snooze, cmd_result)."""
    text = resources.files("cribside.edge").joinpath("schemas").joinpath(f"{kind}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
