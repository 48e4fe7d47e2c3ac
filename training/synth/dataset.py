"""SYNTHETIC datasets for tests and demos: drawn infant faces with scheduled cry and pain labels.

Nothing here is real data, and accuracy measured on it is a synthetic figure, never a clinical
one. ``generate`` writes two dataset roots with the same labels (layout: cribside.training.data.layout):

- ``OUT/raw/``: camera frames (JPEG) with a drawn face: varied identity, size, position, light,
  in-plane tilt up to +-40 degrees, noise and blur; ``cribside preprocess`` aligns them.
- ``OUT/aligned/``: the 64x64 gray crops cut from the same frames with the known face geometry,
  framed like the real aligner's crops (``aligner: null``: no aligner made them).
- ``OUT/videos/`` (optional): one mp4 per video with a per-frame ground-truth CSV.

Every subject has ``videos_per_subject`` videos; each video is rendered by one worker process
from its own seed, so the output is byte-identical for the same arguments, whatever the number of
workers.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.data.dataset import write_labels, write_meta
from cribside.training.data.layout import PAIN_LABELS, image_path
from cribside.training.synth.face import FaceRenderer, random_identity
from cribside.training.synth.scene import random_scene, render_frame
from cribside.training.synth.schedule import build_schedule, random_episodes

SYNTHETIC_NOTICE = ("SYNTHETIC data drawn by 'cribside synth': cartoon faces with scheduled labels, for tests "
                    "and demos only. Not infants, not clinical data; accuracy on it is a synthetic figure.")
RAW_EXT = ".jpg"
JPEG_QUALITY = 90
VIDEOS_PER_SUBJECT = 2


@dataclass(frozen=True)
class SynthSummary:
    """What ``generate`` wrote: roots, counts per class, wall time."""

    out: Path
    raw: Path | None
    aligned: Path | None
    videos: Path | None
    subjects: int
    video_count: int
    frames: int
    cry_counts: dict[str, int]
    pain_counts: dict[str, int]
    seconds: float
    video_files: tuple[Path, ...] = field(default=())

    def describe(self) -> str:
        """Human-readable summary (one paragraph)."""
        def share(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v} ({100 * v / max(1, self.frames):.0f}%)" for k, v in counts.items())
        roots = [f"  {kind}: {root}" for kind, root in (("dataset of raw frames", self.raw),
                 ("dataset of aligned crops", self.aligned), ("videos", self.videos)) if root]
        train_on = self.raw or self.aligned
        hint = [f"  train with: cribside train {train_on} --out RUN"] if train_on else []
        return "\n".join([
            f"SYNTHETIC dataset in {self.out}: {self.subjects} subjects, {self.video_count} videos, "
            f"{self.frames} frames in {self.seconds:.1f} s",
            f"  cry: {share(self.cry_counts)}", f"  pain: {share(self.pain_counts)}", *roots, *hint,
        ])


@dataclass(frozen=True)
class _VideoJob:
    out: Path
    subject_index: int
    video_index: int
    frames: int
    seed: int
    fps: float
    size: tuple[int, int]
    raw: bool
    aligned: bool
    video: bool
    video_fps: float


def subject_name(index: int) -> str:
    return f"s{index + 1:02d}"


def video_name(index: int) -> str:
    return f"v{index + 1}"


def generate(out: str | Path, subjects: int, minutes: float, seed: int, fps: float = 3.0,
             size: tuple[int, int] = (320, 240), raw: bool = True, aligned: bool = True, video: bool = False,
             *, video_fps: float = 15.0, workers: int | None = None,
             videos_per_subject: int = VIDEOS_PER_SUBJECT) -> SynthSummary:
    """Write a SYNTHETIC dataset (see the module docstring).

    Args:
        out: output folder (created; an earlier synth output there is replaced).
        subjects: number of synthetic infants.
        minutes: recorded minutes per subject, split over ``videos_per_subject`` videos.
        seed: the same seed and arguments give byte-identical files.
        fps: labelled frames per second (3 in the paper).
        size: raw frame (width, height).
        raw, aligned: which dataset roots to write.
        video: also write mp4 videos with ground-truth CSVs in ``out/videos``.
        video_fps: frame rate of those videos (in-between frames are rendered).
        workers: processes (default: the CPU count).

    Returns:
        A SynthSummary with class counts.

    Raises:
        CribsideError: bad arguments.
    """
    if subjects < 1 or minutes <= 0 or fps <= 0 or videos_per_subject < 1:
        raise CribsideError("subjects, minutes and fps must be positive (--subjects, --minutes, --fps)")
    if size[0] < 64 or size[1] < 64:
        raise CribsideError(f"frame size {size[0]}x{size[1]} is too small (--size: at least 64x64)")
    if not (raw or aligned or video):
        raise CribsideError("nothing to write: neither raw, aligned nor video output asked for")
    start = time.perf_counter()
    out = Path(out)
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    n = max(4, int(round(minutes * 60 * fps / videos_per_subject)))
    jobs = [_VideoJob(out, s, v, n, seed, fps, tuple(size), raw, aligned, video, video_fps)
            for s in range(subjects) for v in range(videos_per_subject)]
    results = _run_jobs(jobs, workers)
    rows = [row for rows_, _ in results for row in rows_]
    meta = dict(fps=fps, synthetic=True, notice=SYNTHETIC_NOTICE, seed=seed, generator="cribside synth")
    roots = {}
    for kind, wanted in (("raw", raw), ("aligned", aligned)):
        if wanted:
            roots[kind] = out / kind
            write_labels(roots[kind], rows, with_face=False)
            write_meta(roots[kind], kind=kind, aligner=None, **meta)
    (out / "README.txt").write_text(SYNTHETIC_NOTICE + "\n", encoding="utf-8")
    cry_counts = {label: sum(1 for r in rows if r["cry"] == k) for k, label in enumerate(("no", "yes"))}
    pain_counts = {label: sum(1 for r in rows if r["pain"] == k) for k, label in enumerate(PAIN_LABELS)}
    return SynthSummary(out, roots.get("raw"), roots.get("aligned"), out / "videos" if video else None,
                        subjects, len(jobs), len(rows), cry_counts, pain_counts, time.perf_counter() - start,
                        tuple(p for _, paths in results for p in paths))


def _clear_previous(out: Path) -> None:
    """Remove an earlier synth output in OUT (stale frames would break the new labels); refuse
    to touch folders that synth did not write."""
    parts = [out / name for name in ("raw", "aligned", "videos") if (out / name).exists()]
    if not parts:
        return
    readme = out / "README.txt"
    if not (readme.is_file() and readme.read_text(encoding="utf-8").startswith(SYNTHETIC_NOTICE)):
        raise CribsideError(f"{parts[0]} exists and was not written by 'cribside synth': choose an empty folder")
    for part in parts:
        shutil.rmtree(part)


def _run_jobs(jobs: list[_VideoJob], workers: int | None) -> list[tuple[list[dict], list[Path]]]:
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        return [_render_video(job) for job in jobs]
    # Not a plain fork: a process that has used OpenCV's thread pool (aligning a face, say) leaves it
    # locked in a forked child, which then hangs in cv2.setNumThreads. A fork server starts clean and
    # keeps start-up cheap. Each job seeds its own generator, so order does not matter.
    context = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
    with context.Pool(workers) as pool:
        return pool.map(_render_video, jobs, chunksize=1)


def video_rng(seed: int, subject_index: int, video_index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Generators for one subject's identity and one video's schedule and scene."""
    return (np.random.default_rng([seed, subject_index, 0]),
            np.random.default_rng([seed, subject_index, video_index + 1]))


