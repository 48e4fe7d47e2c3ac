"""The MQTT publisher against a real mosquitto: contract, durability, commands, auth and TLS."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from support.mqtt import DEV, QUIET_PERIOD_S, STOP_TIMEOUT_S, topic, unique_ids, validate, wait_until
from support.payloads import alert_payload, state_payload, stats_payload, status_payload

from cribside.edge.comms.mqtt import MqttPublisher
from cribside.edge.comms.outbox import Outbox
from cribside.edge.errors import CribsideError


def test_availability_online_then_retained_stopped_at_a_clean_stop(mosquitto, subscriber, make_publisher):
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto)
    sub.wait_for(topic("availability"), where=lambda m: m.payload == b"online")
    assert pub.connected
    pub.stop(timeout_s=STOP_TIMEOUT_S)
    sub.wait_for(topic("availability"), where=lambda m: m.payload == b"stopped")
    late = subscriber(mosquitto)  # joins after the stop: gets the retained value
    (retained,) = late.wait_for(topic("availability"))
    assert (retained.payload, retained.retain, retained.qos) == (b"stopped", True, 1)


def test_last_will_says_offline_when_the_connection_dies(mosquitto, subscriber, make_publisher):
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto)
    sub.wait_for(topic("availability"), where=lambda m: m.payload == b"online")
    # An abnormal disconnect (no DISCONNECT packet): the broker must publish the will.
    pub._links[DEV].client.socket().shutdown(socket.SHUT_RDWR)
    sub.wait_for(topic("availability"), where=lambda m: m.payload == b"offline")
    # ...and the publisher reconnects by itself and says online again.
    sub.wait_for(topic("availability"), count=2, where=lambda m: m.payload == b"online")


def test_state_and_status_are_retained_and_schema_valid(mosquitto, subscriber, make_publisher):
    pub = make_publisher(mosquitto)
    state_id = pub.publish(DEV, "state", state_payload(cry="yes"))
    pub.publish(DEV, "status", status_payload("no_face"))
    assert wait_until(lambda: pub.outbox_depth == 0), "outbox not drained: no PUBACK?"
    late = subscriber(mosquitto)
    (state,) = late.wait_for(topic("state"))
    (status,) = late.wait_for(topic("status"))
    assert state.retain and status.retain and state.qos == 1
    data = validate("state", state.payload)
    assert (data["msg_id"], data["device_id"], data["cry"]["label"]) == (state_id, DEV, "yes")
    assert validate("status", status.payload)["capture"] == "no_face"


def test_alerts_arrive_in_order_qos1_not_retained(mosquitto, subscriber, make_publisher):
    n_alerts = 60  # more than the in-flight window, so ordering across batches is exercised
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto)
    ids = [pub.publish(DEV, "alert", alert_payload(i)) for i in range(n_alerts)]
    got = sub.wait_for(topic("alerts"), count=n_alerts)
    assert [validate("alert", m.payload)["msg_id"] for m in got] == ids
    assert all(m.qos == 1 and not m.retain for m in got)
    assert wait_until(lambda: pub.outbox_depth == 0)
    assert len(set(ids)) == n_alerts


def test_stats_are_best_effort_qos0(mosquitto, subscriber, make_publisher):
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto)
    assert wait_until(lambda: pub.connected)
    pub.publish(DEV, "stats", stats_payload())
    (stats,) = sub.wait_for(topic("stats"))
    assert stats.qos == 0 and not stats.retain
    validate("stats", stats.payload)
    assert pub.outbox_depth == 0  # stats never enter the durable queue


def test_broker_outage_loses_no_alert(mosquitto_persistent, subscriber, make_publisher):
    broker = mosquitto_persistent
    sub = subscriber(broker, (topic("alerts"),), persistent=True)  # a consumer whose session the broker keeps
    pub = make_publisher(broker)
    ids = [pub.publish(DEV, "alert", alert_payload(i)) for i in range(5)]
    sub.wait_for(topic("alerts"), count=5)
    broker.stop()
    assert wait_until(lambda: not pub.connected), "publisher did not notice the outage"
    ids += [pub.publish(DEV, "alert", alert_payload(i)) for i in range(5, 25)]  # produced during the outage
    assert pub.outbox_depth == 20
    broker.start()
    assert wait_until(lambda: len(unique_ids(sub.on(topic("alerts")))) >= len(ids)), unique_ids(sub.on(topic("alerts")))
    assert unique_ids(sub.on(topic("alerts"))) == ids
    assert wait_until(lambda: pub.outbox_depth == 0)


_KILLED_PUBLISHER = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[4])
    from cribside.edge.config import MqttConfig
    from cribside.edge.comms.mqtt import MqttPublisher
    from cribside.edge.comms.outbox import Outbox
    from support.payloads import alert_payload
    cfg = MqttConfig.model_validate(json.loads(sys.argv[1]))
    pub = MqttPublisher(cfg, Outbox(sys.argv[2], 1000), ["crib-1"])
    pub.start()
    ids = [pub.publish("crib-1", "alert", alert_payload(i)) for i in range(int(sys.argv[3]))]
    print(json.dumps(ids), flush=True)
    time.sleep(120)
    """
)


