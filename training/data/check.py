"""Validation of a dataset root against the layout documented in :mod:`cribside.training.data.layout`.

Collects every problem with its labels.csv line number (header = line 1) and raises one
DatasetError listing the first ones, so a user fixes a batch of mistakes per run, not one.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

import cv2

from cribside.training.data.layout import (
    CROP_SIZE,
    DEFAULT_FPS,
    IMAGE_EXTENSIONS,
    KINDS,
    LABELS_FILE,
    META_FILE,
    PAIN_LABELS,
    Dataset,
    DatasetError,
    FrameLabel,
)

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("subject", "video", "frame", "cry", "pain")
MAX_LISTED = 10  # problems named in the error message; the count says how many more


def check_dataset(root: Path) -> Dataset:
    """Validate ``root`` and return the Dataset (see :func:`cribside.training.data.dataset.load_dataset`)."""
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    labels_path = root / LABELS_FILE
    if not labels_path.is_file():
        inside = sorted(str(child) for child in root.iterdir() if (child / LABELS_FILE).is_file())
        hint = f"; these folders inside are datasets: {', '.join(inside)}" if inside else ""
        raise DatasetError(f"{labels_path} not found (a dataset root needs labels.csv){hint}")
    meta = _read_meta(root)
    listing = _list_images(root)
    frames, problems = _parse_labels(root, labels_path, listing)
    if not frames and not problems:
        problems.append(f"{LABELS_FILE}: no rows (empty dataset)")
    if problems:
        shown = "\n  ".join(problems[:MAX_LISTED])
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise DatasetError(f"{root} has {len(problems)} problem(s):\n  {shown}{more}")
    warnings = _unlabelled_images(frames, listing)
    for warning in warnings[:MAX_LISTED]:
        log.warning("%s", warning)
    kind = meta.get("kind") or _infer_kind(frames)
    return Dataset(
        root=root, kind=kind, fps=float(meta.get("fps") or DEFAULT_FPS),
        synthetic=bool(meta.get("synthetic", False)), aligner=meta.get("aligner"),
        frames=tuple(frames), warnings=tuple(warnings),
    )


def _read_meta(root: Path) -> dict:
    path = root / META_FILE
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: must hold a JSON object")
    if meta.get("kind") is not None and meta["kind"] not in KINDS:
        raise DatasetError(f"{path}: kind must be one of {', '.join(KINDS)}, not {meta['kind']!r}")
    fps = meta.get("fps")
    if fps is not None and (not isinstance(fps, (int, float)) or isinstance(fps, bool) or fps <= 0):
        raise DatasetError(f"{path}: fps must be a positive number, not {fps!r}")
    if meta.get("aligner") is not None and not isinstance(meta["aligner"], dict):
        raise DatasetError(f"{path}: aligner must be an object or null")
    return meta


def _list_images(root: Path) -> dict[tuple[str, str], set[str]]:
    """Image file names per (subject, video) folder; one directory listing per video."""
    listing: dict[tuple[str, str], set[str]] = {}
    for subject in sorted(os.listdir(root)):
        subject_dir = root / subject
        if subject.startswith(".") or not subject_dir.is_dir():
            continue
        for video in sorted(os.listdir(subject_dir)):
            video_dir = subject_dir / video
            if video.startswith(".") or not video_dir.is_dir():
                continue
            listing[(subject, video)] = {
                name for name in os.listdir(video_dir) if name.lower().endswith(IMAGE_EXTENSIONS)
            }
    return listing


def _parse_labels(root: Path, path: Path, listing: dict[tuple[str, str], set[str]]
                  ) -> tuple[list[FrameLabel], list[str]]:
    problems: list[str] = []
    frames: list[FrameLabel] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None
    if not rows:
        raise DatasetError(f"{path}: empty file (expected header: {','.join(REQUIRED_COLUMNS)})")
    header = [name.strip() for name in rows[0]]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise DatasetError(f"{path} line 1: missing column(s) {', '.join(missing)} "
                           f"(expected header: {','.join(REQUIRED_COLUMNS)}[,face])")
    col = {name: header.index(name) for name in header}
    last_frame: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str, int]] = set()
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line_no}: {len(row)} fields, header has {len(header)}")
            continue
        label, row_problems = _parse_row(root, row, col, listing)
        if row_problems:
            problems.extend(f"line {line_no}: {p}" for p in row_problems)
            continue
        key = (label.subject, label.video)
        if (label.subject, label.video, label.frame) in seen:
            problems.append(f"line {line_no}: duplicate row for {label.subject}/{label.video} frame {label.frame}")
            continue
        seen.add((label.subject, label.video, label.frame))
        if key in last_frame and label.frame < last_frame[key]:
            problems.append(f"line {line_no}: frame {label.frame} of {label.subject}/{label.video} comes after "
                            f"frame {last_frame[key]} (rows of a video must be in time order)")
            continue
        last_frame[key] = label.frame
        frames.append(label)
    return frames, problems


def _parse_row(root: Path, row: list[str], col: dict[str, int], listing: dict[tuple[str, str], set[str]]
               ) -> tuple[FrameLabel | None, list[str]]:
    problems: list[str] = []
    subject, video = row[col["subject"]].strip(), row[col["video"]].strip()
    for name, value in (("subject", subject), ("video", video)):
        if not value or value.startswith(".") or "/" in value or "\\" in value:
            problems.append(f"bad {name} name {value!r} (a folder name without '/' or a leading '.')")
    try:
        frame = int(row[col["frame"]])
        if frame < 0:
            raise ValueError
    except ValueError:
        problems.append(f"frame {row[col['frame']]!r} is not a non-negative integer")
        frame = -1
    cry_text = row[col["cry"]].strip()
    if cry_text not in ("0", "1"):
        problems.append(f"cry {cry_text!r} must be 0 or 1")
    pain_text = row[col["pain"]].strip()
    if pain_text not in PAIN_LABELS:
        problems.append(f"unknown pain label {pain_text!r} (expected {'|'.join(PAIN_LABELS)})")
    face = True
    if "face" in col:
        face_text = row[col["face"]].strip()
        if face_text not in ("0", "1"):
            problems.append(f"face {face_text!r} must be 1 or 0")
        face = face_text != "0"
    if problems:
        return None, problems
    path = _find_image(root, subject, video, frame, listing)
    if face and path is None:
        return None, [f"image missing: {subject}/{video}/{frame:06d}.png|.jpg|.jpeg"]
    if path is None:
        path = root / subject / video / f"{frame:06d}.png"
    return FrameLabel(subject, video, frame, int(cry_text), PAIN_LABELS.index(pain_text), face, path), []


def _find_image(root: Path, subject: str, video: str, frame: int,
                listing: dict[tuple[str, str], set[str]]) -> Path | None:
    names = listing.get((subject, video), set())
    for ext in IMAGE_EXTENSIONS:
        for name in (f"{frame:06d}{ext}", f"{frame:06d}{ext.upper()}"):
            if name in names:
                return root / subject / video / name
    return None


def _unlabelled_images(frames: list[FrameLabel], listing: dict[tuple[str, str], set[str]]) -> list[str]:
    labelled: dict[tuple[str, str], set[str]] = {}
    for label in frames:
        labelled.setdefault((label.subject, label.video), set()).add(label.path.name)
    warnings = []
    for (subject, video), names in listing.items():
        extra = sorted(names - labelled.get((subject, video), set()))
        if extra:
            warnings.append(f"{len(extra)} image(s) in {subject}/{video}/ have no row in {LABELS_FILE} "
                            f"(first: {extra[0]})")
    return warnings


def _infer_kind(frames: list[FrameLabel]) -> str:
    first = next((f for f in frames if f.face), None)
    if first is None:
        return "aligned"  # only faceless frames: nothing to align
    image = cv2.imread(str(first.path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f"{first.path}: not a readable image")
    return "aligned" if image.shape[:2] == (CROP_SIZE, CROP_SIZE) else "raw"
