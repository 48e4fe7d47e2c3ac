"""Home Assistant MQTT discovery messages for one camera.

Home Assistant creates entities from retained JSON configs published under
``<discovery_prefix>/<component>/<object_id>/config``; each entity reads the
camera's retained ``state`` topic through a value template and goes
unavailable when the camera's ``availability`` says ``offline``.
"""

from __future__ import annotations

import json

from cribside.edge.comms.contract import device_topic
from cribside.edge.config import MqttConfig
from cribside.edge.temporal.alerts import LEVELS

# Home Assistant sets an entity to "unknown" when its value template renders the text None.
# Every template maps the labels it knows and nothing else: an unknown label (no face, no window,
# a newer contract) is unknown in Home Assistant, never "not crying" or "no pain".
KNOWN_STATES = {
    "crying": ("ON", "OFF"),
    "pain_level": ("none", "moderate", "severe"),
    "face_visible": ("ON", "OFF"),
    "caregiver_present": ("ON", "OFF"),
    "alert_level": (*LEVELS, "no_signal"),
}
"""What each entity may show besides unknown (``None``)."""

_CRY = "{% set l = value_json.cry.label %}{{ 'ON' if l == 'yes' else ('OFF' if l == 'no' else 'None') }}"
_PAIN = f"{{% set l = value_json.pain.label %}}{{{{ l if l in {list(KNOWN_STATES['pain_level'])} else 'None' }}}}"
_FACE = "{% set v = value_json.face_visible %}{{ 'ON' if v is sameas true else ('OFF' if v is sameas false else 'None') }}"
_CAREGIVER = ("{% set v = value_json.caregiver_present %}"
              "{{ 'ON' if v is sameas true else ('OFF' if v is sameas false else 'None') }}")
_ALERT = f"{{% set l = value_json.alert_level %}}{{{{ l if l in {list(KNOWN_STATES['alert_level'])} else 'None' }}}}"

# (component, object, name, value_template, extra fields)
_ENTITIES: tuple[tuple[str, str, str, str, dict[str, object]], ...] = (
    ("binary_sensor", "crying", "Crying", _CRY, {"payload_on": "ON", "payload_off": "OFF", "icon": "mdi:emoticon-cry-outline"}),
    ("sensor", "pain_level", "Pain level", _PAIN, {"icon": "mdi:emoticon-sad-outline"}),
    ("binary_sensor", "face_visible", "Face visible", _FACE, {"payload_on": "ON", "payload_off": "OFF", "icon": "mdi:face-recognition"}),
    ("binary_sensor", "caregiver_present", "Caregiver present", _CAREGIVER,
     {"payload_on": "ON", "payload_off": "OFF", "device_class": "occupancy", "icon": "mdi:account-child"}),
    ("sensor", "alert_level", "Alert level", _ALERT, {"icon": "mdi:bell-alert-outline"}),
)


def status_topic(cfg: MqttConfig) -> str:
    """The topic where Home Assistant announces it (re)started: ``<discovery_prefix>/status``."""
    return f"{cfg.homeassistant.discovery_prefix}/status"


def discovery_messages(cfg: MqttConfig, device_id: str, sw_version: str = "unknown") -> list[tuple[str, bytes]]:
    """(topic, payload) of every discovery config for one camera; publish retained, QoS 1."""
    device = {
        "identifiers": [f"cribside_{device_id}"],
        "name": f"cribside {device_id}",
        "manufacturer": "cribside",
        "model": "infant cry and pain monitor (not a medical device)",
        "sw_version": sw_version,
    }
    messages = []
    for component, obj, name, template, extra in _ENTITIES:
        object_id = f"{device_id}_{obj}"
        config = {
            "name": name,
            "unique_id": f"cribside_{object_id}",
            "object_id": f"cribside_{object_id}",
            "state_topic": device_topic(cfg.prefix, device_id, "state"),
            "value_template": template,
            "availability_topic": device_topic(cfg.prefix, device_id, "availability"),
            "payload_available": "online",
            "payload_not_available": "offline",
            "qos": 1,
            "device": device,
            **extra,
        }
        topic = f"{cfg.homeassistant.discovery_prefix}/{component}/{object_id}/config"
        messages.append((topic, json.dumps(config, separators=(",", ":")).encode("utf-8")))
    return messages
