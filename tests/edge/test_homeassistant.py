"""Home Assistant discovery templates, rendered the way Home Assistant renders them (Jinja2, ``value_json``).

For every situation in which cribside does not know (no face, a window still filling,
camera lost, a label this version does not know), no entity may read as calm.
"""

from __future__ import annotations

import json

import jinja2.sandbox
import numpy as np
import pytest

from cribside.edge.comms.homeassistant import KNOWN_STATES, discovery_messages
from cribside.edge.config import MqttConfig
from cribside.edge.display.views import CameraView, state_payload
from cribside.edge.temporal.window import Window

MODEL = {"version": "t", "sha256": "0" * 64, "variant": "int8", "synthetic": True}
ENV = jinja2.sandbox.ImmutableSandboxedEnvironment()


def render(template: str, payload: dict) -> str:
    """Home Assistant's MQTT value template: the JSON payload as ``value_json``, rendered and stripped."""
    return ENV.from_string(template).render(value_json=json.loads(json.dumps(payload)), value=json.dumps(payload)).strip()


def entities() -> dict[str, dict]:
    cfg = MqttConfig(homeassistant={"enabled": True})
    return {topic.split("/")[2].split("_", 1)[1]: json.loads(p) for topic, p in discovery_messages(cfg, "crib-1")}


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
    for name, cfg in entities().items():
        assert render(cfg["value_template"], payload) == "None", name


@pytest.mark.parametrize(("cry", "pain", "level"), [("no", "none", "none"), ("yes", "moderate", "moderate_pain"),
                                                    ("yes", "severe", "severe_pain")])
def test_known_labels_show_as_themselves(cry: str, pain: str, level: str) -> None:
    payload = seeing(cry, pain, level)
    shown = {name: render(cfg["value_template"], payload) for name, cfg in entities().items()}
    assert shown == {"crying": "ON" if cry == "yes" else "OFF", "pain_level": pain, "face_visible": "ON",
                     "caregiver_present": "OFF", "alert_level": level}
    assert all(shown[name] in KNOWN_STATES[name] for name in shown)
