"""The MQTT publisher: durable, ordered delivery of state, alerts and status per camera.

One paho client per camera (device id): MQTT allows one last will per
connection, and each camera must have its own ``availability`` will so a
dead process marks every one of its cribs ``offline``. Each client has its own
unique client id.

Delivery path of a state/alert/status message::

    publish() -> stamp envelope -> Outbox.put (committed) -> sender thread
      -> client.publish(QoS 1) -> PUBACK -> on_publish -> Outbox.ack

The sender hands each outbox row to paho once per process, in order, and only
while connected, never more than ``MAX_INFLIGHT`` at a time per camera; paho
itself re-sends un-acknowledged messages after a reconnect. After a restart
every row still in the outbox is sent again from the oldest. Stats are best
effort (QoS 0, never queued). Reconnects use exponential backoff with jitter,
so a ward full of devices does not hammer a restarted broker in lockstep.
"""

from __future__ import annotations

import logging
import queue
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from cribside.edge import homeassistant
from cribside.edge.commands import handle_command
from cribside.edge.config import MqttConfig, default_client_id
from cribside.edge.errors import CribsideError
from cribside.edge.outbox import Outbox
from cribside.edge.publisher import KINDS, CommandHandler, EnvelopeStamper, device_topic, encode_payload
from cribside.edge.secrets import read_mqtt_password

log = logging.getLogger(__name__)

MAX_INFLIGHT = 20  # paho's default max_inflight_messages: beyond it paho would queue in memory
_SENDER_POLL_S = 0.5


@dataclass
class _Link:
    """One camera's connection and delivery bookkeeping (mutated by the sender and paho threads)."""

    device_id: str
    client: paho.Client
    topic_prefix: str
    connected: bool = False
    failures: int = 0
    cursor: int = 0  # highest outbox row id handed to paho in this process
    inflight: dict[int, int] = field(default_factory=dict)  # paho mid -> outbox row id
    last_error: str = ""


