"""``cribside mqtt purge``: a removed crib's retained topics are cleared on a real broker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.payloads import state_payload, status_payload


def _retained(subscriber, broker, topics: list[str], wait_s: float = 1.5) -> set[str]:
    """The topics among ``topics`` that a new subscriber gets a retained, non-empty message on."""
    late = subscriber(broker, ("#",))
    time.sleep(wait_s)
    return {m.topic for m in late.messages if m.retain and m.payload and m.topic in topics}


def test_purge_clears_discovery_availability_state_and_status(mosquitto, subscriber, make_publisher) -> None:
    from cribside.edge.comms.purge import purge, purge_topics, retained_device_ids

    cfg = mosquitto.mqtt_config(homeassistant={"enabled": True})
    pub = make_publisher(mosquitto, device_ids=("crib-9", "crib-1"), homeassistant={"enabled": True})
    sub = subscriber(mosquitto)
    sub.wait_for("test/crib-9/availability", where=lambda m: m.payload == b"online")
    pub.publish("crib-9", "state", state_payload())
    pub.publish("crib-9", "status", status_payload())
    assert pub.flush(10.0)
    sub.wait_for("homeassistant/sensor/crib-9/pain_level/config")
    pub.stop(timeout_s=2.0)
    topics = purge_topics(cfg, "crib-9")
    before = _retained(subscriber, mosquitto, topics)
    assert {"test/crib-9/state", "test/crib-9/status", "test/crib-9/availability",
            "homeassistant/sensor/crib-9/pain_level/config"} <= before
    assert set(retained_device_ids(cfg, listen_s=1.0)) == {"crib-1", "crib-9"}
    cleared = purge(cfg, ["crib-9"])
    assert set(cleared) == set(topics)
    assert _retained(subscriber, mosquitto, topics) == set()
    # The other crib is untouched.
    assert "test/crib-1/availability" in _retained(subscriber, mosquitto, ["test/crib-1/availability"])


def test_purge_command_refuses_a_crib_still_in_the_config(mosquitto, tmp_path: Path, capsys) -> None:
    from cribside.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(f"mqtt:\n  host: {mosquitto.host}\n  port: {mosquitto.port}\n  prefix: test\n"
                      "cameras:\n  - device_id: crib-1\n    source: x.mp4\n", encoding="utf-8")
    assert main(["mqtt", "purge", "--config", str(config), "--device-id", "crib-1"]) != 0
    assert "crib-1 still in" in capsys.readouterr().err
    assert main(["mqtt", "purge", "--config", str(config), "--device-id", "crib-7"]) == 0
    assert "cleared" in capsys.readouterr().out


def test_purge_names_an_unreachable_broker(tmp_path: Path) -> None:
    from cribside.edge.comms.purge import purge
    from cribside.edge.config import MqttConfig
    from cribside.edge.errors import CribsideError

    with pytest.raises(CribsideError, match="cannot reach 127.0.0.1:1"):
        purge(MqttConfig(host="127.0.0.1", port=1), ["crib-1"])


def test_purge_removed_at_start_up_clears_only_cribs_the_config_no_lists(mosquitto, subscriber, make_publisher,
                                                                         tmp_path: Path) -> None:
    import contextlib

    from cribside.edge.app.build import build_publisher
    from cribside.edge.config import config_from_dict

    old = make_publisher(mosquitto, device_ids=("crib-8", "crib-1"))
    sub = subscriber(mosquitto)
    for device in ("crib-8", "crib-1"):
        sub.wait_for(f"test/{device}/availability", where=lambda m: m.payload == b"online")
    old.stop(timeout_s=2.0)
    config = config_from_dict({
        "mqtt": {"host": mosquitto.host, "port": mosquitto.port, "prefix": "test", "purge_removed": True},
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
        "cameras": [{"device_id": "crib-1", "source": "x.mp4"}],
    }, source="test")
    with contextlib.ExitStack() as closers:
        build_publisher(config, ["crib-1"], "boot", closers)
    left = _retained(subscriber, mosquitto, ["test/crib-8/availability", "test/crib-1/availability"])
    assert left == {"test/crib-1/availability"}
