"""Home Assistant discovery templates, rendered the way Home Assistant renders them (Jinja2, ``value_json``).

For every situation in which cribside does not know (no face, a window still filling,
camera lost, a label this version does not know), no entity may read as calm.
"""

from __future__ import annotations

import json

import jinja2.sandbox
import numpy as np
import pytest

from cribside.edge.comms.homeassistant import KNOWN_STATES, STATE_OBJECTS, discovery_messages
from cribside.edge.config import MqttConfig
from cribside.edge.display.views import CameraView, state_payload
from cribside.edge.temporal.window import Window

MODEL = {"version": "t", "sha256": "0" * 64, "variant": "int8", "synthetic": True}
ENV = jinja2.sandbox.ImmutableSandboxedEnvironment()


def render(template: str, payload: dict) -> str:
    """Home Assistant's MQTT value template: the JSON payload as ``value_json``, rendered and stripped."""
    return ENV.from_string(template).render(value_json=json.loads(json.dumps(payload)), value=json.dumps(payload)).strip()


def all_entities(**options) -> dict[str, dict]:
    """object -> discovery config, from topics <prefix>/<component>/<device_id>/<object>/config."""
    cfg = MqttConfig(homeassistant={"enabled": True})
    return {topic.split("/")[3]: json.loads(p) for topic, p in discovery_messages(cfg, "crib-1", **options)}


def entities() -> dict[str, dict]:
    """The entities that read the state topic and show the infant's labels or the alert state."""
    return {name: cfg for name, cfg in all_entities().items() if name in STATE_OBJECTS}


class _Prediction:
    def __init__(self, cry: dict, pain: dict) -> None:
        self.cry, self.pain = cry, pain


def seeing(cry: str, pain: str, alert_level: str = "none") -> dict:
    cry_p = {"no": 0.9, "yes": 0.1} if cry == "no" else {"no": 0.1, "yes": 0.9}
    pain_p = {"none": 0.1, "moderate": 0.1, "severe": 0.1, pain: 0.7}
    window = Window(latents=np.zeros((4, 640), np.float32), start_t_s=0.0, end_t_s=1.0, frame_indices=(0, 1, 2, 3))
    view = CameraView(True, (0.0, 0.0, 10.0, 10.0), _Prediction(cry_p, pain_p), window, 100.0)
    return state_payload(view, alert_level, MODEL, valid_until=130.0)


# What the device loop publishes when it does not know: built by the loop's own payload function.
BLIND = {
    "no face in view": state_payload(CameraView(wall_ts=100.0), "none", MODEL, valid_until=130.0),
    "face, window still filling": state_payload(CameraView(True, (0.0, 0.0, 9.0, 9.0), None, None, 100.0), "none", MODEL),
    "camera lost (no_signal)": state_payload(CameraView(wall_ts=100.0), "no_signal", MODEL, no_signal=True),
    "camera lost during severe pain": state_payload(CameraView(wall_ts=100.0), "severe_pain", MODEL, no_signal=True),
}
CALM = {"crying": "OFF", "pain_level": "none"}


@pytest.mark.parametrize("situation", sorted(BLIND))
def test_no_entity_reads_calm_when_the_device_does_not_know(situation: str) -> None:
    payload = BLIND[situation]
    shown = {name: render(cfg["value_template"], payload) for name, cfg in entities().items()}
    for name, calm in CALM.items():
        assert shown[name] != calm, f"{situation}: {name} shows {shown[name]!r}"
    assert shown["crying"] == "None" and shown["pain_level"] == "None"  # Home Assistant: unknown
    if payload["no_signal"]:  # a lost camera is never "alert none", and never hides open severe pain
        assert shown["alert_level"] == ("severe_pain" if "severe" in situation else "no_signal")


def test_caregiver_present_shows_on_beside_the_infants_labels() -> None:
    payload = seeing("yes", "moderate", "moderate_pain")
    payload["caregiver_present"] = True
    shown = {name: render(cfg["value_template"], payload) for name, cfg in entities().items()}
    assert shown["caregiver_present"] == "ON" and shown["crying"] == "ON"
    assert entities()["caregiver_present"]["device_class"] == "occupancy"


def test_every_template_maps_an_unknown_label_to_none() -> None:
    payload = seeing("no", "none")
    payload["cry"]["label"] = payload["pain"]["label"] = payload["alert_level"] = "something-new"
    payload["face_visible"] = payload["caregiver_present"] = None
    payload["snoozed_until"] = "something-new"  # null is "not snoozed", a known state; a string is not
    payload["model"] = {**payload["model"], "synthetic": None}
    for name, cfg in entities().items():
        assert render(cfg["value_template"], payload) == "None", name


@pytest.mark.parametrize(("cry", "pain", "level"), [("no", "none", "none"), ("yes", "moderate", "moderate_pain"),
                                                    ("yes", "severe", "severe_pain")])
