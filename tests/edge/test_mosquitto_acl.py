"""deploy/mosquitto/ (ACL file and conf snippet) against a real mosquitto.

Mosquitto drops a publish its ACL denies without telling the sender (a QoS 1 one is still
PUBACKed), and in 2.0 grants every SUBSCRIBE and filters at delivery. So no test here trusts a
return code: each one watches, as a user allowed to read, that the forbidden message did not
arrive, and in the same test that an allowed one sent after it did (so the test can fail). The
allowed message is sent after the forbidden one's PUBACK, by when the broker has routed or dropped
it: had it been routed, it would have arrived first.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from support.acl import ACL_FILE, AclBroker, connack, publish_acked
from support.broker import WAIT_TIMEOUT_S
from support.payloads import alert_payload, state_payload, stats_payload, status_payload

from cribside.edge.comms.homeassistant import LEGACY_ENTITIES, discovery_messages, legacy_discovery_topic
from cribside.edge.comms.mqtt import MqttPublisher
from cribside.edge.comms.outbox import Outbox
from cribside.edge.config import MqttConfig

DEVICE_SUFFIXES = ("state", "alerts", "status", "stats", "availability", "cmd/result")
SNOOZE_ALL_4H = json.dumps({"minutes": 240, "type": "all", "request_id": "not-a-nurse"}).encode()
NURSE_SNOOZE = json.dumps({"minutes": 15, "request_id": "nurse-1-r1", "by": "nurse-1"}).encode()
FAKE_CALM_STATE = json.dumps({**state_payload(cry="no"), "device_id": "crib-1", "msg_id": "fake"}).encode()


def t(device: str, suffix: str) -> str:
    return f"cribside/{device}/{suffix}"


def wait_for_log(acl: AclBroker, text: str, timeout_s: float = WAIT_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in acl.log():
        assert time.monotonic() < deadline, f"broker log never said {text!r}"
        time.sleep(0.02)


def test_anonymous_and_unknown_clients_are_refused(mosquitto_acl):
    broker = mosquitto_acl.broker
    assert connack(broker, None).is_failure
    assert connack(broker, "crib-1", "not-" + mosquitto_acl.passwords["crib-1"]).is_failure
    assert connack(broker, "crib-9", "anything").is_failure
    for user, password in mosquitto_acl.passwords.items():  # positive control: the real accounts get in
        assert not connack(broker, user, password).is_failure, user


def test_acl_file_grants_anonymous_clients_nothing():
    # "topic" lines above the first "user" line are anonymous clients' grants: even with
    # allow_anonymous switched on by mistake, they must get nothing.
    for line in ACL_FILE.read_text().splitlines():
        if line.startswith("user "):
            break
        assert not line.startswith("topic "), f"anonymous grant in {ACL_FILE}: {line}"


def test_a_camera_cannot_retain_fake_state_or_availability_for_another(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    live = subscriber(acl.as_user("nurse-1"), ("cribside/#",))
    crib1 = subscriber(acl.as_user("crib-1"), (t("crib-1", "cmd/+"),))
    real_state = json.dumps(state_payload(cry="yes")).encode()
    publish_acked(crib1, t("crib-1", "state"), real_state, retain=True)  # crying
    publish_acked(crib1, t("crib-1", "availability"), b"offline", retain=True)  # and then it died
    crib2 = subscriber(acl.as_user("crib-2"), (t("crib-2", "cmd/+"),))
    publish_acked(crib2, t("crib-1", "state"), FAKE_CALM_STATE, retain=True)
    publish_acked(crib2, t("crib-1", "availability"), b"online", retain=True)
    for suffix in DEVICE_SUFFIXES:
        publish_acked(crib2, t("crib-1", suffix), b"fake from crib-2")
    publish_acked(crib2, t("crib-2", "state"), b"crib-2's own", retain=True)  # positive control
    live.wait_for(t("crib-2", "state"))
    assert [m.payload for m in live.on(t("crib-1", "state"))] == [real_state]
    assert [m.payload for m in live.on(t("crib-1", "availability"))] == [b"offline"]
    assert not [m for m in live.messages if m.topic.startswith("cribside/crib-1/") and b"fake" in m.payload]

    late = subscriber(acl.as_user("nurse-1"), ("cribside/#",))  # what a station sees when it starts later
    assert [m.payload for m in late.wait_for(t("crib-1", "state"))] == [real_state]
    assert [m.payload for m in late.wait_for(t("crib-1", "availability"))] == [b"offline"]
    assert late.wait_for(t("crib-2", "state"))[0].retain


def test_a_camera_cannot_fake_another_cameras_last_will(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    live = subscriber(acl.as_user("nurse-1"), ("cribside/#",))

    def dying_client(user: str, will: bytes) -> paho.Client:
        connected = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-will-{user}-{uuid.uuid4().hex[:6]}")
        client.username_pw_set(user, acl.passwords[user])
        client.will_set(t("crib-1", "availability"), will, qos=1, retain=True)
        client.on_connect = lambda c, u, f, reason, p: reason.is_failure or connected.set()
        client.connect(acl.broker.host, acl.broker.port, keepalive=5)
        deadline = time.monotonic() + WAIT_TIMEOUT_S
        while not connected.is_set():  # no network thread: nothing reconnects after the crash below
            assert time.monotonic() < deadline, f"{user} did not connect"
            client.loop(0.05)
        return client

    def die(client: paho.Client) -> None:
        client.socket().shutdown(socket.SHUT_RDWR)  # the broker sees the link drop, as at a crash
        client.socket().close()

    crib1 = dying_client("crib-1", b"offline")
    crib2 = dying_client("crib-2", b"online")  # would keep crib-1 looking alive after it dies
    die(crib2)
    wait_for_log(acl, f"Client {crib2._client_id.decode()} closed its connection")
    die(crib1)  # positive control: the camera's own will gets through
    live.wait_for(t("crib-1", "availability"))
    assert [m.payload for m in live.on(t("crib-1", "availability"))] == [b"offline"]
    late = subscriber(acl.as_user("nurse-1"), (t("crib-1", "availability"),))
    assert [m.payload for m in late.wait_for(t("crib-1", "availability"))] == [b"offline"]


def test_an_unauthorised_snooze_never_reaches_the_camera(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    crib1 = subscriber(acl.as_user("crib-1"), (t("crib-1", "cmd/+"),))
    assert connack(acl.broker, None).is_failure  # anonymous cannot even connect to try
    crib2 = subscriber(acl.as_user("crib-2"), (t("crib-2", "cmd/+"),))
    publish_acked(crib2, t("crib-1", "cmd/snooze"), SNOOZE_ALL_4H)
    publish_acked(crib2, t("crib-1", "cmd/ack"), json.dumps({"episode_id": "crib-1-x-1"}).encode())
    nurse = subscriber(acl.as_user("nurse-1"), (t("crib-1", "cmd/result"),))
    publish_acked(nurse, t("crib-1", "cmd/snooze"), NURSE_SNOOZE)  # positive control: allowed, and later
    assert [m.payload for m in crib1.wait_for(t("crib-1", "cmd/snooze"))] == [NURSE_SNOOZE]
    assert crib1.on(t("crib-1", "cmd/ack")) == []


def test_a_nurse_station_sends_commands_but_cannot_speak_for_a_camera(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    crib1 = subscriber(acl.as_user("crib-1"), (t("crib-1", "cmd/+"),))
    observer = subscriber(acl.as_user("homeassistant"), ("cribside/#", "homeassistant/#"))
    nurse = subscriber(acl.as_user("nurse-1"), ("cribside/#",))
    publish_acked(nurse, t("crib-1", "cmd/snooze"), NURSE_SNOOZE)
    publish_acked(nurse, t("crib-1", "cmd/ack"), b'{"episode_id": "crib-1-x-1"}')
    assert [m.payload for m in crib1.wait_for(t("crib-1", "cmd/snooze"))] == [NURSE_SNOOZE]
    crib1.wait_for(t("crib-1", "cmd/ack"))

    for suffix in DEVICE_SUFFIXES:  # state, availability, cmd/result...: only the camera says those
        publish_acked(nurse, t("crib-1", suffix), b"from nurse-1", retain=suffix in ("state", "availability"))
    publish_acked(nurse, t("nurse-1", "state"), b"a phantom camera called nurse-1")
    publish_acked(nurse, "homeassistant/status", b"online")
    publish_acked(nurse, "homeassistant/binary_sensor/crib-1_crying/config", b"{}")
    publish_acked(crib1, t("crib-1", "state"), b"crib-1's own")  # positive control, after all of them
    assert [m.payload for m in observer.wait_for(t("crib-1", "state"))] == [b"crib-1's own"]
    assert not [m for m in observer.messages if m.payload.startswith((b"from nurse", b"a phantom", b"{}", b"online"))]


def test_a_camera_publishes_its_own_topics_to_the_nurse_station(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    nurse = subscriber(acl.as_user("nurse-1"), ("cribside/#",))
    crib1 = subscriber(acl.as_user("crib-1"), (t("crib-1", "cmd/+"),))
    for suffix in DEVICE_SUFFIXES:
        publish_acked(crib1, t("crib-1", suffix), f"crib-1 {suffix}".encode(), retain=suffix in ("state", "availability"))
    for suffix in DEVICE_SUFFIXES:
        assert [m.payload for m in nurse.wait_for(t("crib-1", suffix))] == [f"crib-1 {suffix}".encode()]


def test_a_camera_reads_only_its_own_commands(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    crib2 = subscriber(acl.as_user("crib-2"), (t("crib-2", "cmd/+"),))
    # Mosquitto 2.0 grants these subscriptions and filters each message at delivery.
    crib1 = subscriber(acl.as_user("crib-1"), (t("crib-1", "cmd/+"), t("crib-2", "cmd/snooze"), "cribside/+/cmd/#", "#"))
    nurse = subscriber(acl.as_user("nurse-1"), ("cribside/#",))
    publish_acked(crib2, t("crib-2", "state"), b"crib-2 state")
    publish_acked(nurse, t("crib-2", "cmd/snooze"), NURSE_SNOOZE)
    publish_acked(nurse, t("crib-1", "cmd/ack"), b'{"episode_id": "crib-1-x-1"}')  # positive control, last
    crib2.wait_for(t("crib-2", "cmd/snooze"))  # positive control: its own camera gets it
    crib1.wait_for(t("crib-1", "cmd/ack"))
    assert [m.topic for m in crib1.messages] == [t("crib-1", "cmd/ack")]  # nothing of crib-2's, not even state


def test_home_assistant_announces_itself_and_commands_but_cannot_speak_for_a_camera(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    crib1 = subscriber(acl.as_user("crib-1"), (t("crib-1", "cmd/+"), "homeassistant/status"))
    nurse = subscriber(acl.as_user("nurse-1"), ("cribside/#",))
    ha = subscriber(acl.as_user("homeassistant"), ("cribside/#", "homeassistant/#"))
    crib2 = subscriber(acl.as_user("crib-2"), (t("crib-2", "cmd/+"),))
    publish_acked(crib2, "homeassistant/status", b"online from crib-2")  # would make every camera re-send
    publish_acked(ha, t("crib-1", "state"), b"from homeassistant", retain=True)
    publish_acked(ha, t("crib-1", "availability"), b"from homeassistant", retain=True)
    publish_acked(ha, t("homeassistant", "state"), b"from homeassistant: a phantom camera")
    publish_acked(ha, "homeassistant/status", b"online")
    publish_acked(ha, t("crib-1", "cmd/snooze"), NURSE_SNOOZE)
    assert [m.payload for m in crib1.wait_for("homeassistant/status")] == [b"online"]
    assert [m.payload for m in crib1.wait_for(t("crib-1", "cmd/snooze"))] == [NURSE_SNOOZE]
    publish_acked(crib1, t("crib-1", "state"), b"crib-1's own")  # positive control, after all of them
    assert [m.payload for m in nurse.wait_for(t("crib-1", "state"))] == [b"crib-1's own"]
    assert not [m for m in nurse.messages if m.payload.startswith(b"from homeassistant")]


def test_home_assistant_discovery_is_writable_only_by_its_own_camera(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    ha = subscriber(acl.as_user("homeassistant"), ("homeassistant/#",))
    crib1 = subscriber(acl.as_user("crib-1"), (t("crib-1", "cmd/+"),))
    crib2 = subscriber(acl.as_user("crib-2"), (t("crib-2", "cmd/+"),))
    cfg = MqttConfig.model_validate({"homeassistant": {"enabled": True}})
    # The topics the device code publishes today, so a new entity without its ACL line fails here,
    # plus the earlier releases' form (<component>/<device_id>_<object>/config) that purge clears.
    current = [topic for topic, _ in discovery_messages(cfg, "crib-1")]
    legacy = [legacy_discovery_topic(cfg, component, "crib-1", obj) for component, obj in LEGACY_ENTITIES]
    for topic in current + legacy:
        publish_acked(crib1, topic, b"crib-1's config", retain=True)
        ha.wait_for(topic)
        # A config pointing crib-1's entities at crib-2's state would show crib-2's calm as crib-1's.
        publish_acked(crib2, topic, b"crib-2's fake config", retain=True)
        publish_acked(crib2, topic.replace("crib-1", "crib-2"), b"crib-2's config", retain=True)  # positive control
        ha.wait_for(topic.replace("crib-1", "crib-2"))
        assert [m.payload for m in ha.on(topic)] == [b"crib-1's config"], topic
    publish_acked(crib2, "homeassistant/switch/crib-1/unlock/config", b"crib-2's fake config")
    publish_acked(crib1, "homeassistant/lock/crib-1_door/config", b"crib-1 off its entities")
    publish_acked(crib1, "homeassistant/sensor/crib-1_pain_level/config", b"last")  # positive control
    ha.wait_for("homeassistant/sensor/crib-1_pain_level/config", count=2)
    assert not [m for m in ha.messages if m.payload in (b"crib-2's fake config", b"crib-1 off its entities")]
    late = subscriber(acl.as_user("homeassistant"), ("homeassistant/+/+/config", "homeassistant/+/+/+/config"))
    for topic in current + legacy:
        assert late.wait_for(topic)[0].payload in (b"crib-1's config", b"last"), topic


def test_adding_and_revoking_an_account_takes_a_password_file_edit_and_a_reload(mosquitto_acl, subscriber):
    acl = mosquitto_acl
    nurse = subscriber(acl.as_user("nurse-1"), ("cribside/#",))
    crib2 = subscriber(acl.as_user("crib-2"), (t("crib-2", "cmd/+"),))
    dropped = threading.Event()
    crib2.client.on_disconnect = lambda *args: dropped.set()
    acl.add_user("crib-3")
    assert connack(acl.broker, "crib-3", acl.passwords["crib-3"]).is_failure  # not before the reload
    acl.remove_user("crib-2")  # a stolen camera
    acl.reload()
    assert dropped.wait(WAIT_TIMEOUT_S), "a removed account stayed connected after the reload"
    assert connack(acl.broker, "crib-2", acl.passwords["crib-2"]).is_failure
    crib3 = subscriber(acl.as_user("crib-3"), (t("crib-3", "cmd/+"),))
    publish_acked(crib3, t("crib-3", "state"), b"crib-3's first state", retain=True)
    assert [m.payload for m in nurse.wait_for(t("crib-3", "state"))] == [b"crib-3's first state"]


def test_the_real_device_code_works_under_the_acl(mosquitto_acl, subscriber, tmp_path):
    """MqttPublisher as camera crib-1: everything it publishes is allowed, commands reach it."""
    acl = mosquitto_acl
    nurse = subscriber(acl.as_user("nurse-1"), ("cribside/#",))
    ha = subscriber(acl.as_user("homeassistant"), ("homeassistant/#",))
    (tmp_path / "mqtt_password").write_text(acl.passwords["crib-1"] + "\n")
    cfg = acl.as_user("crib-1").mqtt_config(
        prefix="cribside", password_file=str(tmp_path / "mqtt_password"), homeassistant={"enabled": True}
    )
    pub = MqttPublisher(cfg, Outbox(tmp_path / "outbox.sqlite", 1000), ["crib-1"])
    pub.on_command(lambda device, command, payload: {"ok": True, "reason": f"{command} done"})
    pub.start()
    try:
        nurse.wait_for(t("crib-1", "availability"), where=lambda m: m.payload == b"online")
        discovery = [topic for topic, _ in discovery_messages(cfg, "crib-1")]
        for topic in discovery:
            ha.wait_for(topic)
        pub.publish("crib-1", "state", state_payload())
        pub.publish("crib-1", "alert", alert_payload(1))
        pub.publish("crib-1", "status", status_payload())
        pub.publish("crib-1", "stats", stats_payload())
        for suffix in ("state", "alerts", "status", "stats"):
            nurse.wait_for(t("crib-1", suffix))
        publish_acked(nurse, t("crib-1", "cmd/snooze"), NURSE_SNOOZE)
        (result,) = nurse.wait_for(t("crib-1", "cmd/result"))
        assert json.loads(result.payload)["ok"] is True and json.loads(result.payload)["request_id"] == "nurse-1-r1"
        publish_acked(ha, "homeassistant/status", b"online")
        for topic in discovery:
            ha.wait_for(topic, count=2)  # re-sent: the camera read Home Assistant's birth message
        assert pub.flush(WAIT_TIMEOUT_S), "the broker did not acknowledge every queued message"
    finally:
        pub.stop(timeout_s=2.0)
        pub.outbox.close()
    nurse.wait_for(t("crib-1", "availability"), where=lambda m: m.payload == b"stopped")
    denied = [line for line in acl.log().splitlines() if "Denied" in line]
    assert not denied, f"the ACL dropped some of the device's traffic: {denied}"
