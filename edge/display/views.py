"""A camera's latest classification, and the three ways it is shown: state payload, results row, overlay.

"Unknown" is explicit everywhere: no face or no full window gives the label
``unknown`` with null probabilities, never "no" or "none".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cribside.edge.display.annotate import Overlay
from cribside.edge.types import Prediction, Window

UNKNOWN: dict[str, Any] = {"label": "unknown", "p": None}


@dataclass(frozen=True)
class CameraView:
    """What the loop knows after its latest sampled frame.

    Attributes:
        face_visible: a face was found in that frame.
        box_px: its box (x, y, w, h) in frame pixels.
        prediction: the classifier's output (``cry``/``pain`` label -> p maps), or None.
        window: the window that prediction came from.
        wall_ts: unix time of the frame's capture.
        caregiver_present: another face was in the crib zone (never classified as the infant).
        pose: the face's pose (``frontal``, ``turned``, ``profile``, ``unclear``), None without a face.
    """

    face_visible: bool = False
    box_px: tuple[float, float, float, float] | None = None
    prediction: Prediction | None = None
    window: Window | None = None
    wall_ts: float = 0.0
    caregiver_present: bool = False
    pose: str | None = None

    def head(self, name: str) -> dict[str, Any]:
        """``{"label", "p"}`` of the ``cry`` or ``pain`` head, or unknown."""
        if self.prediction is None:
            return dict(UNKNOWN)
        probabilities = dict(self.prediction.cry if name == "cry" else self.prediction.pain)
        return {"label": max(probabilities, key=probabilities.__getitem__), "p": probabilities}


def state_payload(
    view: CameraView, alert_level: str, model: dict[str, Any], *, no_signal: bool = False, valid_until: float | None = None,
    snoozed_until: float | None = None,
) -> dict[str, Any]:
    """The ``state`` payload fields of the MQTT contract.

    Args:
        no_signal: a no_signal episode is open (the camera is lost).
        valid_until: unix seconds after which a consumer must treat this state as
            "not watching" (the device would have re-published by then).
        snoozed_until: unix seconds the running distress snooze ends, None without one (retained
            with the state, so a nurse station that restarts learns the crib is snoozed).
    """
    window = view.window if view.prediction is not None else None
    return {
        "face_visible": view.face_visible,
        "caregiver_present": view.caregiver_present,
        "pose": view.pose if view.face_visible else None,
        "cry": view.head("cry"),
        "pain": view.head("pain"),
        "alert_level": alert_level,
        "no_signal": bool(no_signal),
        "valid_until": valid_until,
        "snoozed_until": snoozed_until,
        "window": None
        if window is None
        else {
            "start_ts": view.wall_ts - window.span_s,
            "end_ts": view.wall_ts,
            "span_s": round(window.span_s, 4),
            "frames": len(window.frame_indices),
        },
        "model": model,
    }


def result_row(view: CameraView, device_id: str, t_s: float, frame_index: int, alert_level: str) -> dict[str, Any]:
    """One ``--results`` line: a sampled frame and what the device made of it."""
    window = view.window if view.prediction is not None else None
    return {
        "device_id": device_id,
        "t_s": round(t_s, 4),
        "frame": frame_index,
        "face": view.face_visible,
        "caregiver_present": view.caregiver_present,
        "pose": view.pose if view.face_visible else None,
        "box": [round(v, 1) for v in view.box_px] if view.box_px else None,
        "cry": view.head("cry"),
        "pain": view.head("pain"),
        "alert_level": alert_level,
        "window_frames": list(window.frame_indices) if window is not None else None,
    }


def overlay(view: CameraView, alert_level: str, t_s: float, synthetic: bool) -> Overlay:
    """What ``--annotate`` draws on a frame."""

    def top(name: str) -> tuple[str, float | None]:
        head = view.head(name)
        return head["label"], (head["p"][head["label"]] if head["p"] else None)

    return Overlay(view.box_px, view.face_visible, top("cry"), top("pain"), alert_level, t_s, synthetic)


def state_key(payload: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a state new (published at once) rather than a heartbeat repeat."""
    return (payload["face_visible"], payload["caregiver_present"], payload["pose"], payload["cry"]["label"],
            payload["pain"]["label"], payload["alert_level"], payload["no_signal"], payload.get("snoozed_until"))