@pytest.mark.slow
def test_sigkilled_process_replays_undelivered_alerts_after_restart(mosquitto, subscriber, make_publisher, tmp_path):
    n_alerts = 12
    outbox_path = tmp_path / "killed.sqlite"
    mosquitto.stop()  # the broker is down while the doomed process produces its alerts
    cfg = mosquitto.mqtt_config().model_dump(mode="json")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PUBLISHER, json.dumps(cfg), str(outbox_path), str(n_alerts), str(Path(__file__).parents[1])],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ids = json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL and len(ids) == n_alerts
    mosquitto.start()
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto, outbox_path=outbox_path)  # the restarted process, same outbox
    got = sub.wait_for(topic("alerts"), count=n_alerts)
    assert [json.loads(m.payload)["msg_id"] for m in got] == ids
    assert wait_until(lambda: pub.outbox_depth == 0)


def test_bad_commands_are_answered_and_lose_nothing(mosquitto, subscriber, make_publisher):
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto)
    seen: list[tuple[str, str, dict]] = []
    pub.on_command(lambda device, command, payload: seen.append((device, command, payload)) or {"ok": True, "reason": "acked"})
    sub.wait_for(topic("availability"), where=lambda m: m.payload == b"online")
    before = [pub.publish(DEV, "alert", alert_payload(i)) for i in range(3)]
    requests = [
        ("cmd/ack", b"this is not json", "ack", "not JSON"),
        ("cmd/snooze", json.dumps({"minutes": "ten", "request_id": "r2"}).encode(), "snooze", "minutes"),
        ("cmd/snooze", json.dumps({"minutes": 500}).encode(), "snooze", "minutes"),
        ("cmd/ack", json.dumps({"episode": "x"}).encode(), "ack", "episode_id"),
        ("cmd/reboot", json.dumps({"request_id": "r5"}).encode(), "unknown", "unknown command"),
        ("cmd/ack", json.dumps({"episode_id": "ep-00001", "request_id": "r6", "by": "nurse"}).encode(), "ack", "acked"),
    ]
    for suffix, payload, _, _ in requests:
        sub.client.publish(topic(suffix), payload, qos=1)
    after = [pub.publish(DEV, "alert", alert_payload(i)) for i in range(3, 6)]
    results = [validate("cmd_result", m.payload) for m in sub.wait_for(topic("cmd/result"), count=len(requests))]
    for (_, _, command, reason_part), result in zip(requests, results):
        assert result["command"] == command
        assert reason_part in result["reason"], result
    assert [r["ok"] for r in results] == [False] * 5 + [True]
    time.sleep(QUIET_PERIOD_S)
    assert len(sub.on(topic("cmd/result"))) == len(requests)  # one answer each; the publisher ignores its own results
    assert results[1]["request_id"] == "r2" and results[5]["request_id"] == "r6"
    assert seen == [(DEV, "ack", {"episode_id": "ep-00001", "request_id": "r6", "by": "nurse"})]
    got = sub.wait_for(topic("alerts"), count=6)
    assert [json.loads(m.payload)["msg_id"] for m in got] == before + after