def test_known_labels_show_as_themselves(cry: str, pain: str, level: str) -> None:
    payload = seeing(cry, pain, level)
    shown = {name: render(cfg["value_template"], payload) for name, cfg in entities().items()}
    assert shown == {"crying": "ON" if cry == "yes" else "OFF", "pain_level": pain, "face_visible": "ON",
                     "caregiver_present": "OFF", "alert_level": level, "distress": "OFF" if level == "none" else "ON",
                     "snoozed": "OFF", "demo_models": "ON"}
    assert all(shown[name] in KNOWN_STATES[name] for name in shown)


def _availability(cfg: dict, topic_suffix: str, payload) -> str:
    item = next(a for a in cfg["availability"] if a["topic"].endswith("/" + topic_suffix))
    body = payload if isinstance(payload, str) else json.dumps(payload)
    value_json = None if isinstance(payload, str) else payload
    return ENV.from_string(item["value_template"]).render(value=body, value_json=value_json).strip()


@pytest.mark.parametrize(("capture", "available"), [("ok", True), ("no_face", True), ("starting", False),
                                                    ("stalled", False), ("no_signal", False), ("something-new", False)])
def test_state_entities_are_unavailable_unless_the_capture_is_watching(capture: str, available: bool) -> None:
    for name, cfg in entities().items():
        assert cfg["availability_mode"] == "all", name
        shown = _availability(cfg, "status", {"capture": capture, "reason": "x"})
        assert shown == ("online" if available else "offline"), (name, capture)


@pytest.mark.parametrize(("link", "available"), [("online", True), ("offline", False), ("stopped", False), ("", False)])
def test_a_clean_stop_and_a_crash_both_make_every_entity_unavailable(link: str, available: bool) -> None:
    for name, cfg in all_entities().items():
        assert _availability(cfg, "availability", link) == ("online" if available else "offline"), name


def test_discovery_fields_follow_home_assistants_current_schema() -> None:
    configs = all_entities(expire_after_s=30.0, stats_interval_s=30.0, host="ward-pi", area="NICU bed 4")
    assert all(c["device"]["suggested_area"] == "NICU bed 4" for c in configs.values())
    for name, cfg in configs.items():
        assert "object_id" not in cfg and cfg["default_entity_id"].endswith(f"cribside_crib_1_{name}"), name
        assert cfg["origin"]["name"] == "cribside" and cfg["device"]["via_device"] == "cribside_host_ward-pi"
    for name in STATE_OBJECTS:
        assert configs[name]["expire_after"] == 30, name  # the state's valid_until horizon
    assert configs["pain_level"]["device_class"] == "enum" and configs["pain_level"]["options"] == ["none", "moderate", "severe"]
    assert set(configs["alert_level"]["options"]) == set(KNOWN_STATES["alert_level"])
    assert configs["distress"]["device_class"] == "safety"
    assert configs["demo_models"]["device_class"] == "problem" and configs["demo_models"]["entity_category"] == "diagnostic"
    assert configs["capture"]["entity_category"] == "diagnostic" and len(configs["capture"]["availability"]) == 1
    assert configs["sampled_fps"]["expire_after"] == 90
    assert configs["alert"]["event_types"] == ["start", "update", "end"]


def test_buttons_send_commands_the_device_accepts() -> None:
    from cribside.edge.comms.commands import handle_command

    configs = all_entities()
    seen = []
    for name, command in (("acknowledge", "ack"), ("snooze_15", "snooze")):
        cfg = configs[name]
        assert cfg["command_topic"].endswith(f"/cmd/{command}")
        result = handle_command("crib-1", command, cfg["payload_press"].encode(),
                                lambda dev, cmd, payload: seen.append((cmd, payload)) or {"ok": True, "reason": "x"})
        assert result["ok"], result
    assert seen[0][1]["episode_id"] == "current" and seen[1][1]["minutes"] == 15


def test_the_event_entity_turns_an_alert_into_an_event() -> None:
    from support.payloads import alert_payload

    cfg = all_entities()["alert"]
    event = json.loads(render(cfg["value_template"], alert_payload(3, "update")))
    assert event["event_type"] == "update" and event["episode_id"].endswith("3")


def test_ack_current_acknowledges_the_open_episode() -> None:
    from cribside.edge.temporal.alerts import AlertMachine, AlertSettings, Reading

    machine = AlertMachine(AlertSettings(), id_prefix="crib-1-t")
    assert machine.acknowledge("current", 0.0, 0.0)[0] is False  # nothing open: refused, named
    severe = Reading.from_probabilities({"no": 0.1, "yes": 0.9}, {"none": 0.05, "moderate": 0.05, "severe": 0.9})
    events = machine.update(severe, 1.0, 1.0)
    assert events and events[0].event == "start"
    ok, reason, updates = machine.acknowledge("current", 2.0, 2.0)
    assert ok and events[0].episode_id in reason and updates[0].acknowledged is True
