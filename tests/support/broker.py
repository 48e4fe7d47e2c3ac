"""Fixtures: a real mosquitto broker on a free loopback port, plus a collecting subscriber.

- ``mosquitto``: anonymous, plain TCP; ``stop()``/``start()`` keep the same port (outage tests).
- ``mosquitto_auth``: password file made with ``mosquitto_passwd -b -c``; anonymous refused.
- ``mosquitto_tls``: TLS with a test CA, a server and a client certificate made with the
  ``openssl`` command (Debian's, no Python crypto package needed); client certificates required.
- ``subscriber``: a factory ``subscriber(broker, topics=("#",))`` of :class:`Subscriber`.

Tests skip (with the reason) only when mosquitto is not installed; CI installs it with apt-get.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
OPENSSL = shutil.which("openssl")
BROKER_START_TIMEOUT_S = 10.0
WAIT_TIMEOUT_S = 15.0  # generous: the CI machine is shared and slow at times


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A mosquitto process with its generated config; start/stop keep the port."""

    workdir: Path
    port: int
    extra_conf: list[str] = field(default_factory=list)
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    persistence: bool = False
    host: str = "127.0.0.1"
    proc: subprocess.Popen | None = None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_conf(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            # Persistence (saved at SIGTERM) keeps a persistent subscriber's session across a broker restart.
            f"persistence true\npersistence_location {self.workdir}/" if self.persistence else "persistence false",
            # Started as root, mosquitto would switch to user 'mosquitto' and lose access to tmp files.
            "user root" if os.geteuid() == 0 else "",
            f"log_dest file {self.log_path}",
            "log_type all",
            *self.extra_conf,
        ]
        if not any(line.startswith(("allow_anonymous", "password_file")) for line in self.extra_conf):
            lines.append("allow_anonymous true")
        self.conf_path.write_text("\n".join(line for line in lines if line) + "\n")

    def start(self) -> None:
        """Start mosquitto and wait until it accepts TCP connections."""
        assert self.proc is None, "broker already running"
        self.write_conf()
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + BROKER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                self.proc = None
                raise RuntimeError(f"mosquitto exited at start: {err} {log[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not accept on port {self.port} within {BROKER_START_TIMEOUT_S} s")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and wait for the port to be released."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mqtt_config(self, **overrides: object):
        """An ``MqttConfig`` pointing at this broker, with short reconnect delays for tests."""
        from cribside.edge.config import MqttConfig

        data: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "prefix": "test",
            "keepalive_s": 5,
            "reconnect": {"min_delay_s": 0.1, "max_delay_s": 0.5},
        }
        if self.username:
            data["username"] = self.username
        if self.ca_file:
            data["tls"] = {"ca_file": str(self.ca_file), "cert_file": str(self.client_cert), "key_file": str(self.client_key)}
        data.update(overrides)
        return MqttConfig.model_validate(data)

    def configure_client(self, client) -> None:
        """Give a paho client this broker's credentials and TLS settings."""
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.ca_file:
            client.tls_set(ca_certs=str(self.ca_file), certfile=str(self.client_cert), keyfile=str(self.client_key))


def _require_mosquitto() -> None:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto mosquitto-clients)")


