"""Clear what a camera left retained on the broker (``cribside mqtt purge``): a removed or renamed crib.

Empty retained messages (the MQTT way to delete a retained message) on its Home Assistant discovery
configs (today's topic form and the earlier releases'), ``availability``, ``state`` and ``status``, so
neither Home Assistant nor a nurse station shows a crib that is no longer watched.
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho

from cribside.edge.comms import homeassistant
from cribside.edge.comms.contract import device_topic
from cribside.edge.comms.mqtt import connect_client
from cribside.edge.config import MqttConfig
from cribside.edge.errors import CribsideError

RETAINED = ("availability", "state", "status")


def purge_topics(cfg: MqttConfig, device_id: str) -> list[str]:
    """Every retained topic one camera can leave behind."""
    topics = [device_topic(cfg.prefix, device_id, suffix) for suffix in RETAINED]
    topics += [homeassistant.discovery_topic(cfg, c, device_id, o) for c, o in homeassistant.object_names()]
    topics += [homeassistant.legacy_discovery_topic(cfg, c, device_id, o) for c, o in homeassistant.LEGACY_ENTITIES]
    return topics


def purge(cfg: MqttConfig, device_ids: list[str], *, timeout_s: float = 10.0) -> list[str]:
    """Clear the retained topics of ``device_ids``; returns the topics cleared (every one acknowledged).

    Raises:
        CribsideError: the broker cannot be reached, refuses the connection, or does not acknowledge in time.
    """
    connected = threading.Event()
    failure: list[str] = []

    def on_connect(c: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            failure.append(str(reason))
        connected.set()

    client = connect_client(cfg, "purge", on_connect=on_connect)
    try:
        if not connected.wait(timeout_s) or failure:
            raise CribsideError(f"mqtt purge: {cfg.host}:{cfg.port} refused the connection: {failure[0] if failure else 'timeout'}")
        topics = [t for d in device_ids for t in purge_topics(cfg, d)]
        infos = [client.publish(t, b"", qos=1, retain=True) for t in topics]
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(timeout=max(0.05, deadline - time.monotonic()))
        if not all(i.is_published() for i in infos):
            raise CribsideError(f"mqtt purge: the broker did not acknowledge every clear within {timeout_s:g} s")
        return topics
    finally:
        client.disconnect()
        client.loop_stop()


LISTEN_S = 2.0  # how long retained_device_ids listens for retained availability topics


def retained_device_ids(cfg: MqttConfig, *, listen_s: float = LISTEN_S) -> list[str]:
    """Device ids with a retained, non-empty ``<prefix>/<id>/availability`` on the broker.

    Raises:
        CribsideError: the broker cannot be reached.
    """
    found: set[str] = set()

    def on_connect(c: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        c.subscribe(device_topic(cfg.prefix, "+", "availability"), qos=1)

    def on_message(c: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.retain and message.payload:
            found.add(message.topic.split("/")[-2])

    client = connect_client(cfg, "purge-scan", on_connect=on_connect, on_message=on_message)
    time.sleep(listen_s)
    client.disconnect()
    client.loop_stop()
    return sorted(found)



def purge_removed(cfg: MqttConfig, keep: list[str]) -> list[str]:
    """Clear every device id with retained availability on the broker that is not in ``keep``
    (``mqtt.purge_removed`` at start-up); returns the ids cleared.

    Raises:
        CribsideError: the broker cannot be reached or does not acknowledge.
    """
    removed = [d for d in retained_device_ids(cfg) if d not in keep]
    if removed:
        purge(cfg, removed)
    return removed
