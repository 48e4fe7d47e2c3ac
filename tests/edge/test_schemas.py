"""The payload JSON Schemas: shipped, well-formed, accepting the contract and rejecting drift."""

from __future__ import annotations

import json

import jsonschema
import pytest
from support.payloads import alert_payload, state_payload, stats_payload, status_payload

from cribside.edge.comms.contract import SCHEMA_VERSION, EnvelopeStamper, NullPublisher, encode_payload, load_schema
from cribside.edge.comms.homeassistant import discovery_messages
from cribside.edge.config import MqttConfig

KINDS = ("state", "alert", "status", "stats", "cmd_result", "cmd_ack", "cmd_snooze")
STAMPER = EnvelopeStamper("boot1")


def stamped(payload: dict) -> dict:
    return json.loads(encode_payload(STAMPER.stamp("crib-1", payload, ts=1_700_000_000.0)))


def errors(kind: str, message: dict) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(load_schema(kind)).iter_errors(message)]


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_valid_draft_2020_12(kind):
    schema = load_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    "kind,payload",
    [
        ("state", state_payload(cry="yes")),
        ("state", state_payload(face_visible=False)),
        ("alert", alert_payload(1)),
        ("alert", alert_payload(2, event="end")),
        ("status", status_payload("stalled")),
        ("stats", stats_payload()),
        ("cmd_result", {"command": "unknown", "ok": False, "reason": "x", "request_id": None}),
    ],
)
def test_contract_payloads_are_valid(kind, payload):
    assert errors(kind, stamped(payload)) == []


def test_commands_requests_schemas():
    assert errors("cmd_ack", {"episode_id": "e1", "by": "nurse"}) == []
    assert errors("cmd_snooze", {"minutes": 15, "type": "distress"}) == []
    assert errors("cmd_snooze", {"minutes": 15, "type": "all"})  # no_signal is never snoozed
    assert errors("cmd_snooze", {"minutes": 61})  # the documented maximum
    assert errors("cmd_snooze", {"minutes": 0}) and errors("cmd_snooze", {"minutes": 5, "typo": 1})


def _drifted(base: dict, **changes) -> dict:
    message = json.loads(json.dumps(base))
    for dotted, value in changes.items():
        node = message
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[leaf]
        else:
            node[leaf] = value
    return message


@pytest.mark.parametrize(
    "kind,payload,changes",
    [
        ("state", state_payload(), {"schema_version": 1}),  # a version-1 payload is not this contract
        ("state", state_payload(), {"msg_id": KeyError}),
        ("state", state_payload(), {"pain__label": "no"}),  # "no" is a cry label: pain says none
        ("state", state_payload(), {"cry__p__yes": 1.5}),
        ("state", state_payload(), {"extra_field": 1}),
        ("alert", alert_payload(1), {"ended_ts": 5.0}),  # a start carries no end time
        ("alert", alert_payload(1, event="end"), {"ended_ts": None}),
        ("alert", alert_payload(1), {"type": "no_signal"}),  # no_signal episodes have level no_signal
        ("alert", alert_payload(1), {"peak__severe_pain": KeyError}),
        ("status", status_payload(), {"capture": "fine"}),
        ("stats", stats_payload(), {"latency_ms__encode": KeyError}),
        ("stats", stats_payload(), {"frames__dropped": -1}),
    ],
)
def test_drift_from_the_contract_is_rejected(kind, payload, changes):
    assert errors(kind, _drifted(stamped(payload), **changes))


def test_envelope_is_stamped_first_and_ids_are_unique():
    stamper = EnvelopeStamper()
    a = stamper.stamp("crib-1", {"ts": 1.0, "capture": "ok"}, ts=2.0)
    b = stamper.stamp("crib-1", {})
    assert list(a)[:4] == ["schema_version", "msg_id", "device_id", "ts"]
    assert a["schema_version"] == SCHEMA_VERSION and a["ts"] == 2.0 and a["capture"] == "ok"
    assert a["msg_id"] != b["msg_id"] and a["msg_id"].startswith(f"crib-1-{stamper.boot_id}-")
    assert EnvelopeStamper().boot_id != stamper.boot_id  # ids never repeat across restarts


def test_encode_refuses_nan():
    with pytest.raises(ValueError):
        encode_payload({"p": float("nan")})


def test_null_publisher_stamps_like_mqtt():
    pub = NullPublisher("b")
    msg_id = pub.publish("crib-1", "state", state_payload())
    assert pub.last[("crib-1", "state")]["msg_id"] == msg_id
    assert errors("state", pub.last[("crib-1", "state")]) == []
    with pytest.raises(ValueError):
        pub.publish("crib-1", "bogus", {})


def test_home_assistant_discovery_configs():
    from cribside.edge.comms.homeassistant import object_names

    cfg = MqttConfig(prefix="ward", homeassistant={"enabled": True, "discovery_prefix": "ha"})
    messages = dict(discovery_messages(cfg, "crib-1"))
    assert set(messages) == {f"ha/{component}/crib-1/{obj}/config" for component, obj in object_names()}
    assert {"ha/binary_sensor/crib-1/crying/config", "ha/sensor/crib-1/pain_level/config",
            "ha/button/crib-1/acknowledge/config", "ha/event/crib-1/alert/config"} <= set(messages)
    configs = [json.loads(p) for p in messages.values()]
    assert len({c["unique_id"] for c in configs}) == len(configs)
    for c in configs:
        topics = {a["topic"] for a in c["availability"]}
        assert "ward/crib-1/availability" in topics
        assert c.get("state_topic", c.get("command_topic", "")).startswith("ward/crib-1/")
