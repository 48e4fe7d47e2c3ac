"""Align every frame of a raw dataset into an aligned one (``cribside preprocess DATA OUT``).

Each video is aligned by one worker process with its own FaceAligner (tracking on within the
video, reset between videos). A video is written atomically: its crops go to a temporary folder
that is renamed into place, then its rows are committed to ``OUT/.preprocess/<subject>/<video>.csv``.
A second run skips every video whose committed rows match the input, so an interrupted run
resumes where it stopped. The result is a dataset root (layout: cribside.training.data.layout) with a
``face`` column (0 = no face found: no image, the frame breaks windows), ``dataset.json`` recording
the aligner settings and their fingerprint, and ``preprocess_report.csv``.

:func:`resolve_dataset` gives training and evaluation an aligned dataset whatever they were given:
a raw one is aligned first into ``DIR/aligned`` (``RUN/aligned`` for ``cribside train``).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from cribside.edge.errors import CribsideError
from cribside.training.data.dataset import load_dataset, write_labels, write_meta
from cribside.training.data.layout import PAIN_LABELS, Dataset, FrameLabel

if TYPE_CHECKING:  # the aligner loads LiteRT: imported only where it runs
    from cribside.edge.face import AlignerSettings, FaceAligner

log = logging.getLogger(__name__)
STATE_DIR = ".preprocess"
REPORT_FILE = "preprocess_report.csv"
PART_HEADER = "frame,cry,pain,face"
ALIGNED_DIR = "aligned"  # the folder resolve_dataset aligns a raw dataset into (RUN/aligned)


@dataclass(frozen=True)
class VideoReport:
    """Faces found in one video; ``skipped`` when a previous run had already done it."""

    subject: str
    video: str
    frames: int
    faces_found: int
    skipped: bool = False

    @property
    def detection_rate(self) -> float:
        return self.faces_found / self.frames if self.frames else 0.0


@dataclass(frozen=True)
class PreprocessReport:
    """The outcome of one ``preprocess`` call."""

    out: Path
    videos: tuple[VideoReport, ...]
    seconds: float
    aligner_fingerprint: str

    @property
    def frames(self) -> int:
        return sum(v.frames for v in self.videos)

    @property
    def faces_found(self) -> int:
        return sum(v.faces_found for v in self.videos)

    @property
    def detection_rate(self) -> float:
        return self.faces_found / self.frames if self.frames else 0.0

    def summary(self) -> str:
        """One line: frames, faces, rate, videos done and skipped, time."""
        skipped = sum(v.skipped for v in self.videos)
        return (f"aligned {self.faces_found}/{self.frames} frames with a face ({100 * self.detection_rate:.1f}%) "
                f"in {len(self.videos)} videos ({skipped} already done) in {self.seconds:.1f} s -> {self.out}")


@dataclass(frozen=True)
class _Job:
    out: Path
    subject: str
    video: str
    frames: tuple[FrameLabel, ...]
    settings: dict
    models_dir: str | None


def preprocess(data: str | Path, out: str | Path, workers: int | None = None, progress: bool = True,
               select: str = "largest", models_dir: str | Path | None = None) -> PreprocessReport:
    """Align a raw dataset into an aligned dataset root (parallel over videos, resumable).

    Args:
        data: raw dataset root.
        out: output dataset root (created).
        workers: processes, each with its own aligner (default: CPU count).
        progress: show a tqdm progress bar over frames.
        select: which face when several are seen ("largest", "center", "score").
        models_dir: folder of the face models (default: see ``cribside fetch-models``).

    Returns:
        A PreprocessReport (also written to ``OUT/preprocess_report.csv``).

    Raises:
        CribsideError: the input is not a valid raw dataset, OUT holds crops made with other
            aligner settings, a frame cannot be read, or the face models are missing.
    """
    from cribside.edge.face import AlignerSettings

    start = time.perf_counter()
    dataset = load_dataset(data)
    if dataset.kind != "raw":
        raise CribsideError(f"{dataset.root} is already an aligned dataset (64x64 crops): preprocess takes raw frames")
    settings = AlignerSettings(select=select)
    out = Path(out)
    _check_out(out, Path(data), settings.fingerprint())
    jobs, reports = [], {}
    for (subject, video), frames in dataset.videos().items():
        done = _committed(out, subject, video, frames)
        if done is not None:
            reports[(subject, video)] = VideoReport(subject, video, len(frames), done, skipped=True)
        else:
            jobs.append(_Job(out, subject, video, tuple(frames), settings.to_dict(),
                             None if models_dir is None else str(models_dir)))
    for result in _run(jobs, workers, progress, total=sum(len(j.frames) for j in jobs)):
        reports[(result.subject, result.video)] = result
    ordered = tuple(reports[key] for key in dataset.videos())
    _finish(out, dataset, settings, ordered)
    return PreprocessReport(out, ordered, time.perf_counter() - start, settings.fingerprint())


def resolve_dataset(data: Path, run_dir: Path, *, workers: int | None, progress: bool) -> tuple[Dataset, str]:
    """The aligned dataset to train on, aligning a raw one into ``RUN/aligned`` first (reused if done).

    Returns:
        ``(aligned dataset, "raw" | "aligned")``: the second item is the kind the user gave.
    """
    dataset = load_dataset(data)
    if dataset.kind == "aligned":
        return dataset, "aligned"
    aligned = run_dir / ALIGNED_DIR
    log.info("%s holds raw frames: aligning faces into %s (resumable)", data, aligned)
    preprocess(data, aligned, workers=workers, progress=progress)
    return load_dataset(aligned), "raw"


def _check_out(out: Path, data: Path, fingerprint: str) -> None:
    """Refuse to mix crops from different aligner settings or a different source in one OUT."""
    state = out / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    stamp = state / "aligner.json"
    mine = {"aligner_fingerprint": fingerprint, "source": str(data.resolve())}
    if stamp.is_file():
        theirs = json.loads(stamp.read_text(encoding="utf-8"))
        if theirs.get("aligner_fingerprint") != fingerprint:
            raise CribsideError(f"{out} holds crops made with other aligner settings: use an empty folder")
        if theirs.get("source") != mine["source"]:
            raise CribsideError(f"{out} holds crops of another dataset ({theirs.get('source')}): use an empty folder")
    else:
        stamp.write_text(json.dumps(mine, indent=2) + "\n", encoding="utf-8")


def _part_path(out: Path, subject: str, video: str) -> Path:
    return out / STATE_DIR / subject / f"{video}.csv"


def _part_lines(frames: list[FrameLabel] | tuple[FrameLabel, ...], faces: list[bool]) -> list[str]:
    return [f"{f.frame},{f.cry},{PAIN_LABELS[f.pain]},{int(face)}" for f, face in zip(frames, faces)]


def _committed(out: Path, subject: str, video: str, frames: list[FrameLabel]) -> int | None:
    """Faces found in a video a previous run completed for these very rows, else None."""
    part = _part_path(out, subject, video)
    if not part.is_file():
        return None
    lines = part.read_text(encoding="utf-8").splitlines()[1:]
    if [line.rsplit(",", 1)[0] for line in lines] != [line.rsplit(",", 1)[0] for line in
                                                       _part_lines(frames, [True] * len(frames))]:
        return None  # the labels changed since: redo the video
    return sum(line.endswith(",1") for line in lines)


def _run(jobs: list[_Job], workers: int | None, progress: bool, total: int) -> list[VideoReport]:
    from tqdm import tqdm

    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    results = []
    with tqdm(total=total, unit="frame", desc="aligning", disable=not progress or not jobs) as bar:
        if workers == 1:
            for job in jobs:
                results.append(_align_video(job))
                bar.update(len(job.frames))
        else:
            context = multiprocessing.get_context("spawn")  # LiteRT interpreters must not cross a fork
            with context.Pool(workers, initializer=_init_worker) as pool:
                for result in pool.imap_unordered(_align_video, jobs):
                    results.append(result)
                    bar.update(result.frames)
    return results


_ALIGNER: FaceAligner | None = None  # one per worker process, reused across its videos


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _aligner(settings: dict, models_dir: str | None) -> FaceAligner:
    """One aligner per process, created on first use and reused for every video."""
    global _ALIGNER
    from cribside.edge.face import AlignerSettings, FaceAligner

    wanted = AlignerSettings.from_dict(settings)
    if _ALIGNER is None or _ALIGNER.settings != wanted:
        _ALIGNER = FaceAligner(wanted, track=True, threads=1, models_dir=models_dir)
    _ALIGNER.reset()
    return _ALIGNER


def _align_video(job: _Job) -> VideoReport:
    """Align one video into a temporary folder, move it into place, then commit its rows."""
    aligner = _aligner(job.settings, job.models_dir)
    tmp = job.out / STATE_DIR / "tmp" / f"{job.subject}--{job.video}--{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    faces = []
    for label in job.frames:
        if not label.face:  # a raw dataset may already mark frames without a face
            faces.append(False)
            continue
        image = cv2.imread(str(label.path), cv2.IMREAD_COLOR)
        if image is None:
            raise CribsideError(f"cannot read frame image {label.path}")
        found = aligner.align(image)
        faces.append(found is not None)
        if found is not None:
            cv2.imwrite(str(tmp / f"{label.frame:06d}.png"), found.crop)
    target = job.out / job.subject / job.video
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    part = _part_path(job.out, job.subject, job.video)
    part.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join([PART_HEADER] + _part_lines(job.frames, faces)) + "\n"
    tmp_part = part.with_suffix(".tmp")
    tmp_part.write_text(text, encoding="utf-8")
    os.replace(tmp_part, part)  # the commit point: the video now counts as done
    return VideoReport(job.subject, job.video, len(job.frames), sum(faces))


def _finish(out: Path, dataset: Dataset, settings: AlignerSettings, reports: tuple[VideoReport, ...]) -> None:
    """labels.csv (with the face column) in input order, dataset.json and the report."""
    faces: dict[tuple[str, str, int], bool] = {}
    for r in reports:
        for line in _part_path(out, r.subject, r.video).read_text(encoding="utf-8").splitlines()[1:]:
            frame, _, _, face = line.split(",")
            faces[(r.subject, r.video, int(frame))] = face == "1"
    rows = [{"subject": f.subject, "video": f.video, "frame": f.frame, "cry": f.cry, "pain": f.pain,
             "face": faces[(f.subject, f.video, f.frame)]} for f in dataset.frames]
    write_labels(out, rows, with_face=True)
    write_meta(out, kind="aligned", fps=dataset.fps, synthetic=dataset.synthetic, aligner=settings.to_dict(),
               aligner_fingerprint=settings.fingerprint(), source=str(dataset.root.resolve()),
               notes="made by 'cribside preprocess'")
    lines = ["subject,video,frames,faces_found,detection_rate"]
    lines += [f"{r.subject},{r.video},{r.frames},{r.faces_found},{r.detection_rate:.4f}" for r in reports]
    (out / REPORT_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.rmtree(out / STATE_DIR / "tmp", ignore_errors=True)
