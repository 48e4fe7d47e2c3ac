"""Datasets of labelled infant face frames: loading (validated), reading the face crops, writing.

The layout, and the records a loaded dataset is made of, are in :mod:`cribside.training.data.layout`
(re-exported here); the validation is :mod:`cribside.training.data.check`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.data.check import check_dataset
from cribside.training.data.layout import (
    CROP_SIZE,
    CRY_LABELS,
    DEFAULT_FPS,
    IMAGE_EXTENSIONS,
    KINDS,
    LABELS_FILE,
    META_FILE,
    PAIN_LABELS,
    Dataset,
    DatasetError,
    FrameLabel,
    image_path,
    pain_index,
)

__all__ = [
    "CROP_SIZE", "CRY_LABELS", "DEFAULT_FPS", "IMAGE_EXTENSIONS", "KINDS", "LABELS_FILE", "META_FILE", "PAIN_LABELS",
    "Dataset", "DatasetError", "FrameLabel", "image_path", "pain_index",
    "load_dataset", "validate_dataset", "read_faces", "write_labels", "write_meta", "write_dataset",
]


def load_dataset(root: str | Path) -> Dataset:
    """Read and validate a dataset root.

    Raises:
        DatasetError: the folder, labels.csv, dataset.json or the images break the layout.
    """
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