def _render_video(job: _VideoJob) -> tuple[list[dict], list[Path]]:
    """Render and write the frames of one video; return its label rows and video files."""
    cv2.setNumThreads(1)  # one process per video already uses the cores
    identity_rng, rng = video_rng(job.seed, job.subject_index, job.video_index)
    identity = random_identity(identity_rng)
    renderer = FaceRenderer(identity)
    scene = random_scene(rng, identity, job.size)
    cry, pain = random_episodes(rng, job.frames, job.fps)
    schedule = build_schedule(rng, cry, pain, job.fps, identity.expressiveness)
    subject, video = subject_name(job.subject_index), video_name(job.video_index)
    noise_rng = np.random.default_rng([job.seed, job.subject_index, job.video_index + 1, 1])
    rows = []
    for i in range(len(schedule)):
        frame, crop = render_frame(renderer, scene, schedule.at(i), True, noise_rng)
        if job.raw:
            _write(image_path(job.out / "raw", subject, video, i, RAW_EXT), frame)
        if job.aligned:
            _write(image_path(job.out / "aligned", subject, video, i, ".png"), crop)
        rows.append({"subject": subject, "video": video, "frame": i, "cry": int(cry[i]), "pain": int(pain[i])})
    files = []
    if job.video:
        from cribside.training.synth.video import write_video

        path = job.out / "videos" / f"{subject}_{video}.mp4"
        write_video(path, renderer, scene, schedule, job.fps, job.video_fps, noise_rng)
        files.append(path)
    return rows, files


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), image, params):
        raise CribsideError(f"cannot write {path}")

