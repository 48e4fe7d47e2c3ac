"""The on-disk layout of a dataset of labelled infant face frames: its names and records.

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

``load_dataset`` / ``validate_dataset`` (:mod:`cribside.training.data.dataset`, checked by
:mod:`cribside.training.data.check`) report missing images, unknown labels, bad cry/face values, unsorted or
duplicate frames, missing columns and empty datasets as one :class:`DatasetError` listing the first
problems with their labels.csv line numbers; images without a row are warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


def image_path(root: str | Path, subject: str, video: str, frame: int, ext: str = ".png") -> Path:
    """Where the image of one frame lives in a dataset root."""
    return Path(root) / subject / video / f"{int(frame):06d}{ext}"


def pain_index(pain: int | str) -> int:
    """Accept a pain label or its index; return the index into PAIN_LABELS."""
    return PAIN_LABELS.index(pain) if isinstance(pain, str) else int(pain)
