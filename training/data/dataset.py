"""Datasets of labelled infant face frames: the on-disk layout, loading and writing.

Layout of a dataset root (the same for real data, synthetic data and preprocessed data)::

    DATA/
      labels.csv      header: subject,video,frame,cry,pain[,face]
                        cry:  0 | 1            (0 = not crying, 1 = crying)
                        pain: none | moderate | severe
                        face: 1 | 0            (optional; preprocessed datasets: 0 = the aligner
                                                found no face, the frame has no image and breaks windows)
      dataset.json    optional: {"kind": "raw" | "aligned", "fps": 3, "synthetic": false,
                                 "aligner": {...} | null, "notes": "..."}
      <subject>/<video>/<frame:06d>.png | .jpg | .jpeg   one image per labelled frame

- ``frame`` is an integer index in time order (3 frames per second in the paper); within one
  video the rows must be strictly increasing. Rows of different videos may interleave.
- The image of a row is ``<subject>/<video>/`` + the frame index zero-padded to 6 digits + one of
  ``.png``, ``.jpg``, ``.jpeg``.
- kind ``raw``: camera frames, which need the face aligner (``cribside preprocess``);
  kind ``aligned``: 64x64 grayscale face crops, ready for training. Without ``dataset.json`` the kind
  is inferred from the first image (64x64 means aligned).
- ``aligner`` records the aligner settings that made an aligned dataset (null for crops drawn
  directly by ``cribside synth``); ``synthetic`` is true for data made by ``cribside synth``.

``validate_dataset`` reports missing images, unknown labels, bad cry/face values, unsorted or
duplicate frames, missing columns and empty datasets as one :class:`DatasetError` listing the first
problems with their labels.csv line numbers; images without a row are warnings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import cv2
import numpy as np

from cribside.edge.errors import CribsideError

CRY_LABELS = ("no", "yes")
PAIN_LABELS = ("none", "moderate", "severe")
KINDS = ("raw", "aligned")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
CROP_SIZE = 64  # pixels: the autoencoder's input, and how an aligned dataset is recognised
LABELS_FILE = "labels.csv"
META_FILE = "dataset.json"
DEFAULT_FPS = 3.0  # the paper sampled its videos at 3 frames per second


class DatasetError(CribsideError):
    """A dataset folder does not follow the documented layout."""


@dataclass(frozen=True)
class FrameLabel:
    """One labelled frame.

    ``cry`` is 0 (no) or 1 (yes); ``pain`` is an index into PAIN_LABELS; ``face`` is False when the
    aligner found no face (then ``path`` does not exist and the frame breaks windows).
    """

    subject: str
    video: str
    frame: int
    cry: int
    pain: int
    face: bool
    path: Path


@dataclass(frozen=True)
class Dataset:
    """A validated dataset root; ``frames`` keep labels.csv order (time-ordered within a video)."""

    root: Path
    kind: str
    fps: float
    synthetic: bool
    aligner: dict | None
    frames: tuple[FrameLabel, ...]
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def videos(self) -> dict[tuple[str, str], list[FrameLabel]]:
        """Frames grouped by (subject, video), each list in time order."""
        grouped: dict[tuple[str, str], list[FrameLabel]] = {}
        for label in self.frames:
            grouped.setdefault((label.subject, label.video), []).append(label)
        return grouped

    def subjects(self) -> list[str]:
        """Subject names in order of first appearance."""
        return list(dict.fromkeys(label.subject for label in self.frames))


def load_dataset(root: str | Path) -> Dataset:
    """Read and validate a dataset root.

    Raises:
        DatasetError: the folder, labels.csv, dataset.json or the images break the layout.
    """
    from cribside.training.dataset_check import check_dataset

    return check_dataset(Path(root))


def validate_dataset(root: str | Path) -> Dataset:
    """Same as :func:`load_dataset`; the name used by ``cribside validate-data``."""
    return load_dataset(root)


def read_faces(dataset: Dataset, frames: Sequence[FrameLabel] | None = None) -> np.ndarray:
    """Read aligned face crops as one array.

    Args:
        dataset: an aligned dataset.
        frames: the frames to read, in the order wanted; default every frame with a face.

    Returns:
        (N, 64, 64) uint8 grayscale crops in the order of ``frames``.

    Raises:
        DatasetError: the dataset is raw, a frame has no face, or an image is not a 64x64 crop.
    """
    if dataset.kind != "aligned":
        raise DatasetError(
            f"{dataset.root} holds raw frames, not 64x64 face crops: run 'cribside preprocess' first"
        )
    chosen = [f for f in dataset.frames if f.face] if frames is None else list(frames)
    faces = np.empty((len(chosen), CROP_SIZE, CROP_SIZE), dtype=np.uint8)
    for i, label in enumerate(chosen):
        if not label.face:
            raise DatasetError(f"{label.subject}/{label.video} frame {label.frame} has no face image")
        image = cv2.imread(str(label.path), cv2.IMREAD_GRAYSCALE)
        if image is None or image.shape != (CROP_SIZE, CROP_SIZE):
            raise DatasetError(f"{label.path} is not a readable {CROP_SIZE}x{CROP_SIZE} face crop")
        faces[i] = image
    return faces


def image_path(root: str | Path, subject: str, video: str, frame: int, ext: str = ".png") -> Path:
    """Where the image of one frame lives in a dataset root."""
    return Path(root) / subject / video / f"{int(frame):06d}{ext}"


def pain_index(pain: int | str) -> int:
    """Accept a pain label or its index; return the index into PAIN_LABELS."""
    return PAIN_LABELS.index(pain) if isinstance(pain, str) else int(pain)


def write_labels(root: str | Path, rows: Iterable[Mapping[str, Any] | FrameLabel], with_face: bool) -> None:
    """Write labels.csv atomically (rows: FrameLabel or mappings with the column names)."""
    lines = ["subject,video,frame,cry,pain" + (",face" if with_face else "")]
    for row in rows:
        r = row.__dict__ if isinstance(row, FrameLabel) else row
        line = f"{r['subject']},{r['video']},{int(r['frame'])},{int(r['cry'])},{PAIN_LABELS[pain_index(r['pain'])]}"
        if with_face:
            line += f",{int(bool(r.get('face', True)))}"
        lines.append(line)
    _write_text_atomic(Path(root) / LABELS_FILE, "\n".join(lines) + "\n")


def write_meta(root: str | Path, kind: str, fps: float = DEFAULT_FPS, synthetic: bool = False,
               aligner: dict | None = None, **extra: Any) -> None:
    """Write dataset.json atomically (sorted keys, so equal inputs give equal bytes)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    meta = {"kind": kind, "fps": fps, "synthetic": synthetic, "aligner": aligner, **extra}
    _write_text_atomic(Path(root) / META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")


def write_dataset(root: str | Path, rows: Sequence[Mapping[str, Any] | FrameLabel],
                  images: Sequence[np.ndarray | None] | None = None, *, kind: str,
                  ext: str = ".png", with_face: bool | None = None, **meta: Any) -> Path:
    """Write a dataset root: images (if given), labels.csv and dataset.json.

    Args:
        root: the dataset folder (created).
        rows: one per frame, with subject, video, frame, cry, pain (label or index), optional face.
        images: parallel to ``rows``: an image, or None for a frame without a face; None when the
            caller already wrote the images (with :func:`image_path`).
        kind: "raw" or "aligned".
        ext: image extension for written images.
        with_face: write the face column; default when any row has ``face`` False.
        **meta: the other dataset.json fields (fps, synthetic, aligner, notes, ...).

    Returns:
        The root path.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    faces = [bool((r.__dict__ if isinstance(r, FrameLabel) else r).get("face", True)) for r in rows]
    if images is not None:
        if len(images) != len(rows):
            raise ValueError("images must be parallel to rows")
        for row, image in zip(rows, images):
            if image is None:
                continue
            r = row.__dict__ if isinstance(row, FrameLabel) else row
            path = image_path(root, r["subject"], r["video"], r["frame"], ext)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), image):
                raise CribsideError(f"cannot write image {path}")
    write_labels(root, rows, with_face=(not all(faces)) if with_face is None else with_face)
    write_meta(root, kind=kind, **meta)
    return root


def _write_text_atomic(path: Path, text: str) -> None:
    # Write then rename: an interrupted run never leaves a half-written labels.csv behind.
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
