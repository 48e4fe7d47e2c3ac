"""Home Assistant MQTT discovery messages for one camera.

Home Assistant creates entities from retained JSON configs published under
``<discovery_prefix>/<component>/<device_id>/<object>/config``. The state entities read the camera's
retained ``state`` through value templates that render ``None`` (unknown) for anything but a known
label, expire when the state heartbeat stops (``expire_after``), and are available only while both the
link (``availability``: ``online``, not ``offline`` or ``stopped``) and the capture (``status``: ``ok``
or ``no_face``) say so. Diagnostics read ``status``, ``stats`` and the state's model; buttons send
``cmd/ack`` (``episode_id: current``) and ``cmd/snooze``; an ``event`` entity mirrors ``alerts``.
"""

from __future__ import annotations

import json
import math

from cribside.edge.comms.contract import device_topic
from cribside.edge.config import MqttConfig
from cribside.edge.temporal.alerts import LEVELS

PAIN_OPTIONS = ("none", "moderate", "severe")
ALERT_OPTIONS = (*LEVELS, "no_signal")
WATCHING = ("ok", "no_face")  # capture states in which the state entities are available

# Home Assistant sets an entity to "unknown" when its value template renders the text None.
# Every template maps the labels it knows and nothing else: an unknown label (no face, no window,
# a newer contract) is unknown in Home Assistant, never "not crying" or "no pain".
KNOWN_STATES = {
    "crying": ("ON", "OFF"),
    "pain_level": PAIN_OPTIONS,
    "face_visible": ("ON", "OFF"),
    "caregiver_present": ("ON", "OFF"),
    "alert_level": ALERT_OPTIONS,
    "distress": ("ON", "OFF"),
    "snoozed": ("ON", "OFF"),
    "demo_models": ("ON", "OFF"),
}
"""What each state entity may show besides unknown (``None``)."""


def _label(field: str, known: tuple[str, ...]) -> str:
    return f"{{% set l = value_json.{field} %}}{{{{ l if l in {list(known)} else 'None' }}}}"


def _flag(expr: str) -> str:
    """ON for true, OFF for false, unknown for anything else (missing, null, a newer contract's value)."""
    return f"{{% set v = {expr} %}}{{{{ 'ON' if v is sameas true else ('OFF' if v is sameas false else 'None') }}}}"


_CRY = "{% set l = value_json.cry.label %}{{ 'ON' if l == 'yes' else ('OFF' if l == 'no' else 'None') }}"
_DISTRESS = ("{% set l = value_json.alert_level %}"
             f"{{{{ 'ON' if l in {list(ALERT_OPTIONS[1:])} else ('OFF' if l == 'none' else 'None') }}}}")
_SNOOZED = ("{% set v = value_json.snoozed_until %}"
            "{{ 'ON' if (v is number and v is not sameas true and v is not sameas false) else "
            "('OFF' if v is none else 'None') }}")

# State entities: read the retained state, available only while the link is up and the capture is ok or no_face,
# and expire when the state heartbeat stops. (object, component, name, value template, extra fields)
_STATE_ENTITIES: tuple[tuple[str, str, str, str, dict[str, object]], ...] = (
    ("crying", "binary_sensor", "Crying", _CRY, {"icon": "mdi:emoticon-cry-outline"}),
    ("pain_level", "sensor", "Pain level", _label("pain.label", PAIN_OPTIONS),
     {"device_class": "enum", "options": list(PAIN_OPTIONS), "icon": "mdi:emoticon-sad-outline"}),
    ("face_visible", "binary_sensor", "Face visible", _flag("value_json.face_visible"), {"icon": "mdi:face-recognition"}),
    ("caregiver_present", "binary_sensor", "Caregiver present", _flag("value_json.caregiver_present"),
     {"device_class": "occupancy", "icon": "mdi:account-child"}),
    ("alert_level", "sensor", "Alert level", _label("alert_level", ALERT_OPTIONS),
     {"device_class": "enum", "options": list(ALERT_OPTIONS), "icon": "mdi:bell-alert-outline"}),
    ("distress", "binary_sensor", "Distress", _DISTRESS, {"device_class": "safety"}),
    ("snoozed", "binary_sensor", "Distress alerts snoozed", _SNOOZED, {"icon": "mdi:bell-sleep"}),
    ("demo_models", "binary_sensor", "Demo models (synthetic)", _flag("value_json.model.synthetic"),
     {"device_class": "problem", "entity_category": "diagnostic"}),
)
STATE_OBJECTS = tuple(e[0] for e in _STATE_ENTITIES)

# Diagnostics: available whenever the link is up (a stalled camera is exactly when they matter).
# (object, component, name, topic suffix, value template, extra fields)
_DIAGNOSTICS: tuple[tuple[str, str, str, str, str, dict[str, object]], ...] = (
    ("capture", "sensor", "Capture", "status", "{{ value_json.capture }}", {"icon": "mdi:cctv"}),
    ("storage", "sensor", "Storage", "status", "{{ value_json.storage }}", {"icon": "mdi:harddisk"}),
    ("sampled_fps", "sensor", "Sampled fps", "stats", "{{ value_json.fps.sampled }}",
     {"unit_of_measurement": "fps", "state_class": "measurement"}),
    ("latency_p95", "sensor", "Latency p95", "stats", "{{ value_json.latency_ms.total.p95 | default('None') }}",
     {"unit_of_measurement": "ms", "device_class": "duration", "state_class": "measurement"}),
    ("outbox_depth", "sensor", "Outbox depth", "stats", "{{ value_json.outbox_depth }}", {"state_class": "measurement"}),
    ("delegate", "sensor", "Delegate", "stats", "{{ value_json.delegate }}", {}),
    ("model_version", "sensor", "Model version", "state", "{{ value_json.model.version }}", {}),
)

