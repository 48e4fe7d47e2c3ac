"""The records that cross stages, and the stage Protocols the device loop is written against.

    Frame (source) -> AlignedFace (aligner) -> latent (encoder) -> Window -> Prediction (classifier)
      -> alerts -> Publisher (DeliveryHealth back for status and stats)

Every concrete stage (``sources``, ``face``, ``inference``, ``comms``) produces or
consumes these; :mod:`cribside.edge.app.loop` sees only the Protocols, and
:mod:`cribside.edge.app.build` is the one place that names concrete classes.
This module imports nothing of the project, so any stage can use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

# -- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One captured image.

    Attributes:
        image: BGR uint8 array (H, W, 3).
        t_s: seconds on the source's own clock: media time for files and folders
            (frame index / fps), ``time.monotonic()`` at capture for live cameras.
            Sampling, windows and alert timing all use this clock, so a file
            processed faster than real time behaves as if it were watched live.
        index: 0-based frame number since the source was opened.
        wall_ts: unix seconds at capture (stamped into published messages).
        captured_s: ``time.monotonic()`` at capture (for latency measurements).
    """

    image: np.ndarray
    t_s: float
    index: int
    wall_ts: float = field(default_factory=time.time)
    captured_s: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class AlignedFace:
    """One aligned face.

    Attributes:
        crop: (crop_size, crop_size) uint8 grayscale, eyes level, brows to chin.
        box: (x, y, w, h) of the face mesh's bounding box in input pixels.
        left_eye: (x, y) input pixels of the eye with the smaller x in the upright
            face (the subject's right eye).
        right_eye: (x, y) of the other eye.
        eye_angle_deg: atan2(right.y - left.y, right.x - left.x) in degrees, y down
            (positive = the face is turned clockwise on screen).
        landmarks: (468, 2) float32 mesh points in input pixels.
        score: face-presence probability from the landmark model.
        other_faces: other faces seen in the crib zone at the last check (a caregiver leaning in);
            never classified as the infant.
        yaw: how far the face is turned (edge/face/pose.py; 0 frontal, about 0.5 a 3/4 view).
        pose: ``frontal``, ``turned``, ``profile`` or ``unclear`` (edge/face/pose.py; the last two are not classified).
    """

    crop: np.ndarray
    box: tuple[float, float, float, float]
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    eye_angle_deg: float
    landmarks: np.ndarray
    score: float
    other_faces: int = 0
    yaw: float = 0.0
    pose: str = "frontal"

    def to_json(self) -> dict[str, Any]:
        """The JSON fields of ``cribside align`` for this face (pixels to 0.1 px)."""
        return {
            "face": True,
            "box": [round(float(v), 1) for v in self.box],
            "left_eye": [round(float(v), 1) for v in self.left_eye],
            "right_eye": [round(float(v), 1) for v in self.right_eye],
            "eye_angle_deg": round(float(self.eye_angle_deg), 2),
            "score": round(float(self.score), 3),
            "pose": self.pose,
            "yaw": round(float(self.yaw), 3),
        }


@dataclass(frozen=True)
class Window:
    """L consecutive latents, oldest first, ready for the classifier.

    Attributes:
        latents: float32 array (L, D).
        start_t_s: source time of the oldest frame.
        end_t_s: source time of the newest frame.
        frame_indices: source frame index of each latent, oldest first.
    """

    latents: np.ndarray
    start_t_s: float
    end_t_s: float
    frame_indices: tuple[int, ...]

    @property
    def span_s(self) -> float:
        """Time the window covers (3/fps for L=4, as in training)."""
        return self.end_t_s - self.start_t_s


@dataclass(frozen=True)
class Prediction:
    """Class probabilities of one window, label -> probability, in the manifest's label order."""

    cry: dict[str, float]
    pain: dict[str, float]

    @property
    def cry_label(self) -> str:
        """The most probable cry label."""
        return max(self.cry, key=self.cry.__getitem__)

    @property
    def pain_label(self) -> str:
        """The most probable pain label."""
        return max(self.pain, key=self.pain.__getitem__)


@dataclass(frozen=True)
class DeliveryHealth:
    """How delivery stands for one camera, as the loop reports it (status, stats, alerts).

    Attributes:
        outbox_depth: messages still waiting for the broker's acknowledgement.
        storage: ``ok``, ``low_space`` (under the outbox's free-space floor) or
            ``outbox_full`` (the outbox cannot be written: messages go out directly).
        storage_reason: why, in one line ("" when ok).
        outbox_recovered_from: where a damaged outbox was moved aside at start-up, or None.
        link: the broker link for stats (``connected``, ``last_error``, ``failures``), or None without MQTT.
    """

    outbox_depth: int = 0
    storage: str = "ok"
    storage_reason: str = ""
    outbox_recovered_from: str | None = None
    link: dict[str, Any] | None = None


CommandHandler = Callable[[str, str, dict[str, Any]], dict[str, Any]]
"""``handler(device_id, command, payload) -> {"ok": bool, "reason": str}``."""


# -- stage protocols -------------------------------------------------------------------------------


@runtime_checkable
class FrameSource(Protocol):
    """Something that yields frames: a camera, a stream, a video file, a folder.

    ``live`` sources (cameras, streams) can stall or drop out; the capture
    thread reconnects them with backoff. Non-live sources (files) end.
    """

    name: str
    live: bool

    @property
    def fps(self) -> float | None:
        """The nominal frame rate of a file or folder; None when unknown (live cameras)."""
        ...

    def frames(self) -> Iterator[Frame]:
        """Yield frames until the source ends or fails (then the iterator stops or raises)."""
        ...

    def close(self) -> None:
        """Release the device or file; safe to call twice."""
        ...


class Aligner(Protocol):
    """Frame in, the aligned face out, or None when no face is found (``cribside.edge.face.FaceAligner``)."""

    def align(self, bgr: np.ndarray) -> AlignedFace | None: ...


class Runtime(Protocol):
    """The converted models (``cribside.edge.inference.runtime.ModelRuntime``)."""

    delegate: str
    variant: str

    def encode(self, crop: np.ndarray) -> np.ndarray: ...

    def classify(self, window: np.ndarray) -> Prediction: ...


class Publisher(Protocol):
    """Where the device loop sends its messages (MQTT, or nowhere)."""

    def start(self) -> None: ...

    def publish(self, device_id: str, kind: str, payload: dict[str, Any], *, ts: float | None = None) -> str: ...

    def on_command(self, handler: CommandHandler) -> None: ...

    def health(self, device_id: str) -> DeliveryHealth: ...

    def problems(self) -> list[str]: ...

    def stop(self, timeout_s: float = 5.0) -> None: ...
