"""Fixtures: mosquitto run with cribside's real ACL file and conf snippet (deploy/mosquitto/).

- ``mosquitto_acl``: an :class:`AclBroker`. Its config is ``deploy/mosquitto/cribside.conf`` with
  only the listener (a free loopback port) and the file paths changed; ``acl_file`` is
  ``deploy/mosquitto/acl`` itself, not a copy. The password file is made with ``mosquitto_passwd``
  for :data:`ACL_USERS`: cameras ``crib-1``, ``crib-2``, nurse station ``nurse-1``, ``homeassistant``.
- :func:`connack` and :func:`publish_acked`: helpers for what an ACL can and cannot show a client.

Reuses :class:`Broker`, :func:`free_port` and :class:`Subscriber` from ``fixtures_broker``.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.broker import MOSQUITTO_PASSWD, WAIT_TIMEOUT_S, Broker, Subscriber, free_port, password_file

MOSQUITTO_DIR = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
ACL_FILE = MOSQUITTO_DIR / "acl"
CONF_SNIPPET = MOSQUITTO_DIR / "cribside.conf"
ACL_USERS = ("crib-1", "crib-2", "nurse-1", "homeassistant")
# Where the snippet must point (README.md tells technicians to install the files there).
INSTALLED_PASSWD = "/etc/mosquitto/cribside.passwd"
INSTALLED_ACL = "/etc/mosquitto/cribside.acl"


def snippet_lines(passwd_file: Path) -> list[str]:
    """The snippet's settings for a test broker: listener dropped (the Broker adds its own), paths swapped.

    Raises:
        AssertionError: if the snippet lost a setting the deployment relies on.
    """
    lines: list[str] = []
    settings: dict[str, str] = {}
    for raw in CONF_SNIPPET.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        settings.setdefault(key, value)
        if key == "listener":
            continue
        if key == "password_file":
            assert value == INSTALLED_PASSWD, f"cribside.conf: password_file {value}, README says {INSTALLED_PASSWD}"
            line = f"password_file {passwd_file}"
        elif key == "acl_file":
            assert value == INSTALLED_ACL, f"cribside.conf: acl_file {value}, README says {INSTALLED_ACL}"
            line = f"acl_file {ACL_FILE}"
        elif key == "persistence_location":
            continue  # the Broker puts it in its own work folder
        lines.append(line)
    assert settings.get("allow_anonymous") == "false", "cribside.conf must set allow_anonymous false"
    assert settings.get("persistence") == "true", "cribside.conf must keep retained messages (persistence true)"
    assert "listener" in settings, "cribside.conf must define a listener"
    return lines


@dataclass
class AclBroker:
    """A running broker with the cribside ACL, and the generated users' passwords."""

    broker: Broker
    passwd_file: Path
    passwords: dict[str, str]

    def as_user(self, user: str) -> Broker:
        """The same broker seen with ``user``'s credentials (for :class:`Subscriber` or ``mqtt_config``)."""
        return dataclasses.replace(self.broker, username=user, password=self.passwords[user])

    def add_user(self, user: str) -> None:
        """Add (or re-key) ``user`` in the password file, as the README's recipe does; needs :meth:`reload`."""
        self.passwords[user] = uuid.uuid4().hex
        subprocess.run([MOSQUITTO_PASSWD, "-b", str(self.passwd_file), user, self.passwords[user]], check=True, capture_output=True)

    def remove_user(self, user: str) -> None:
        """Delete ``user`` from the password file (``mosquitto_passwd -D``); needs :meth:`reload`."""
        subprocess.run([MOSQUITTO_PASSWD, "-D", str(self.passwd_file), user], check=True, capture_output=True)

    def reload(self) -> None:
        """SIGHUP, as ``systemctl reload mosquitto`` sends: re-reads the password and ACL files."""
        assert self.broker.proc is not None
        self.broker.proc.send_signal(signal.SIGHUP)

    def log(self) -> str:
        return self.broker.log_path.read_text(errors="replace") if self.broker.log_path.exists() else ""


@pytest.fixture
def mosquitto_acl(tmp_path: Path) -> Iterator[AclBroker]:
    """A running broker configured by deploy/mosquitto/ (real ACL file), with users :data:`ACL_USERS`."""
    workdir = tmp_path / "broker-acl"
    workdir.mkdir()
    passwd_file = workdir / "cribside.passwd"
    passwords = password_file(passwd_file, list(ACL_USERS))
    broker = Broker(workdir, free_port(), extra_conf=snippet_lines(passwd_file), persistence=True)
    broker.start()
    yield AclBroker(broker, passwd_file, passwords)
    broker.stop()


def connack(broker: Broker, username: str | None, password: str | None = None):
    """The reason code of the broker's CONNACK for these credentials (None: anonymous)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    got: list = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-connack-{uuid.uuid4().hex[:8]}")
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = lambda client, userdata, flags, reason, properties: got.append(reason)
    client.connect(broker.host, broker.port, keepalive=5)
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    try:
        while not got:  # no network thread: it would reconnect after a refusal
            assert time.monotonic() < deadline, "no CONNACK"
            client.loop(0.05)
    finally:
        client.disconnect()
    return got[0]


def publish_acked(sub: Subscriber, topic: str, payload: bytes, *, retain: bool = False) -> None:
    """Publish at QoS 1 and wait for the PUBACK.

    Mosquitto PUBACKs a publish its ACL denies and drops it: the PUBACK only says the broker has
    finished with it (routed or dropped), so anything published after it is routed after it.
    """
    info = sub.client.publish(topic, payload, qos=1, retain=retain)
    info.wait_for_publish(WAIT_TIMEOUT_S)
    assert info.is_published(), f"no PUBACK for {topic}"
