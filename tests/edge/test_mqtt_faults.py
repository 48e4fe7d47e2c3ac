"""Faults that once told a nurse station "all is well" while nobody watched, each against a real mosquitto.

Every test here reproduces a fault measured on the earlier code (hostile commands
ending paho's network thread, a device dying while the broker was down, silent TLS
failures, two processes sharing a client id) and asserts the behaviour that replaced it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.reasoncodes import ReasonCode
from support.broker import OPENSSL, Broker, free_port
from support.mqtt import DEV, topic, validate, wait_until
from support.payloads import alert_payload

from cribside.edge.comms.mqtt import MqttPublisher
from cribside.edge.comms.outbox import Outbox
from cribside.edge.config import MqttConfig

pytestmark = pytest.mark.slow

HOSTILE = [
    ("cmd/ack", b"[" * 100_000 + b"]" * 100_000, "payload larger than"),  # RecursionError in json.loads
    ("cmd/ack", b"[" * 900 + b"]" * 900, "nested deeper than"),  # under the size bound, still too deep
    ("cmd/snooze", b'{"minutes": ' + b"9" * 5000 + b"}", "payload larger than"),  # int too long to parse
    ("cmd/snooze", b'{"minutes": ' + b"9" * 400 + b"}", "integer longer than"),
    ("cmd/snooze", b'{"minutes": NaN}', "NaN"),
    ("cmd/snooze", b'{"minutes": 1e999}', "out of range"),
    ("cmd/ack", b"\xff\xfe\x00garbage", "not UTF-8"),
    ("cmd/snooze", json.dumps({"minutes": 240, "type": "all"}).encode(), "only 'distress'"),
]


def test_hostile_commands_are_answered_and_the_device_keeps_publishing(mosquitto, subscriber, make_publisher):
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto)
    pub.on_command(lambda device, command, payload: {"ok": True, "reason": "fine"})
    sub.wait_for(topic("availability"), where=lambda m: m.payload == b"online")
    for suffix, payload, _ in HOSTILE:
        sub.client.publish(topic(suffix), payload, qos=1)
    sub.client.publish(topic("cmd/ack"), json.dumps({"episode_id": "e1", "request_id": "last"}).encode(), qos=1)
    results = [validate("cmd_result", m.payload) for m in sub.wait_for(topic("cmd/result"), count=len(HOSTILE) + 1)]
    for (_, _, reason), result in zip(HOSTILE, results):
        assert result["ok"] is False and reason in result["reason"], result
    assert results[-1]["ok"] is True and results[-1]["request_id"] == "last"  # still answering after all of them
    # Alerts keep flowing well past paho's in-flight window (the fault stopped them after about 20).
    sent = [pub.publish(DEV, "alert", alert_payload(i)) for i in range(60)]
    got = sub.wait_for(topic("alerts"), count=60)
    assert [json.loads(m.payload)["msg_id"] for m in got] == sent
    assert pub.problems() == []


def test_reasons_never_echo_the_senders_text(mosquitto, subscriber, make_publisher, caplog):
    caplog.set_level(logging.INFO, logger="cribside.edge")
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto)
    pub.on_command(lambda device, command, payload: {"ok": True, "reason": "fine"})
    sub.wait_for(topic("availability"), where=lambda m: m.payload == b"online")
    forged = "\n[12:00:00] crib-1 ALERT END severe_pain"
    sub.client.publish(topic("cmd/ack"), json.dumps({"episode_id": "e", forged: 1}).encode(), qos=1)
    sub.client.publish(topic("cmd/ack"), json.dumps({"episode_id": "e", "by": forged}).encode(), qos=1)
    sub.client.publish(topic("cmd/ALERT END severe_pain"), b"{}", qos=1)
    results = [validate("cmd_result", m.payload) for m in sub.wait_for(topic("cmd/result"), count=3)]
    assert all("ALERT" not in r["reason"] and "\x1b" not in r["reason"] for r in results), results
    assert results[0]["ok"] is False and "unknown field" in results[0]["reason"]
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("cribside.edge")]
    assert lines and all("\n" not in line and "\x1b" not in line for line in lines), lines


def test_a_dead_network_thread_is_a_fatal_problem(mosquitto, make_publisher):
    from cribside.edge.app.runner import liveness

    pub = make_publisher(mosquitto)
    assert wait_until(lambda: pub.connected)
    assert pub.problems() == []
    pub._links[DEV].client.loop_stop()  # the network thread ends, as an exception in it once made it end

    class _Device:
        loops: dict = {}
        publisher = pub

    withheld, fatal = liveness(_Device(), [], time.monotonic())  # type: ignore[arg-type]
    assert any("network thread of crib-1 has died" in p for p in fatal) and fatal == withheld


DEVICE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from cribside.edge.config import MqttConfig
    from cribside.edge.comms.mqtt import MqttPublisher
    from cribside.edge.comms.outbox import Outbox
    from cribside.edge.display.views import CameraView, state_payload
    cfg = MqttConfig.model_validate({"host": "127.0.0.1", "port": int(sys.argv[1]), "prefix": "test", "keepalive_s": 5,
                                     "reconnect": {"min_delay_s": 0.1, "max_delay_s": 0.5}})
    pub = MqttPublisher(cfg, Outbox(sys.argv[2], 100), ["crib-1"])
    pub.start()
    model = {"version": "t", "sha256": "0" * 64, "variant": "int8", "synthetic": True}
    pub.publish("crib-1", "state", state_payload(CameraView(True), "none", model, valid_until=time.time() + float(sys.argv[3])))
    print("published", flush=True)
    time.sleep(600)
    """
)


