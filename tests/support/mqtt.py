"""The MQTT publisher in tests: a started-publisher factory fixture and helpers to read what arrived."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest

from cribside.edge.comms.contract import load_schema
from cribside.edge.comms.mqtt import MqttPublisher
from cribside.edge.comms.outbox import Outbox

DEV = "crib-1"
CONNECT_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
QUIET_PERIOD_S = 0.3  # long enough for a stray extra message on loopback


def topic(suffix: str, device_id: str = DEV, prefix: str = "test") -> str:
    return f"{prefix}/{device_id}/{suffix}"


def validate(kind: str, payload: bytes) -> dict:
    data = json.loads(payload)
    jsonschema.Draft202012Validator(load_schema(kind)).validate(data)
    return data


def unique_ids(messages) -> list[str]:
    """msg_ids in arrival order without duplicates (what a consumer keeps: it drops repeats by msg_id)."""
    return list(dict.fromkeys(json.loads(m.payload)["msg_id"] for m in messages))


def wait_until(predicate, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def make_publisher(tmp_path: Path):
    """Factory of started publishers with their own outbox; all stopped at teardown."""
    made: list[MqttPublisher] = []

    def make(broker, device_ids=(DEV,), outbox_path=None, start=True, **cfg_overrides) -> MqttPublisher:
        outbox = Outbox(outbox_path or tmp_path / f"outbox-{len(made)}.sqlite", 1000)
        pub = MqttPublisher(broker.mqtt_config(**cfg_overrides), outbox, list(device_ids))
        made.append(pub)
        if start:
            pub.start()
        return pub

    yield make
    for pub in made:
        pub.stop(timeout_s=1.0)
        pub.outbox.close()