class MqttPublisher:
    """Publishes each camera's messages to an MQTT broker through a durable outbox.

    Args:
        cfg: the ``mqtt`` config section.
        outbox: the durable queue (shared by all cameras; rows are per topic).
        device_ids: one per camera; each gets its own client, will and topics.
        boot_id: part of every ``msg_id``; random per process when None.
        hostname: used in default client ids; this machine's name when None.

    Raises:
        CribsideError: unreadable password or TLS files.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        outbox: Outbox,
        device_ids: list[str],
        *,
        boot_id: str | None = None,
        hostname: str | None = None,
    ) -> None:
        if not device_ids:
            raise CribsideError("mqtt: no cameras configured (cameras: [...] is empty)")
        self.cfg = cfg
        self.outbox = outbox
        self.stats_dropped = 0
        self._stamper = EnvelopeStamper(boot_id)
        self._handler: CommandHandler | None = None
        self._acks: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._sender: threading.Thread | None = None
        password = read_mqtt_password(cfg)
        host = hostname or socket.gethostname()
        self._links = {
            d: self._make_link(d, default_client_id(d, host, cfg.client_id, len(device_ids)), password) for d in device_ids
        }

    @property
    def boot_id(self) -> str:
        """The per-process part of every msg_id."""
        return self._stamper.boot_id

    @property
    def connected(self) -> bool:
        """True when every camera's client has a successful CONNACK."""
        return all(link.connected for link in self._links.values())

    def is_connected(self, device_id: str) -> bool:
        """True when this camera's client has a successful CONNACK."""
        return self._links[device_id].connected

    @property
    def outbox_depth(self) -> int:
        """Messages still waiting for the broker's acknowledgement."""
        return self.outbox.depth()

    # -- set-up -----------------------------------------------------------------------------------

    def _make_link(self, device_id: str, client_id: str, password: str | None) -> _Link:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        link = _Link(device_id, client, device_topic(self.cfg.prefix, device_id, ""))
        client.will_set(self._topic(device_id, "availability"), "offline", qos=1, retain=True)
        if self.cfg.username:
            client.username_pw_set(self.cfg.username, password)
        tls = self.cfg.tls
        if tls.enabled:
            for name in ("ca_file", "cert_file", "key_file"):
                path = getattr(tls, name)
                if path is not None and not path.is_file():
                    raise CribsideError(f"mqtt.tls.{name}: file not found: {path}")
            try:
                client.tls_set(
                    ca_certs=str(tls.ca_file) if tls.ca_file else None,
                    certfile=str(tls.cert_file) if tls.cert_file else None,
                    keyfile=str(tls.key_file) if tls.key_file else None,
                )
            except (OSError, ValueError) as exc:
                raise CribsideError(f"mqtt.tls: cannot load certificates: {exc}") from None
            client.tls_insecure_set(tls.insecure)
        client.reconnect_delay_set(self.cfg.reconnect.min_delay_s, self.cfg.reconnect.max_delay_s)
        client.user_data_set(link)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return link

    def _topic(self, device_id: str, suffix: str) -> str:
        return device_topic(self.cfg.prefix, device_id, suffix)

    def start(self) -> None:
        """Connect in the background (paho's network thread owns reconnects) and start the sender."""
        for link in self._links.values():
            link.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
            link.client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name="cribside-mqtt-sender", daemon=True)
        self._sender.start()
        log.info(
            "MQTT: connecting to %s:%d%s for %s (boot %s)",
            self.cfg.host,
            self.cfg.port,
            " over TLS" if self.cfg.tls.enabled else "",
            ", ".join(self._links),
            self.boot_id,
        )

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, device_id: str, kind: str, payload: dict[str, Any], *, ts: float | None = None) -> str:
        """Stamp the envelope and send; durable kinds are committed to the outbox before returning.

        Args:
            device_id: the camera.
            kind: ``state``, ``alert``, ``status`` (durable, QoS 1) or ``stats`` (QoS 0, dropped while offline).
            payload: the kind's fields (see docs/mqtt.md); envelope fields are added.
            ts: when the event happened (unix seconds); now when None.

        Returns:
            The message's ``msg_id``.
        """
        spec = KINDS.get(kind)
        if spec is None:
            raise ValueError(f"unknown message kind {kind!r}; expected one of {sorted(KINDS)}")
        link = self._links.get(device_id)
        if link is None:
            raise ValueError(f"unknown device_id {device_id!r}; configured: {sorted(self._links)}")
        message = self._stamper.stamp(device_id, payload, ts)
        data = encode_payload(message)
        topic = self._topic(device_id, spec.topic)
        if spec.durable:
            self.outbox.put(topic, data, spec.qos, spec.retain, kind)
            self._wake.set()
        elif link.connected:
            link.client.publish(topic, data, qos=spec.qos, retain=spec.retain)
        else:
            self.stats_dropped += 1
        return str(message["msg_id"])

    def on_command(self, handler: CommandHandler) -> None:
        """Register the loop's handler for validated ``cmd/ack`` and ``cmd/snooze`` commands."""
        self._handler = handler

    def _send_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(_SENDER_POLL_S)
            self._wake.clear()
            self._drain_acks()
            for link in self._links.values():
                if link.connected:
                    self._send_pending(link)

    def _send_pending(self, link: _Link) -> None:
        room = MAX_INFLIGHT - len(link.inflight)
        if room <= 0:
            return
        for row in self.outbox.pending(room, after_id=link.cursor, topic_prefix=link.topic_prefix):
            info = link.client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
            if info.rc != paho.MQTT_ERR_SUCCESS and info.rc != paho.MQTT_ERR_NO_CONN:
                log.warning("MQTT publish of outbox row %d failed: %s", row.id, paho.error_string(info.rc))
                return  # retried from the same row next time round
            # Registered before any ack is processed: acks are drained by this same thread.
            link.cursor = row.id
            if row.qos == 0:
                self.outbox.ack(row.id)
            else:
                link.inflight[info.mid] = row.id

    def _drain_acks(self) -> None:
        while True:
            try:
                device_id, mid = self._acks.get_nowait()
            except queue.Empty:
                return
            row_id = self._links[device_id].inflight.pop(mid, None)
            if row_id is not None:  # other mids are availability, results, stats, discovery
                self.outbox.ack(row_id)

    # -- paho callbacks (network thread) ----------------------------------------------------------

    def _on_connect(self, client: paho.Client, link: _Link, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            link.connected = False
            link.last_error = str(reason)
            hint = " (check mqtt.username and the password)" if reason.value in (0x04, 0x05, 0x86, 0x87) else ""
            log.error("MQTT broker %s:%d refused %s: %s%s; retrying", self.cfg.host, self.cfg.port, link.device_id, reason, hint)
            return  # paho drops the connection next; _on_disconnect schedules the retry
        link.connected = True
        link.failures = 0
        link.last_error = ""
        client.reconnect_delay_set(self.cfg.reconnect.min_delay_s, self.cfg.reconnect.max_delay_s)
        log.info("MQTT connected for %s", link.device_id)
        client.publish(self._topic(link.device_id, "availability"), "online", qos=1, retain=True)
        client.subscribe(self._topic(link.device_id, "cmd/+"), qos=1)
        if self.cfg.homeassistant.enabled:
            client.subscribe(homeassistant.status_topic(self.cfg), qos=1)
            self._send_discovery(link)
        self._wake.set()

    def _on_connect_fail(self, client: paho.Client, link: _Link) -> None:
        link.connected = False
        self._jitter_backoff(link)

    def _on_disconnect(self, client: paho.Client, link: _Link, flags: Any, reason: Any, properties: Any) -> None:
        was_connected, link.connected = link.connected, False
        if self._stopping.is_set():
            return
        if was_connected:
            log.warning("MQTT disconnected for %s: %s; reconnecting", link.device_id, reason)
        self._jitter_backoff(link)

    def _jitter_backoff(self, link: _Link) -> None:
        # paho doubles its delay without jitter; we set the next delay ourselves:
        # exponential in the number of consecutive failures, scaled by a random 0.5-1.0.
        rc = self.cfg.reconnect
        delay = min(rc.max_delay_s, rc.min_delay_s * 2 ** min(link.failures, 16)) * random.uniform(0.5, 1.0)
        link.failures += 1
        link.client.reconnect_delay_set(delay, delay)

    def _on_publish(self, client: paho.Client, link: _Link, mid: int, reason: Any, properties: Any) -> None:
        # Only queue it: the sender thread owns the mid -> row map (no lock shared with paho's mutexes).
        self._acks.put((link.device_id, mid))
        self._wake.set()

    def _on_message(self, client: paho.Client, link: _Link, message: paho.MQTTMessage) -> None:
        if self.cfg.homeassistant.enabled and message.topic == homeassistant.status_topic(self.cfg):
            if message.payload.strip() == b"online":
                log.info("Home Assistant restarted: re-sending discovery for %s", link.device_id)
                self._send_discovery(link)
            return
        command = message.topic.rsplit("/", 1)[-1]
        if command == "result":
            return  # our own answers match cmd/+ too; answering them would loop forever
        result = handle_command(link.device_id, command, message.payload, self._handler)
        stamped = self._stamper.stamp(link.device_id, result)
        client.publish(self._topic(link.device_id, "cmd/result"), encode_payload(stamped), qos=1, retain=False)

    def _send_discovery(self, link: _Link) -> None:
        for topic, payload in homeassistant.discovery_messages(self.cfg, link.device_id):
            link.client.publish(topic, payload, qos=1, retain=True)

    # -- shutdown ---------------------------------------------------------------------------------

    def flush(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while self.outbox.depth() > 0:
            if time.monotonic() >= deadline or not self.connected:
                return False
            self._wake.set()
            time.sleep(0.02)
        return True

    def stop(self, timeout_s: float = 5.0) -> None:
        """Flush what can be flushed, publish ``offline`` (retained) for every camera, disconnect.

        Undelivered messages stay in the outbox for the next run.
        """
        deadline = time.monotonic() + timeout_s
        if not self.flush(timeout_s * 0.6):
            log.warning("MQTT stop: %d message(s) left in the outbox for the next run", self.outbox.depth())
        self._stopping.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(timeout=2 * _SENDER_POLL_S)
        infos = []
        for link in self._links.values():
            if link.connected:
                infos.append(link.client.publish(self._topic(link.device_id, "availability"), "offline", qos=1, retain=True))
        for info in infos:
            remaining = max(0.05, deadline - time.monotonic())
            try:
                info.wait_for_publish(timeout=remaining)
            except (RuntimeError, ValueError):
                pass
        self._drain_acks()
        for link in self._links.values():
            link.client.disconnect()
            link.client.loop_stop()
            link.connected = False
        log.info("MQTT stopped (%d message(s) pending in the outbox)", self.outbox.depth())