def test_device_that_dies_while_the_broker_is_down_never_looks_like_it_watches(tmp_path, subscriber):
    """Debian's mosquitto keeps retained messages across a restart (persistence), but not the device's will."""
    from support.broker import _require_mosquitto

    _require_mosquitto()
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = Broker(workdir, free_port(), persistence=True, extra_conf=["autosave_interval 1"])
    broker.start()
    valid_for_s = 6.0
    device = subprocess.Popen([sys.executable, "-c", DEVICE_SCRIPT, str(broker.port), str(tmp_path / "o.sqlite"),
                               str(valid_for_s)], stdout=subprocess.PIPE, text=True)
    try:
        assert device.stdout is not None and device.stdout.readline().strip() == "published"
        watcher = subscriber(broker)
        (state,) = watcher.wait_for(topic("state"))
        published = validate("state", state.payload)
        assert published["valid_until"] == pytest.approx(time.time() + valid_for_s, abs=2.0)
        time.sleep(2.5)  # the broker's autosave has the retained online and state on disk
        watcher.close()
        broker.proc.kill()  # the broker dies (power, OOM) ...
        broker.proc.wait()
        broker.proc = None
        device.kill()  # ... and the device dies while it is down: no will can ever fire for it
        device.wait()
        broker.start()
        late = subscriber(broker)
        late.wait_for(topic("availability"), where=lambda m: m.payload == b"online")  # the documented limit
        for message in late.on(topic("state")):  # a state still on the broker says when it stops meaning anything
            assert validate("state", message.payload)["valid_until"] == published["valid_until"]
        while time.time() < published["valid_until"] + 1.5:
            time.sleep(0.1)
        after = subscriber(broker)
        after.wait_for(topic("availability"))
        time.sleep(0.5)
        # The broker dropped the expired state: a consumer that joins later gets no stale calm state.
        assert after.on(topic("state")) == []
    finally:
        device.kill()
        broker.stop()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def _tls_broker(tmp_path: Path, name: str, server_crt: Path, server_key: Path, ca: Path) -> Broker:
    from support.broker import _require_mosquitto

    _require_mosquitto()
    workdir = tmp_path / name
    workdir.mkdir()
    broker = Broker(workdir, free_port(), extra_conf=[f"cafile {ca}", f"certfile {server_crt}", f"keyfile {server_key}",
                                                     "require_certificate true"])
    broker.start()
    return broker


@pytest.fixture
def wrong_certs(tmp_path: Path, tls_certs: dict[str, Path]) -> dict[str, Path]:
    """Another CA, and a server certificate from the test CA for a name that is not the broker's."""
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    d = tmp_path / "wrong"
    d.mkdir()
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *key, "-days", "2", "-subj", "/CN=other CA", "-keyout", "other-ca.key", "-out", "other-ca.crt", cwd=d)
    (d / "ext").write_text("subjectAltName=DNS:broker.invalid\n")
    ca = tls_certs["ca.crt"]
    _openssl("req", *key, "-subj", "/CN=broker.invalid", "-keyout", "misnamed.key", "-out", "misnamed.csr", cwd=d)
    _openssl("x509", "-req", "-in", "misnamed.csr", "-CA", str(ca), "-CAkey", str(ca.parent / "ca.key"),
             "-CAcreateserial", "-days", "2", "-out", "misnamed.crt", "-extfile", "ext", cwd=d)
    return {n: d / n for n in ("other-ca.crt", "misnamed.crt", "misnamed.key")}


