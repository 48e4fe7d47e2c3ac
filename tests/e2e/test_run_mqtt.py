"""``cribside run`` end to end: real videos, the real aligner, real converted models, a real broker.

The models are ``converted_models_aligned`` (trained by the project's own pipeline on
SYNTHETIC faces made by the real aligner); the videos are SYNTHETIC, rendered here by the
project's own generator, or noise (no face at all).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading

import cv2
import jsonschema
import pytest
import yaml
from support.device import CRIBSIDE, RUN_TIMEOUT_S, VIDEO_FPS, StallingCamera, cribside_env, validate_all, write_config

from cribside.edge.comms.contract import load_schema

pytestmark = pytest.mark.slow

def test_real_video_end_to_end(tmp_path, mosquitto, subscriber, converted_models_aligned, scripted_video) -> None:
    sub = subscriber(mosquitto, ("test/#",))
    config = write_config(tmp_path, mosquitto, converted_models_aligned, scripted_video)
    results = tmp_path / "results.jsonl"
    done = subprocess.run(
        [*CRIBSIDE, "run", "--config", str(config), "--results", str(results), "--annotate", str(tmp_path / "a.mp4")],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=cribside_env(),
    )
    assert done.returncode == 0, done.stderr[-2000:]

    availability = [m.payload.decode() for m in sub.wait_for("test/crib-1/availability", 2)]
    assert availability[0] == "online" and availability[-1] == "stopped"  # a clean stop, not the will
    states = validate_all(sub.wait_for("test/crib-1/state"), "state")
    assert any(s["cry"]["label"] != "unknown" for s in states)  # windows were classified
    assert states[-1]["face_visible"] is False  # the video ends with the face covered
    assert states[-1]["cry"]["label"] == "unknown" and states[-1]["pain"]["label"] == "unknown"
    assert states[0]["model"]["synthetic"] is True
    alerts = validate_all(sub.wait_for("test/crib-1/alerts"), "alert")
    assert alerts[0]["event"] == "start" and alerts[0]["type"] == "distress"
    stats = validate_all(sub.wait_for("test/crib-1/stats"), "stats")
    video_frames = int(cv2.VideoCapture(str(scripted_video)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert stats[-1]["frames"]["captured"] == video_frames and stats[-1]["frames"]["dropped"] == 0
    validate_all(sub.wait_for("test/crib-1/status"), "status")

    # A consumer that connects later gets the retained state, status and availability.
    late = subscriber(mosquitto, ("test/crib-1/+",))
    retained = {m.topic: m for m in late.wait_for("test/crib-1/state") + late.wait_for("test/crib-1/availability")}
    assert retained["test/crib-1/state"].retain and retained["test/crib-1/state"].json()["msg_id"] == states[-1]["msg_id"]
    assert retained["test/crib-1/availability"].payload == b"stopped"

    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == pytest.approx(video_frames / VIDEO_FPS * 3, abs=1)  # sampled at the manifest's 3 fps
    assert "ALERT START" in done.stdout


def test_no_face_video_is_unknown_not_calm(tmp_path, mosquitto, subscriber, converted_models_aligned, noise_video) -> None:
    sub = subscriber(mosquitto, ("test/#",))
    config = write_config(tmp_path, mosquitto, converted_models_aligned, noise_video)
    done = subprocess.run([*CRIBSIDE, "run", "--config", str(config)], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=cribside_env())
    assert done.returncode == 0, done.stderr[-2000:]
    sub.wait_for("test/crib-1/availability", 2)
    states = validate_all(sub.on("test/crib-1/state"), "state")
    assert states and all(s["face_visible"] is False for s in states)
    assert all(s["cry"]["label"] == "unknown" and s["pain"]["label"] == "unknown" for s in states)
    assert all(s["alert_level"] == "none" for s in states)
    statuses = validate_all(sub.on("test/crib-1/status"), "status")
    assert statuses[-1]["capture"] == "no_face"
    assert sub.on("test/crib-1/alerts") == []


def test_stalled_camera_raises_no_signal_and_commands_answer(tmp_path, mosquitto, subscriber, converted_models_aligned,
                                                             scripted_video) -> None:
    from cribside.edge.app.build import Outputs, build_device
    from cribside.edge.app.runner import run_device
    from cribside.edge.config import load_config

    sub = subscriber(mosquitto, ("test/#",))
    config = load_config(write_config(tmp_path, mosquitto, converted_models_aligned, "v4l2:0",
                                      health={"stall_after_s": 0.5, "no_signal_after_s": 1.5, "frozen_frames": 30}))
    camera = StallingCamera(scripted_video, frames=20)
    device = build_device(config, list(config.cameras), converted_models_aligned, Outputs(console=False),
                          sources={"crib-1": camera})
    stop = threading.Event()
    with device.closers:
        runner = threading.Thread(target=run_device, args=(device,), kwargs={"stop": stop})
        runner.start()
        try:
            statuses = sub.wait_for("test/crib-1/status", where=lambda m: m.json()["capture"] == "no_signal")
            alert = sub.wait_for("test/crib-1/alerts", where=lambda m: m.json()["type"] == "no_signal")[0].json()
            jsonschema.validate(alert, load_schema("alert"))
            assert alert["event"] == "start" and alert["level"] == "no_signal"
            captures = [m.json()["capture"] for m in sub.on("test/crib-1/status")]
            assert captures.index("stalled") < captures.index("no_signal")
            assert statuses[-1].json()["reason"].startswith("no frame for")
            lost = sub.wait_for("test/crib-1/state", where=lambda m: m.json()["alert_level"] == "no_signal")[-1].json()
            assert lost["face_visible"] is False and lost["cry"]["label"] == "unknown"

            # A malformed command is rejected with a reason, and the loop carries on.
            sub.client.publish("test/crib-1/cmd/snooze", json.dumps({"minutes": "ten", "request_id": "bad"}), qos=1)
            rejected = sub.wait_for("test/crib-1/cmd/result", where=lambda m: m.json().get("request_id") == "bad")
            assert rejected[0].json()["ok"] is False and rejected[0].json()["reason"]

            # A nurse station acknowledges the no_signal episode over MQTT; the loop answers.
            sub.client.publish("test/crib-1/cmd/ack", json.dumps({"episode_id": alert["episode_id"],
                                                                   "request_id": "r1"}), qos=1)
            result = sub.wait_for("test/crib-1/cmd/result", where=lambda m: m.json().get("request_id") == "r1")[0].json()
            assert result["ok"] is True and result["command"] == "ack"
            acked = sub.wait_for("test/crib-1/alerts", where=lambda m: m.json()["acknowledged"])[0].json()
            assert acked["episode_id"] == alert["episode_id"]
        finally:
            stop.set()
            runner.join(30)
    assert not runner.is_alive()
    assert sub.wait_for("test/crib-1/availability", 2)[-1].payload == b"stopped"


def test_sigterm_publishes_offline_and_exits_zero(tmp_path, mosquitto, subscriber, converted_models_aligned,
                                                  scripted_video) -> None:
    sub = subscriber(mosquitto, ("test/#",))
    config = write_config(tmp_path, mosquitto, converted_models_aligned, scripted_video)
    # Stand in for systemd: a datagram socket in NOTIFY_SOCKET, a 0.4 s watchdog.
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(RUN_TIMEOUT_S)
    env = {**cribside_env(), "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen([*CRIBSIDE, "run", "--config", str(config), "--realtime"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    notes = []
    try:
        notes.append(notify.recv(4096).decode())
        assert notes[0].startswith("READY=1")
        notes.append(notify.recv(4096).decode())
        assert notes[1] == "WATCHDOG=1"
        sub.wait_for("test/crib-1/state", timeout_s=RUN_TIMEOUT_S)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    notify.settimeout(1.0)
    while True:
        try:
            notes.append(notify.recv(4096).decode())
        except TimeoutError:
            break
    notify.close()
    assert notes[-1] == "STOPPING=1"
    assert proc.returncode == 0, err[-2000:]
    assert "SIGTERM received" in err
    availability = [m.payload for m in sub.wait_for("test/crib-1/availability", 2)]
    assert availability[-1] == b"stopped"
    frames = validate_all(sub.wait_for("test/crib-1/stats"), "stats")[-1]["frames"]["captured"]
    assert frames < 12 * VIDEO_FPS  # stopped early: the realtime video had not finished


def test_unreadable_video_is_a_clear_error(tmp_path, converted_models_aligned) -> None:
    bogus = tmp_path / "broken.mp4"
    bogus.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 200)
    done = subprocess.run([*CRIBSIDE, "run", "--models", str(converted_models_aligned), "--source", str(bogus)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=cribside_env())
    assert done.returncode == 2
    assert f"cribside run: error: cannot read video {bogus}" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_models_is_a_clear_error(tmp_path, scripted_video) -> None:
    done = subprocess.run([*CRIBSIDE, "run", "--models", str(tmp_path / "nothing"), "--source", str(scripted_video)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=cribside_env())
    assert done.returncode == 2 and "manifest.json missing" in done.stderr


def test_two_cameras_in_one_process(tmp_path, mosquitto, subscriber, converted_models_aligned, scripted_video,
                                    noise_video) -> None:
    sub = subscriber(mosquitto, ("test/#",))
    config = write_config(tmp_path, mosquitto, converted_models_aligned, scripted_video)
    data = yaml.safe_load(config.read_text())
    data["cameras"].append({"device_id": "crib-2", "source": str(noise_video)})
    config.write_text(yaml.safe_dump(data))
    done = subprocess.run([*CRIBSIDE, "run", "--config", str(config)], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=cribside_env())
    assert done.returncode == 0, done.stderr[-2000:]
    for device_id in ("crib-1", "crib-2"):
        availability = [m.payload for m in sub.wait_for(f"test/{device_id}/availability", 2)]
        assert availability[0] == b"online" and availability[-1] == b"stopped"
    # each camera has its own window, state and alerts: the face is only in crib-1's video
    crib1 = validate_all(sub.on("test/crib-1/state"), "state")
    crib2 = validate_all(sub.on("test/crib-2/state"), "state")
    assert any(s["face_visible"] for s in crib1)
    assert crib2 and not any(s["face_visible"] for s in crib2)
    assert {s["device_id"] for s in crib1} == {"crib-1"} and {s["device_id"] for s in crib2} == {"crib-2"}
    assert sub.on("test/crib-2/alerts") == []


def test_bad_config_and_damaged_models_are_clear_errors(tmp_path, converted_models_aligned, scripted_video) -> None:
    from support.models import copy_models

    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"models": {"dir": str(converted_models_aligned), "treads": 2},
                                      "cameras": [{"device_id": "crib-1", "source": str(scripted_video)}]}))
    done = subprocess.run([*CRIBSIDE, "run", "--config", str(config)], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=cribside_env())
    assert done.returncode == 2 and "models.treads" in done.stderr and "Traceback" not in done.stderr

    models = copy_models(converted_models_aligned, tmp_path)
    victim = sorted(models.glob("encoder*.tflite"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    manifest = json.loads((models / "manifest.json").read_text())
    variant = next(name for name, v in manifest["variants"].items() if v["encoder"]["file"] == victim.name)
    done = subprocess.run([*CRIBSIDE, "run", "--models", str(models), "--source", str(scripted_video)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          env={**cribside_env(), "CRIBSIDE__MODELS__VARIANT": variant})
    assert done.returncode == 2 and victim.name in done.stderr and "Traceback" not in done.stderr