def test_home_assistant_discovery_is_resent_when_it_comes_online(mosquitto, subscriber, make_publisher):
    sub = subscriber(mosquitto)
    make_publisher(mosquitto, homeassistant={"enabled": True})
    config_topics = {
        f"homeassistant/binary_sensor/{DEV}/crying/config",
        f"homeassistant/sensor/{DEV}/pain_level/config",
        f"homeassistant/binary_sensor/{DEV}/face_visible/config",
    }
    for t in config_topics:
        (msg,) = sub.wait_for(t)
        config = json.loads(msg.payload)
        assert config["state_topic"] == topic("state")
        assert [a["topic"] for a in config["availability"]] == [topic("availability"), topic("status")]
    sub.client.publish("homeassistant/status", b"online", qos=1)
    for t in config_topics:  # after a random 0-5 s, so a ward of devices does not answer at once
        sub.wait_for(t, count=2)


def test_legacy_discovery_configs_are_cleared_on_upgrade(mosquitto, subscriber, make_publisher):
    legacy = f"homeassistant/binary_sensor/{DEV}_crying/config"
    old = subscriber(mosquitto)
    old.client.publish(legacy, b'{"name": "Crying", "unique_id": "cribside_crib-1_crying"}', qos=1, retain=True).wait_for_publish(5)
    old.wait_for(legacy)
    sub = subscriber(mosquitto)
    sub.wait_for(legacy)  # retained: a Home Assistant would load it
    make_publisher(mosquitto, homeassistant={"enabled": True})
    sub.wait_for(legacy, count=2, where=lambda m: True)
    assert sub.on(legacy)[-1].payload == b""  # cleared, so only the new node_id config defines the entity
    late = subscriber(mosquitto)
    late.wait_for(f"homeassistant/binary_sensor/{DEV}/crying/config")
    assert not [m for m in late.on(legacy) if m.payload]


def test_home_assistant_buttons_reach_the_device_through_the_broker(mosquitto, subscriber, make_publisher):
    pub = make_publisher(mosquitto, homeassistant={"enabled": True})
    received = []
    pub.on_command(lambda device, command, payload: received.append((command, payload)) or {"ok": True, "reason": "done"})
    sub = subscriber(mosquitto)
    buttons = {}
    for obj in ("acknowledge", "snooze_15"):
        (msg,) = sub.wait_for(f"homeassistant/button/{DEV}/{obj}/config")
        buttons[obj] = json.loads(msg.payload)
    for obj in ("acknowledge", "snooze_15"):  # what Home Assistant publishes when a button is pressed
        sub.client.publish(buttons[obj]["command_topic"], buttons[obj]["payload_press"], qos=1)
    results = [m.json() for m in sub.wait_for(topic("cmd/result"), count=2)]
    assert [r["command"] for r in results] == ["ack", "snooze"] and all(r["ok"] for r in results)
    assert received[0][0] == "ack" and received[0][1]["episode_id"] == "current"
    assert received[1][0] == "snooze" and received[1][1]["minutes"] == 15


def test_two_cameras_have_their_own_clients_and_wills(mosquitto, subscriber, make_publisher):
    sub = subscriber(mosquitto)
    pub = make_publisher(mosquitto, device_ids=("crib-1", "crib-2"))
    for d in ("crib-1", "crib-2"):
        sub.wait_for(topic("availability", d), where=lambda m: m.payload == b"online")
    client_ids = {link.client._client_id for link in pub._links.values()}
    assert len(client_ids) == 2
    pub._links["crib-2"].client.socket().shutdown(socket.SHUT_RDWR)
    sub.wait_for(topic("availability", "crib-2"), where=lambda m: m.payload == b"offline")
    assert not any(m.payload == b"offline" for m in sub.on(topic("availability", "crib-1")))


def test_tls_with_test_ca_and_client_certificate(mosquitto_tls, subscriber, make_publisher):
    sub = subscriber(mosquitto_tls)
    pub = make_publisher(mosquitto_tls)
    pub.publish(DEV, "alert", alert_payload(1))
    (msg,) = sub.wait_for(topic("alerts"))
    validate("alert", msg.payload)
    assert pub.connected


