"""SYNTHETIC videos: a schedule rendered as an mp4 with a ground-truth CSV, and the bundled demo.

Between two labelled frames (3 per second) the expression and pose are interpolated, so a video
at 15 fps moves smoothly and a device sampling it at 3 fps sees the labelled frames again.

The ground-truth CSV next to ``NAME.mp4`` is ``NAME.labels.csv`` with one row per labelled frame::

    t_s,cry,pain,face        t_s: seconds from the start; cry 0|1; pain none|moderate|severe;
                             face 0 where the face is covered (the truth there is "unknown")
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.data.layout import PAIN_LABELS
from cribside.training.synth.face import FaceRenderer, random_identity
from cribside.training.synth.scene import Scene, random_scene, render_frame
from cribside.training.synth.schedule import Schedule, build_schedule, scripted_episodes

FOURCC = "mp4v"

# The README demo: (seconds, pain index, cry, face visible). Calm, moderate pain, severe pain
# with crying, severe pain quiet, the face covered by a blanket, crying without pain, calm.
DEMO_SCRIPT = [
    (10.0, 0, 0, True), (10.0, 1, 0, True), (12.0, 2, 1, True), (8.0, 2, 0, True),
    (10.0, 0, 0, False), (12.0, 0, 1, True), (10.0, 0, 0, True),
]
DEMO_SEED = 9
# 9 fps: three times the sampling rate, so a 3 fps sampler hits the labelled frames; OpenCV's mp4v
# encoder spends 2-5 KB a frame on these scenes, so 72 s stay under 2 MB (seed 9: ~1.4 MB).
DEMO_VIDEO_FPS = 9.0
DEMO_NOISE = 0.3  # of the usual sensor noise: a cleaner picture for the README


def labels_path(video_path: str | Path) -> Path:
    """``NAME.mp4`` -> ``NAME.labels.csv``."""
    path = Path(video_path)
    return path.with_name(path.stem + ".labels.csv")


def write_video(path: Path, renderer: FaceRenderer, scene: Scene, schedule: Schedule, fps: float,
                video_fps: float, rng: np.random.Generator) -> Path:
    """Render ``schedule`` at ``video_fps`` into an mp4 (mp4v) and write its labels CSV.

    Raises:
        CribsideError: OpenCV cannot open a writer for ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC), video_fps, scene.size)
    if not writer.isOpened():
        raise CribsideError(f"cannot write video {path} (OpenCV has no {FOURCC} encoder here)")
    n = len(schedule)
    total = int(math.floor((n - 1) / fps * video_fps)) + 1
    try:
        for k in range(total):
            position = k / video_fps * fps  # in labelled frames
            i = min(int(math.floor(position + 1e-9)), n - 1)
            j = min(i + 1, n - 1)
            w = position - i
            a, b = schedule.at(i), schedule.at(j)
            e = {name: (1 - w) * a[name] + w * b[name] for name in a}
            visible = bool(schedule.face[i] if w < 0.5 else schedule.face[j])
            frame, _ = render_frame(renderer, scene, e, visible, rng)
            writer.write(frame)
    finally:
        writer.release()
    lines = ["t_s,cry,pain,face"]
    lines += [f"{i / fps:.3f},{int(schedule.cry[i])},{PAIN_LABELS[int(schedule.pain[i])]},{int(schedule.face[i])}"
              for i in range(n)]
    labels_path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_demo_video(path: str | Path, seed: int = DEMO_SEED, size: tuple[int, int] = (320, 240),
                    fps: float = 3.0, video_fps: float = DEMO_VIDEO_FPS) -> Path:
    """Write the SYNTHETIC demo video (DEMO_SCRIPT, 72 s) and its labels CSV."""
    identity_rng = np.random.default_rng([seed, 0])
    rng = np.random.default_rng([seed, 1])
    identity = random_identity(identity_rng)
    scene = random_scene(rng, identity, size)
    scene = dataclasses.replace(scene, noise=scene.noise * DEMO_NOISE)
    cry, pain, face = scripted_episodes(DEMO_SCRIPT, fps)
    schedule = build_schedule(rng, cry, pain, fps, identity.expressiveness, face=face)
    return write_video(Path(path), FaceRenderer(identity), scene, schedule, fps, video_fps,
                       np.random.default_rng([seed, 2]))
