"""Contract-shaped payloads (without envelope) for the MQTT tests, as the device loop would send them."""

from __future__ import annotations

import time


def state_payload(*, cry: str = "no", face_visible: bool = True) -> dict:
    if not face_visible:
        return {
            "face_visible": False,
            "caregiver_present": False,
            "pose": None,
            "cry": {"label": "unknown", "p": None},
            "pain": {"label": "unknown", "p": None},
            "alert_level": "none",
            "no_signal": False,
            "valid_until": time.time() + 30.0,
            "snoozed_until": None,
            "window": None,
            "model": {"version": "test", "sha256": "0" * 64, "variant": "float32", "synthetic": True},
        }
    p_yes = 0.9 if cry == "yes" else 0.1
    now = time.time()
    return {
        "face_visible": True,
        "caregiver_present": False,
        "pose": "frontal",
        "cry": {"label": cry, "p": {"no": 1 - p_yes, "yes": p_yes}},
        "pain": {"label": "none", "p": {"none": 0.8, "moderate": 0.15, "severe": 0.05}},
        "alert_level": "cry" if cry == "yes" else "none",
        "no_signal": False,
        "valid_until": now + 30.0,
        "snoozed_until": None,
        "window": {"start_ts": now - 1.0, "end_ts": now, "span_s": 1.0, "frames": 4},
        "model": {"version": "test", "sha256": "0" * 64, "variant": "float32", "synthetic": True},
    }


def alert_payload(i: int, event: str = "start") -> dict:
    """An alert whose episode_id carries ``i`` so tests can check order."""
    started = time.time() - 5
    return {
        "event": event,
        "episode_id": f"ep-{i:05d}",
        "type": "distress",
        "level": "cry",
        "peak": {"cry": 0.9, "moderate_pain": 0.1, "severe_pain": 0.0},
        "started_ts": started,
        "ended_ts": started + 5 if event == "end" else None,
        "duration_s": 5.0,
        "acknowledged": False,
        "snoozed_until": None,
    }


def status_payload(capture: str = "ok") -> dict:
    return {"capture": capture, "reason": "test", "since_ts": time.time()}


def stats_payload() -> dict:
    stages = ("capture", "align", "encode", "classify", "publish", "total")
    return {
        "frames": {"captured": 90, "sampled": 9, "dropped": 0},
        "latency_ms": {s: {"p50": 1.0, "p95": 2.0} for s in stages},
        "delegate": "cpu",
        "variant": "float32",
        "cpu_percent": 5.0,
        "rss_mb": 120.0,
        "outbox_depth": 0,
        "uptime_s": 30.0,
        "fps": {"captured": 30.0, "sampled": 3.0},
    }