def _running_broker(workdir: Path, **options: bool) -> Iterator[Broker]:
    """Start an anonymous broker in ``workdir`` on a free loopback port; stop it afterwards."""
    _require_mosquitto()
    broker = Broker(workdir, free_port(), **options)
    broker.workdir.mkdir()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A running anonymous broker on a free loopback port."""
    yield from _running_broker(tmp_path / "broker")


@pytest.fixture
def mosquitto_persistent(tmp_path: Path) -> Iterator[Broker]:
    """Like ``mosquitto``, with persistence on: sessions of persistent subscribers survive stop()/start()."""
    yield from _running_broker(tmp_path / "broker-persistent", persistence=True)


def password_file(path: Path, users: list[str]) -> dict[str, str]:
    """A mosquitto password file at ``path`` (mode 0600) with a random password per user; returns them.

    Skips the test when mosquitto or mosquitto_passwd is not installed.
    """
    _require_mosquitto()
    if MOSQUITTO_PASSWD is None:
        pytest.skip("mosquitto_passwd is not installed (Debian: apt-get install mosquitto)")
    passwords = {user: uuid.uuid4().hex for user in users}
    for i, (user, password) in enumerate(passwords.items()):
        create = ["-c"] if i == 0 else []
        subprocess.run([MOSQUITTO_PASSWD, "-b", *create, str(path), user, password], check=True, capture_output=True)
    path.chmod(0o600)
    return passwords


@pytest.fixture
def mosquitto_auth(tmp_path: Path) -> Iterator[Broker]:
    """A running broker that only accepts user ``cribside`` with a generated password."""
    workdir = tmp_path / "broker-auth"
    workdir.mkdir()
    passwd_file = workdir / "passwd"
    password = password_file(passwd_file, ["cribside"])["cribside"]
    broker = Broker(
        workdir,
        free_port(),
        extra_conf=["allow_anonymous false", f"password_file {passwd_file}"],
        username="cribside",
        password=password,
    )
    broker.start()
    yield broker
    broker.stop()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A test CA, a server certificate for 127.0.0.1/localhost and a client certificate.

    Made with the openssl CLI (Debian ships it), P-256 keys because they are fast to make.
    """
    if OPENSSL is None:
        pytest.skip("openssl is not installed (Debian: apt-get install openssl)")
    d = tmp_path_factory.mktemp("tls")
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *key, "-days", "2", "-subj", "/CN=cribside test CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ext in (("server", ["-extfile", "server.ext"]), ("client", [])):
        _openssl("req", *key, "-subj", f"/CN=cribside test {name}", "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", f"{name}.crt", *ext, cwd=d)
    return {n: d / n for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


@pytest.fixture
def mosquitto_tls(tmp_path: Path, tls_certs: dict[str, Path]) -> Iterator[Broker]:
    """A running broker on TLS only, requiring a client certificate signed by the test CA."""
    _require_mosquitto()
    workdir = tmp_path / "broker-tls"
    workdir.mkdir()
    broker = Broker(
        workdir,
        free_port(),
        extra_conf=[
            f"cafile {tls_certs['ca.crt']}",
            f"certfile {tls_certs['server.crt']}",
            f"keyfile {tls_certs['server.key']}",
            "require_certificate true",
        ],
        ca_file=tls_certs["ca.crt"],
        client_cert=tls_certs["client.crt"],
        client_key=tls_certs["client.key"],
    )
    broker.start()
    yield broker
    broker.stop()


@dataclass(frozen=True)
class Received:
    """One message as the subscriber got it."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    t_s: float

    def json(self):
        import json

        return json.loads(self.payload)


class Subscriber:
    """A real MQTT client that records every message, per topic, in arrival order."""

    def __init__(self, broker: Broker, topics: tuple[str, ...] = ("#",), *, persistent: bool = False) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._topics = topics
        # persistent: a session the broker keeps (and queues QoS 1 messages for) while we are away,
        # like a nurse-station consumer's.
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:8]}", clean_session=not persistent
        )
        broker.configure_client(self.client)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        if not self._subscribed.wait(WAIT_TIMEOUT_S):
            raise RuntimeError("test subscriber did not get its SUBACK")

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if not reason.is_failure:
            client.subscribe([(t, 1) for t in self._topics])

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, time.time()))
            self._cond.notify_all()

    def on(self, topic: str) -> list[Received]:
        """Messages received on one topic so far, in order."""
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(
        self, topic: str, count: int = 1, timeout_s: float = WAIT_TIMEOUT_S, where: Callable[[Received], bool] | None = None
    ) -> list[Received]:
        """Wait until ``count`` messages (matching ``where``) arrived on ``topic``; returns them all.

        Raises:
            AssertionError: on timeout, listing what did arrive.
        """
        def matching() -> list[Received]:
            return [m for m in self.messages if m.topic == topic and (where is None or where(m))]

        with self._cond:
            ok = self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout_s)
            found = matching()
        assert ok, f"waited {timeout_s} s for {count} message(s) on {topic}, got {len(found)}: {[m.payload[:80] for m in found]}"
        return found

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber() -> Iterator[Callable[..., Subscriber]]:
    """Factory ``subscriber(broker, topics=("#",), persistent=False)``; every subscriber is closed at teardown."""
    made: list[Subscriber] = []

    def make(broker: Broker, topics: tuple[str, ...] = ("#",), *, persistent: bool = False) -> Subscriber:
        sub = Subscriber(broker, topics, persistent=persistent)
        made.append(sub)
        return sub

    yield make
    for sub in made:
        sub.close()