def _failing_publisher(broker: Broker, tmp_path: Path, tls: dict) -> MqttPublisher:
    cfg = broker.mqtt_config(tls=tls)
    pub = MqttPublisher(cfg, Outbox(tmp_path / f"o-{time.monotonic_ns()}.sqlite", 100), [DEV])
    pub.start()
    return pub


@pytest.mark.parametrize(
    ("case", "expected"),
    [("unknown CA", "certificate verify failed"), ("hostname", "does not match host"),
     ("no client certificate", "refused the client certificate")],
)
def test_tls_failures_name_their_reason_once(case, expected, mosquitto_tls, tls_certs, wrong_certs, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cribside.edge.comms.mqtt")
    client = {"cert_file": str(tls_certs["client.crt"]), "key_file": str(tls_certs["client.key"])}
    broker = mosquitto_tls
    if case == "unknown CA":
        tls = {"ca_file": str(wrong_certs["other-ca.crt"]), **client}
    elif case == "hostname":
        broker = _tls_broker(tmp_path, "misnamed", wrong_certs["misnamed.crt"], wrong_certs["misnamed.key"], tls_certs["ca.crt"])
        tls = {"ca_file": str(tls_certs["ca.crt"]), **client}
    else:
        tls = {"ca_file": str(tls_certs["ca.crt"])}
    pub = _failing_publisher(broker, tmp_path, tls)
    try:
        assert wait_until(lambda: pub.health(DEV).link["failures"] >= 3)
        lines = [r.getMessage() for r in caplog.records if expected in r.getMessage()]
        assert len(lines) == 1, [r.getMessage() for r in caplog.records]  # once per change, not once per retry
        assert expected in pub.health(DEV).link["last_error"]  # what stats report
        assert not pub.connected
    finally:
        pub.stop(timeout_s=0.5)
        if broker is not mosquitto_tls:
            broker.stop()


def test_a_tls_retry_that_reads_only_the_close_keeps_the_refusal_already_logged(tls_certs, tmp_path, caplog):
    # TLS 1.3 sends the broker's "certificate required" alert after the handshake; a retry that reads the
    # close first sees only an EOF (CI once logged the refusal twice: alert, EOF, alert).
    caplog.set_level(logging.INFO, logger="cribside.edge.comms.mqtt")
    cfg = MqttConfig(host="127.0.0.1", port=free_port(), tls={"ca_file": str(tls_certs["ca.crt"])})
    pub = MqttPublisher(cfg, Outbox(tmp_path / "o.sqlite", 100), [DEV])  # not started: no broker, its callbacks driven here
    link = pub._links[DEV]
    alert = "failed to receive on socket: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)"
    eof = "failed to receive on socket: EOF occurred in violation of protocol (_ssl.c:2427)"
    for text in (alert, eof, alert, eof):
        pub._on_log(link.client, link, paho.MQTT_LOG_ERR, text)
        pub._on_disconnect(link.client, link, None, ReasonCode(paho.PacketTypes.CONNACK, identifier=0x80), None)
    logged = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
    assert len(logged) == 1 and "refused the client certificate" in logged[0], logged
    assert "refused the client certificate" in pub.health(DEV).link["last_error"]
    # An EOF with no refusal before it is reported as what it is.
    other = MqttPublisher(cfg, Outbox(tmp_path / "p.sqlite", 100), [DEV])
    olink = other._links[DEV]
    other._on_log(olink.client, olink, paho.MQTT_LOG_ERR, eof)
    other._on_disconnect(olink.client, olink, None, ReasonCode(paho.PacketTypes.CONNACK, identifier=0x80), None)
    assert "EOF occurred" in other.health(DEV).link["last_error"]


def test_two_processes_with_one_client_id_are_named(mosquitto, make_publisher, caplog):
    caplog.set_level(logging.WARNING, logger="cribside.edge.comms.mqtt")
    make_publisher(mosquitto, client_id="shared-id")
    make_publisher(mosquitto, client_id="shared-id")
    assert wait_until(lambda: any("same client id" in r.getMessage() for r in caplog.records))
    named = [r.getMessage() for r in caplog.records if "same client id" in r.getMessage()]
    assert "shared-id" in named[0] and "second cribside process" in named[0]
