"""The whole device in tests: SYNTHETIC videos rendered by the project's generator, configs, camera stand-ins."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest
import yaml

from cribside.edge.comms.contract import load_schema
from cribside.edge.sources import Frame

VIDEO_FPS = 10.0
# (seconds, pain index 0 none / 2 severe, cry, face visible): calm, severe crying, face covered.
SCRIPT = [(3.0, 0, 0, True), (6.0, 2, 1, True), (3.0, 0, 0, False)]
RUN_TIMEOUT_S = 90.0  # a subprocess run of a 12 s video takes a few seconds; the CI machine is shared
CRIBSIDE = [sys.executable, "-m", "cribside"]


@pytest.fixture(scope="module")
def scripted_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 s SYNTHETIC video at 10 fps: calm, severe pain with crying, then the face covered."""
    from cribside.training.synth.face import FaceRenderer, random_identity
    from cribside.training.synth.scene import random_scene
    from cribside.training.synth.schedule import build_schedule, scripted_episodes
    from cribside.training.synth.video import write_video

    path = tmp_path_factory.mktemp("videos") / "scripted.mp4"
    identity = random_identity(np.random.default_rng([5, 0]))
    rng = np.random.default_rng([5, 1])
    scene = random_scene(rng, identity, (320, 240))
    cry, pain, face = scripted_episodes(SCRIPT, 3.0)
    schedule = build_schedule(rng, cry, pain, 3.0, identity.expressiveness, face=face)
    return write_video(path, FaceRenderer(identity), scene, schedule, 3.0, VIDEO_FPS, np.random.default_rng([5, 2]))


@pytest.fixture(scope="module")
def noise_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of coloured noise at 10 fps: there is no face anywhere."""
    path = tmp_path_factory.mktemp("videos") / "noise.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), VIDEO_FPS, (320, 240))
    rng = np.random.default_rng(3)
    for _ in range(40):
        writer.write(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


def write_config(tmp_path: Path, broker, models: Path, source: Path | str, **sections) -> Path:
    config = {
        "models": {"dir": str(models)},
        "mqtt": {"host": broker.host, "port": broker.port, "prefix": "test", "keepalive_s": 5,
                 "reconnect": {"min_delay_s": 0.1, "max_delay_s": 0.5}},
        "outbox": {"path": str(tmp_path / "outbox.sqlite"), "sync": "normal"},
        "alerts": {"quiet_s": 3.0, "update_interval_s": 2.0},
        "stats": {"interval_s": 2.0},
        "cameras": [{"device_id": "crib-1", "source": str(source)}],
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    path = tmp_path / "device.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cribside_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def validate_all(messages, kind: str) -> list[dict]:
    payloads = [m.json() for m in messages]
    for payload in payloads:
        jsonschema.validate(payload, load_schema(kind))
    return payloads


class StallingCamera:
    """A live camera that plays real video frames, then stops delivering (a hung driver)."""

    live = True
    name = "stalling"
    fps = None

    def __init__(self, video: Path, frames: int) -> None:
        self.video = video
        self.n = frames
        self.released = threading.Event()

    def frames(self) -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(self.video))
        for index in range(self.n):
            ok, image = capture.read()
            assert ok
            yield Frame(image, time.monotonic(), index)
            time.sleep(1 / VIDEO_FPS)
        capture.release()
        self.released.wait(60)  # no frames, no error: only the health monitor can tell

    def close(self) -> None:
        self.released.set()