# Buttons: (object, name, command suffix, payload)
_BUTTONS: tuple[tuple[str, str, str, str], ...] = (
    ("acknowledge", "Acknowledge current episode", "cmd/ack", '{"episode_id": "current"}'),
    ("snooze_15", "Snooze distress 15 min", "cmd/snooze", '{"minutes": 15, "type": "distress"}'),
)
_EVENT_TEMPLATE = ('{"event_type": "{{ value_json.event }}", "level": "{{ value_json.level }}", '
                   '"alert_type": "{{ value_json.type }}", "episode_id": "{{ value_json.episode_id }}"}')
_LINK = "{{ 'online' if value == 'online' else 'offline' }}"  # 'stopped' and 'offline' are both unavailable
_WATCHING = f"{{{{ 'online' if value_json.capture in {list(WATCHING)} else 'offline' }}}}"


def status_topic(cfg: MqttConfig) -> str:
    """The topic where Home Assistant announces it (re)started: ``<discovery_prefix>/status``."""
    return f"{cfg.homeassistant.discovery_prefix}/status"


def object_names() -> list[tuple[str, str]]:
    """(component, object) of every entity one camera announces."""
    return ([(c, o) for o, c, *_ in _STATE_ENTITIES] + [(c, o) for o, c, *_ in _DIAGNOSTICS]
            + [("button", o) for o, *_ in _BUTTONS] + [("event", "alert")])


def discovery_topic(cfg: MqttConfig, component: str, device_id: str, obj: str) -> str:
    """``<discovery_prefix>/<component>/<device_id>/<object>/config`` (Home Assistant's node_id form)."""
    return f"{cfg.homeassistant.discovery_prefix}/{component}/{device_id}/{obj}/config"


# The entities of earlier releases, published under the legacy topic form (cleared by purge).
LEGACY_ENTITIES = (("binary_sensor", "crying"), ("sensor", "pain_level"), ("binary_sensor", "face_visible"),
                   ("binary_sensor", "caregiver_present"), ("sensor", "alert_level"))


def legacy_discovery_topic(cfg: MqttConfig, component: str, device_id: str, obj: str) -> str:
    """The form earlier releases used, ``<discovery_prefix>/<component>/<device_id>_<object>/config`` (purged)."""
    return f"{cfg.homeassistant.discovery_prefix}/{component}/{device_id}_{obj}/config"


def discovery_messages(cfg: MqttConfig, device_id: str, sw_version: str = "unknown", *,
                       expire_after_s: float | None = None, stats_interval_s: float | None = None,
                       host: str | None = None, area: str | None = None) -> list[tuple[str, bytes]]:
    """(topic, payload) of every discovery config for one camera; publish retained, QoS 1.

    Args:
        expire_after_s: seconds after which Home Assistant marks a state entity unavailable without a
            new state (the state's ``valid_until`` horizon); None: never.
        stats_interval_s: the stats period; stats entities expire after three of them.
        host: the computer's name: each crib's device then points to one host device (``via_device``).
        area: the crib's room or bed (``cameras[].room``): the device's ``suggested_area``.
    """
    def topic(suffix: str) -> str:
        return device_topic(cfg.prefix, device_id, suffix)

    entity_id = device_id.replace("-", "_").lower()
    device: dict[str, object] = {
        "identifiers": [f"cribside_{device_id}"],
        "name": f"cribside {device_id}",
        "manufacturer": "cribside",
        "model": "infant cry and pain monitor (not a medical device)",
        "sw_version": sw_version,
    }
    if host:
        device["via_device"] = f"cribside_host_{host}"
    if area:
        device["suggested_area"] = area
    origin = {"name": "cribside", "sw_version": sw_version}
    link = {"topic": topic("availability"), "value_template": _LINK}
    watching = {"topic": topic("status"), "value_template": _WATCHING}

    def config(component: str, obj: str, name: str, **fields: object) -> tuple[str, bytes]:
        body = {"name": name, "unique_id": f"cribside_{device_id}_{obj}",
                "default_entity_id": f"{component}.cribside_{entity_id}_{obj}", "qos": 1,
                "device": device, "origin": origin, **fields}
        return discovery_topic(cfg, component, device_id, obj), json.dumps(body, separators=(",", ":")).encode("utf-8")

    messages = []
    for obj, component, name, template, extra in _STATE_ENTITIES:
        fields: dict[str, object] = {"state_topic": topic("state"), "value_template": template,
                                     "availability": [link, watching], "availability_mode": "all", **extra}
        if component == "binary_sensor":
            fields.update(payload_on="ON", payload_off="OFF")
        if expire_after_s:
            fields["expire_after"] = int(math.ceil(expire_after_s))
        messages.append(config(component, obj, name, **fields))
    for obj, component, name, suffix, template, extra in _DIAGNOSTICS:
        fields = {"state_topic": topic(suffix), "value_template": template, "availability": [link],
                  "entity_category": "diagnostic", **extra}
        if suffix == "stats" and stats_interval_s:
            fields["expire_after"] = int(math.ceil(3 * stats_interval_s))
        messages.append(config(component, obj, name, **fields))
    for obj, name, suffix, payload in _BUTTONS:
        messages.append(config("button", obj, name, command_topic=topic(suffix), payload_press=payload,
                               availability=[link], retain=False))
    messages.append(config("event", "alert", "Alert", state_topic=topic("alerts"), value_template=_EVENT_TEMPLATE,
                           event_types=["start", "update", "end"], availability=[link], icon="mdi:bell-ring"))
    return messages