@pytest.mark.parametrize("secret_from", ["password_file", "env", "credentials_directory"])
def test_password_auth(mosquitto_auth, subscriber, make_publisher, tmp_path, monkeypatch, secret_from):
    monkeypatch.delenv("CRIBSIDE_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    overrides = {}
    if secret_from == "password_file":
        (tmp_path / "pw").write_text(mosquitto_auth.password + "\n")
        overrides["password_file"] = str(tmp_path / "pw")
    elif secret_from == "env":
        monkeypatch.setenv("CRIBSIDE_MQTT_PASSWORD", mosquitto_auth.password)
    else:
        (tmp_path / "creds").mkdir()
        (tmp_path / "creds" / "mqtt_password").write_text(mosquitto_auth.password)
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    sub = subscriber(mosquitto_auth)
    pub = make_publisher(mosquitto_auth, **overrides)
    pub.publish(DEV, "state", state_payload())
    (msg,) = sub.wait_for(topic("state"))
    validate("state", msg.payload)


def test_wrong_password_is_a_clear_logged_error_with_retries(mosquitto_auth, subscriber, make_publisher, monkeypatch, caplog):
    wrong = "not-" + mosquitto_auth.password
    monkeypatch.setenv("CRIBSIDE_MQTT_PASSWORD", wrong)
    caplog.set_level(logging.ERROR, logger="cribside.edge.comms.mqtt")
    pub = make_publisher(mosquitto_auth)
    pub.publish(DEV, "alert", alert_payload(0))
    assert wait_until(lambda: pub.health(DEV).link["failures"] >= 3), "no retry after refusal"
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1  # logged once per change, not once per retry
    assert "username" in refusals[0] and "retrying" in refusals[0]
    assert "refused" in pub.health(DEV).link["last_error"]  # and reported in stats
    assert all(wrong not in r.getMessage() for r in caplog.records)  # the secret never reaches a log
    assert not pub.connected and pub.outbox_depth == 1  # nothing lost while refused


def test_missing_password_file_is_a_clear_error(mosquitto, tmp_path):
    cfg = mosquitto.mqtt_config(username="u", password_file=str(tmp_path / "nope"))
    with pytest.raises(CribsideError, match="password_file"):
        MqttPublisher(cfg, Outbox(tmp_path / "o.sqlite", 100), [DEV])


def test_missing_tls_file_is_a_clear_error(mosquitto, tmp_path):
    cfg = mosquitto.mqtt_config(tls={"ca_file": str(tmp_path / "missing-ca.pem")})
    with pytest.raises(CribsideError, match="ca_file"):
        MqttPublisher(cfg, Outbox(tmp_path / "o.sqlite", 100), [DEV])


def test_publish_rejects_unknown_kind_and_device(mosquitto, make_publisher):
    pub = make_publisher(mosquitto, start=False)
    with pytest.raises(ValueError, match="kind"):
        pub.publish(DEV, "alerts!", {})
    with pytest.raises(ValueError, match="device_id"):
        pub.publish("crib-9", "state", state_payload())


@pytest.mark.slow
def test_broker_killed_while_alerts_are_in_flight_loses_none(mosquitto_persistent, subscriber, make_publisher):
    broker = mosquitto_persistent
    n_alerts = 150
    sub = subscriber(broker, (topic("alerts"),), persistent=True)
    pub = make_publisher(broker)
    assert wait_until(lambda: pub.connected)
    ids = []
    for i in range(n_alerts):
        ids.append(pub.publish(DEV, "alert", alert_payload(i)))
        if i == 60:
            broker.stop()  # with messages still in flight and unacknowledged
        if i == 100:
            broker.start()
    assert wait_until(lambda: len(unique_ids(sub.on(topic("alerts")))) >= n_alerts), len(unique_ids(sub.on(topic("alerts"))))
    assert unique_ids(sub.on(topic("alerts"))) == ids
    assert wait_until(lambda: pub.outbox_depth == 0)
