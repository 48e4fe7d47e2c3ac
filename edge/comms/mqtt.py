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

Nothing a client on the broker sends can stop this: every paho callback is
total (an exception is logged at the callback boundary, never re-raised into
paho's network thread), command payloads are bounded and parsed with limits
(:mod:`cribside.edge.comms.commands`), and :meth:`MqttPublisher.problems` names a
dead network or sender thread so ``cribside run`` withholds the watchdog and
exits non-zero. At a stop whose ``offline`` was not acknowledged, the client
disconnects with MQTT 5's "disconnect with will message", so the broker still
publishes ``offline``.

The protocol is MQTT 5 (mosquitto 2.x): the broker says why it closed a
connection (another client took the same client id over: two processes for
one camera), and retained ``state`` messages carry a message expiry, so a
consumer that subscribes after a state's ``valid_until`` gets no stale state.

When the outbox cannot be written (a full or failing disk), durable messages
go out directly at QoS 1 while the broker is up, and wait in a bounded memory
queue while it is down; the camera loop reports ``storage: outbox_full``.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import queue
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cribside.edge.comms import homeassistant
from cribside.edge.comms.commands import handle_command
from cribside.edge.comms.contract import KINDS, CommandHandler, DeliveryHealth, EnvelopeStamper, device_topic, encode_payload
from cribside.edge.comms.outbox import LOW_SPACE_BYTES, Outbox, OutboxWriteError
from cribside.edge.config import MqttConfig, default_client_id
from cribside.edge.config.secrets import read_mqtt_password
from cribside.edge.errors import CribsideError

STOPPED = "stopped"  # availability after a clean stop (the will, "offline", is a crash or a lost link)
DISCOVERY_JITTER_S = 5.0  # re-sent discovery waits a random 0..this after Home Assistant's birth message
log = logging.getLogger(__name__)

MAX_INFLIGHT = 20  # paho's default max_inflight_messages: beyond it paho would queue in memory
MEMORY_QUEUE_MAX = 1000  # durable messages held in memory while the outbox cannot be written and the broker is down
_SENDER_POLL_S = 0.5
_SENDER_HUNG_S = 10.0  # a sender that has not come round for this long is hung
_SESSION_TAKEN_OVER = 0x8E
_DISCONNECT_WITH_WILL = 4
# mosquitto 2.0 closes the older of two connections with one client id without saying why; a link the
# broker drops this soon after accepting it, this many times in a row, is taken for a duplicate client id.
_SHORT_SESSION_S = 3.0
_SHORT_SESSIONS_FOR_DUPLICATE = 3

F = TypeVar("F", bound=Callable[..., Any])


def _total(callback: F) -> F:
    """A paho callback that never raises: paho's network thread must outlive any bug or payload."""

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except Exception:  # noqa: BLE001  (logged with its traceback; the network thread goes on)
            log.exception("MQTT %s failed (the connection goes on)", callback.__name__.lstrip("_"))
            return None

    return wrapper  # type: ignore[return-value]


def _reconnect_delay(client: paho.Client, min_delay_s: float, max_delay_s: float) -> None:
    """paho's reconnect delays: annotated int, used as seconds of any precision (sub-second delays in tests)."""
    client.reconnect_delay_set(min_delay_s, max_delay_s)  # type: ignore[arg-type]


class _Client(paho.Client):
    """paho's client, remembering why the last connection attempt failed (paho only logs it at debug)."""

    last_connect_error: BaseException | None = None

    def reconnect(self) -> MQTTErrorCode:
        try:
            rc = super().reconnect()
        except OSError as exc:
            self.last_connect_error = exc
            raise
        self.last_connect_error = None
        return rc


# What paho's log says when the broker closes a TLS connection without an alert the client has read.
_TLS_BARE_CLOSE = "eof occurred in violation of protocol"


def describe_connect_error(exc: BaseException, cfg: MqttConfig) -> str:
    """One line on why a connection attempt failed, with the config field to check."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or str(exc)
        if "hostname" in detail.lower() or "ip address mismatch" in detail.lower():
            return f"TLS: the broker certificate does not match host {cfg.host} ({detail}): check mqtt.host"
        return f"TLS: certificate verify failed: {detail} (unknown CA?): check mqtt.tls.ca_file"
    if isinstance(exc, ssl.SSLError):
        text = (exc.reason or str(exc)).lower()
        if any(k in text for k in ("certificate required", "bad certificate", "unknown ca", "certificate unknown",
                                   "handshake failure", "expired")):
            return f"TLS: the broker refused the client certificate ({exc.reason or exc}): check mqtt.tls.cert_file and key_file"
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve broker host {cfg.host}: {exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {cfg.host}:{cfg.port} (broker down or another port?)"
    if isinstance(exc, TimeoutError):
        return f"timed out connecting to {cfg.host}:{cfg.port}"
    return f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"


@dataclass
class _Link:
    """One camera's connection and delivery bookkeeping (mutated by the sender and paho threads)."""

    device_id: str
    client: paho.Client
    topic_prefix: str
    client_id: str = ""
    connected: bool = False
    failures: int = 0
    cursor: int = 0  # highest outbox row id handed to paho in this process
    inflight: dict[int, int] = field(default_factory=dict)  # paho mid -> outbox row id
    last_error: str = ""  # why the link is or was last down; kept after a reconnect for stats
    last_error_ts: float | None = None
    logged_error: str = ""  # the last error logged (each distinct error is logged once per change)
    refused: bool = False  # the broker's CONNACK refused this attempt (its reason is already recorded)
    short_sessions: int = 0  # connections in a row the broker closed within _SHORT_SESSION_S of accepting them
    socket_error: str = ""  # paho's last socket-level error (e.g. a TLS alert after the handshake)
    connected_since_ts: float | None = None
    # Durable messages that could not be written to the outbox, waiting for the broker: (topic, data, qos, retain, kind).
    memory: collections.deque[tuple[str, bytes, int, bool, str]] = field(default_factory=lambda: collections.deque())


def secure_client(client: paho.Client, cfg: MqttConfig, password: str | None) -> None:
    """Username, password and TLS of the config on a paho client.

    Raises:
        CribsideError: a TLS file missing or unreadable (named by its config field).
    """
    if cfg.username:
        client.username_pw_set(cfg.username, password)
    tls = cfg.tls
    if not tls.enabled:
        return
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


def connect_client(cfg: MqttConfig, role: str, **callbacks: Any) -> paho.Client:
    """A short-lived helper client (``cribside mqtt purge``, ``cribside doctor``): the config's auth and TLS,
    the given ``on_*`` callbacks, connecting, its network loop running. The caller disconnects it.

    Raises:
        CribsideError: unreadable password or TLS files, or the broker cannot be reached.
    """
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"cribside-{role}-{time.time_ns()}", protocol=paho.MQTTv5)
    secure_client(client, cfg, read_mqtt_password(cfg))
    for name, callback in callbacks.items():
        setattr(client, name, callback)
    try:
        client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
    except OSError as exc:
        raise CribsideError(f"cannot reach {cfg.host}:{cfg.port}: {exc}") from None
    client.loop_start()
    return client


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
        sw_version: str = "unknown",
        discovery: dict[str, Any] | None = None,
    ) -> None:
        if not device_ids:
            raise CribsideError("mqtt: no cameras configured (cameras: [...] is empty)")
        self.cfg = cfg
        self.sw_version = sw_version
        # Keyword arguments of homeassistant.discovery_messages (expiry, stats period, host device), and
        # "areas": device id -> suggested area.
        self.discovery = dict(discovery or {})
        self.outbox = outbox
        self.stats_dropped = 0
        self._stamper = EnvelopeStamper(boot_id)
        self._handler: CommandHandler | None = None
        self._acks: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._sender: threading.Thread | None = None
        self._sender_beat_s = time.monotonic()
        self._started = False
        self._storage_error = ""  # why the last outbox write failed; "" once a write succeeds again
        self._memory_dropped = 0
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
        """Messages still waiting for the broker's acknowledgement (outbox and memory)."""
        try:
            depth = self.outbox.depth()
        except (OutboxWriteError, CribsideError):
            depth = 0
        return depth + sum(len(link.memory) for link in self._links.values())

    def health(self, device_id: str) -> DeliveryHealth:
        """Outbox depth, storage and broker link of one camera, for its status and stats."""
        link = self._links[device_id]
        try:
            free = self.outbox.free_bytes()
        except CribsideError as exc:
            free, free_error = None, str(exc)
        if self._storage_error:
            storage, reason = "outbox_full", self._storage_error
        elif free is None:
            storage, reason = "low_space", free_error
        elif free < LOW_SPACE_BYTES:
            storage, reason = "low_space", f"{free / 2**20:.1f} MB free for the outbox {self.outbox.path}"
        else:
            storage, reason = "ok", ""
        recovered = self.outbox.recovered_from
        return DeliveryHealth(
            outbox_depth=self.outbox_depth,
            storage=storage,
            storage_reason=reason,
            outbox_recovered_from=str(recovered) if recovered else None,
            link={
                "connected": link.connected,
                "last_error": link.last_error or None,
                "last_error_ts": link.last_error_ts,
                "failures": link.failures,
                "connected_since_ts": link.connected_since_ts,
            },
        )

    def problems(self) -> list[str]:
        """Dead or hung threads of this publisher (empty when delivery is alive)."""
        found = []
        if self._sender is not None and not self._stopping.is_set():
            if not self._sender.is_alive():
                found.append("the MQTT outbox sender thread has died")
            elif time.monotonic() - self._sender_beat_s > _SENDER_HUNG_S:
                found.append(f"the MQTT outbox sender has not run for {time.monotonic() - self._sender_beat_s:.0f} s")
        for link in self._links.values():
            # paho keeps its network thread in _thread (paho 2.x, pinned <3); None once it has ended.
            thread = getattr(link.client, "_thread", None)
            if self._started and not self._stopping.is_set() and (thread is None or not thread.is_alive()):
                found.append(f"the MQTT network thread of {link.device_id} has died")
        return found

    # -- set-up -----------------------------------------------------------------------------------

    def _make_link(self, device_id: str, client_id: str, password: str | None) -> _Link:
        client = _Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        client.suppress_exceptions = True  # a second guard behind _total: never re-raise into the network thread
        link = _Link(device_id, client, device_topic(self.cfg.prefix, device_id, ""), client_id)
        client.will_set(self._topic(device_id, "availability"), "offline", qos=1, retain=True)
        secure_client(client, self.cfg, password)
        _reconnect_delay(client, self.cfg.reconnect.min_delay_s, self.cfg.reconnect.max_delay_s)
        client.user_data_set(link)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_log = self._on_log
        return link

    def _topic(self, device_id: str, suffix: str) -> str:
        return device_topic(self.cfg.prefix, device_id, suffix)

    def start(self) -> None:
        """Connect in the background (paho's network thread owns reconnects) and start the sender."""
        for link in self._links.values():
            # A clean start: commands queued for an old session must not act minutes later.
            link.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s, clean_start=True)
            link.client.loop_start()
        self._started = True
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
            self._put_durable(link, topic, data, spec.qos, spec.retain, kind)
            self._wake.set()
        elif link.connected:
            link.client.publish(topic, data, qos=spec.qos, retain=spec.retain)
        else:
            self.stats_dropped += 1
        return str(message["msg_id"])

    def _put_durable(self, link: _Link, topic: str, data: bytes, qos: int, retain: bool, kind: str) -> None:
        """Commit to the outbox; when it cannot be written, send directly (broker up) or hold in memory."""
        try:
            self.outbox.put(topic, data, qos, retain, kind)
        except OutboxWriteError as exc:
            if not self._storage_error:
                log.error("%s: messages go out directly while the broker is up", exc)
            self._storage_error = str(exc)
        else:
            if self._storage_error:
                log.info("outbox %s is writable again", self.outbox.path)
            self._storage_error = ""
            return
        if link.connected and not link.memory:
            info = link.client.publish(topic, data, qos=qos, retain=retain, properties=self._properties(kind, data))
            if info.rc == paho.MQTT_ERR_SUCCESS:
                return
        if len(link.memory) >= MEMORY_QUEUE_MAX:
            link.memory.popleft()
            self._memory_dropped += 1
            log.error("memory queue full (%d) with the outbox unwritable: dropped the oldest message of %s",
                      MEMORY_QUEUE_MAX, link.device_id)
        link.memory.append((topic, data, qos, retain, kind))

    @staticmethod
    def _properties(kind: str, data: bytes) -> Properties | None:
        """A retained state expires at the broker at its ``valid_until``: late subscribers get no stale state."""
        if kind != "state":
            return None
        try:
            valid_until = json.loads(data).get("valid_until")
        except ValueError:
            return None
        if not isinstance(valid_until, (int, float)):
            return None
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.MessageExpiryInterval = max(1, int(valid_until - time.time()))
        return props

    def on_command(self, handler: CommandHandler) -> None:
        """Register the loop's handler for validated ``cmd/ack`` and ``cmd/snooze`` commands."""
        self._handler = handler

    def _send_loop(self) -> None:
        while not self._stopping.is_set():
            self._sender_beat_s = time.monotonic()
            self._wake.wait(_SENDER_POLL_S)
            self._wake.clear()
            try:
                self._drain_acks()
                for link in self._links.values():
                    if link.connected:
                        self._send_memory(link)
                        self._send_pending(link)
            except (OutboxWriteError, CribsideError) as exc:
                # A failing disk must not end delivery: retried next round, reported by the loop's storage check.
                if not self._storage_error:
                    log.error("%s", exc)
                self._storage_error = str(exc)
            except Exception:  # noqa: BLE001  (a bug: logged with its traceback, the sender goes on)
                log.exception("MQTT sender failed; retrying")
                time.sleep(_SENDER_POLL_S)

    def _send_memory(self, link: _Link) -> None:
        while link.memory and link.connected:
            topic, data, qos, retain, kind = link.memory[0]
            info = link.client.publish(topic, data, qos=qos, retain=retain, properties=self._properties(kind, data))
            if info.rc != paho.MQTT_ERR_SUCCESS:
                return
            link.memory.popleft()

    def _send_pending(self, link: _Link) -> None:
        room = MAX_INFLIGHT - len(link.inflight)
        if room <= 0:
            return
        for row in self.outbox.pending(room, after_id=link.cursor, topic_prefix=link.topic_prefix):
            props = self._properties(row.kind, row.payload)
            info = link.client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain, properties=props)
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

    def _link_error(self, link: _Link, error: str, level: int = logging.ERROR) -> None:
        """Record why the link is down; log it once per change (a broker down for hours logs one line)."""
        link.last_error, link.last_error_ts = error, time.time()
        if error != link.logged_error:
            link.logged_error = error
            log.log(level, "MQTT %s: %s; retrying", link.device_id, error)

    @_total
    def _on_connect(self, client: paho.Client, link: _Link, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            link.connected = False
            hint = " (check mqtt.username and the password)" if reason.value in (0x04, 0x05, 0x86, 0x87) else ""
            link.refused = True
            self._link_error(link, f"broker {self.cfg.host}:{self.cfg.port} refused the connection: {reason}{hint}")
            return  # paho drops the connection next; _on_disconnect schedules the retry
        link.connected = True
        link.failures = 0
        link.connected_since_ts = time.time()
        _reconnect_delay(client, self.cfg.reconnect.min_delay_s, self.cfg.reconnect.max_delay_s)
        if link.short_sessions >= _SHORT_SESSIONS_FOR_DUPLICATE:
            pass  # flapping: the duplicate client id error stands; no "connected" line per flap
        elif link.logged_error:
            log.info("MQTT connected for %s (after: %s)", link.device_id, link.logged_error)
            link.logged_error = ""
        else:
            log.info("MQTT connected for %s", link.device_id)
        client.publish(self._topic(link.device_id, "availability"), "online", qos=1, retain=True)
        client.subscribe(self._topic(link.device_id, "cmd/+"), qos=1)
        if self.cfg.homeassistant.enabled:
            client.subscribe(homeassistant.status_topic(self.cfg), qos=1)
            self._send_discovery(link, clear_legacy=True)
        self._wake.set()

    @_total
    def _on_log(self, client: paho.Client, link: _Link, level: int, text: str) -> None:
        # paho reports socket errors (a TLS alert read after the handshake: a refused client
        # certificate) only as log lines; keep the last one to name why a connection failed.
        if level == paho.MQTT_LOG_ERR and "socket" in text:
            link.socket_error = text

    def _socket_reason(self, link: _Link) -> str | None:
        text, link.socket_error = link.socket_error, ""
        if not text:
            return None
        low = text.lower()
        if "certificate" in low or "unknown ca" in low or "handshake" in low:
            return f"TLS: the broker refused the client certificate ({text.split(': ', 1)[-1]}): check mqtt.tls.cert_file and key_file"
        return text

    @_total
    def _on_connect_fail(self, client: paho.Client, link: _Link) -> None:
        link.connected = False
        exc = getattr(client, "last_connect_error", None)
        if exc is not None:
            self._link_error(link, f"cannot connect: {describe_connect_error(exc, self.cfg)}")
        self._jitter_backoff(link)

    @_total
    def _on_disconnect(self, client: paho.Client, link: _Link, flags: Any, reason: Any, properties: Any) -> None:
        was_connected, link.connected = link.connected, False
        if self._stopping.is_set():
            return
        lived_s = time.time() - (link.connected_since_ts or 0.0)
        link.short_sessions = link.short_sessions + 1 if was_connected and lived_s < _SHORT_SESSION_S else 0
        taken_over = isinstance(reason, ReasonCode) and reason.value == _SESSION_TAKEN_OVER
        if taken_over or link.short_sessions >= _SHORT_SESSIONS_FOR_DUPLICATE:
            client_id = link.client_id
            self._link_error(
                link,
                f"the broker keeps closing the connection: most likely another client uses the same client id "
                f"{client_id!r} (a second cribside process for this camera, or mqtt.client_id shared by two devices)",
            )
        elif was_connected:
            self._link_error(link, f"disconnected: {self._socket_reason(link) or reason}", logging.WARNING)
        elif not link.refused:  # dropped before the CONNACK: a TLS alert after the handshake, or the broker closed at once
            why = self._socket_reason(link) or str(reason)
            if _TLS_BARE_CLOSE in why.lower() and link.logged_error.startswith("cannot connect: TLS:"):
                # TLS 1.3 sends the broker's refusal after the handshake; an attempt that reads the close before
                # the alert sees only an EOF. That is the refusal already logged, not a new reason.
                why = link.logged_error.removeprefix("cannot connect: ")
            self._link_error(link, f"cannot connect: {why}")
        link.refused = False
        self._jitter_backoff(link)

    def _jitter_backoff(self, link: _Link) -> None:
        # paho doubles its delay without jitter; we set the next delay ourselves:
        # exponential in the number of consecutive failures, scaled by a random 0.5-1.0.
        rc = self.cfg.reconnect
        delay = min(rc.max_delay_s, rc.min_delay_s * 2 ** min(link.failures, 16)) * random.uniform(0.5, 1.0)
        link.failures += 1
        _reconnect_delay(link.client, delay, delay)

    @_total
    def _on_publish(self, client: paho.Client, link: _Link, mid: int, reason: Any, properties: Any) -> None:
        # Only queue it: the sender thread owns the mid -> row map (no lock shared with paho's mutexes).
        self._acks.put((link.device_id, mid))
        self._wake.set()

    @_total
    def _on_message(self, client: paho.Client, link: _Link, message: paho.MQTTMessage) -> None:
        if self.cfg.homeassistant.enabled and message.topic == homeassistant.status_topic(self.cfg):
            if message.payload.strip() == b"online":
                # After a random 0-5 s, so a ward of devices does not answer Home Assistant's birth at once.
                delay = random.uniform(0.0, DISCOVERY_JITTER_S)
                log.info("Home Assistant restarted: re-sending discovery for %s in %.1f s", link.device_id, delay)
                timer = threading.Timer(delay, self._send_discovery_quietly, args=(link,))
                timer.daemon = True
                timer.start()
            return
        command = message.topic.rsplit("/", 1)[-1]
        if command == "result":
            return  # our own answers match cmd/+ too; answering them would loop forever
        try:
            result = handle_command(link.device_id, command, bytes(message.payload), self._handler)
        except Exception as exc:  # noqa: BLE001  (handle_command never raises; this is the guard behind it)
            log.exception("command for %s failed", link.device_id)
            result = {"command": "unknown", "ok": False, "reason": f"internal error: {type(exc).__name__}", "request_id": None}
        stamped = self._stamper.stamp(link.device_id, result)
        client.publish(self._topic(link.device_id, "cmd/result"), encode_payload(stamped), qos=1, retain=False)

    def _send_discovery_quietly(self, link: _Link) -> None:
        try:
            self._send_discovery(link)
        except Exception:  # noqa: BLE001  (a timer thread: log, never die loudly)
            log.exception("re-sending discovery for %s failed", link.device_id)

    def _send_discovery(self, link: _Link, *, clear_legacy: bool = False) -> None:
        if clear_legacy:
            # An upgrade from the legacy topic form: clear those retained configs first (once per connection),
            # or Home Assistant may keep the older entity (same unique_id), which knows neither `stopped`
            # nor expire_after.
            for component, obj in homeassistant.LEGACY_ENTITIES:
                topic = homeassistant.legacy_discovery_topic(self.cfg, component, link.device_id, obj)
                link.client.publish(topic, b"", qos=1, retain=True)
        options = {k: v for k, v in self.discovery.items() if k != "areas"}
        area = dict(self.discovery.get("areas") or {}).get(link.device_id)
        for topic, payload in homeassistant.discovery_messages(self.cfg, link.device_id, self.sw_version, area=area,
                                                               **options):
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
        """Flush what can be flushed, publish ``stopped`` (retained) for every camera, disconnect.

        ``stopped`` is a clean stop; the broker's will says ``offline`` for a crash or a lost link.

        Undelivered messages stay in the outbox for the next run.
        """
        deadline = time.monotonic() + timeout_s
        if not self.flush(timeout_s * 0.6):
            log.warning("MQTT stop: %d message(s) left in the outbox for the next run", self.outbox.depth())
        self._stopping.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(timeout=2 * _SENDER_POLL_S)
        offline: dict[str, paho.MQTTMessageInfo] = {}
        for link in self._links.values():
            if link.connected:
                topic = self._topic(link.device_id, "availability")
                offline[link.device_id] = link.client.publish(topic, STOPPED, qos=1, retain=True)
        for info in offline.values():
            remaining = max(0.05, deadline - time.monotonic())
            try:
                info.wait_for_publish(timeout=remaining)
            except (RuntimeError, ValueError):
                pass
        self._drain_acks()
        for link in self._links.values():
            sent = offline.get(link.device_id)
            if sent is not None and sent.is_published():
                link.client.disconnect()
            else:
                # stopped not acknowledged (link down or network thread dead): the broker publishes the will
                # ("offline") when it reads this; if it cannot be sent, the closed socket fires the will anyway.
                link.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=_DISCONNECT_WITH_WILL))
            link.client.loop_stop()
            if sent is None or not sent.is_published():
                sock = link.client.socket()
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass
            link.connected = False
        log.info("MQTT stopped (%d message(s) pending in the outbox)", self.outbox.depth())
