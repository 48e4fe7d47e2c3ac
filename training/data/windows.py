"""Sliding windows of consecutive frames, and their labels.

A window is ``seq_len`` consecutive frames of one video, slid one frame at a
time. It never crosses:
- a video boundary (different subject or video), nor
- a gap: a frame where no face was found (``face`` false), or a jump in the
  frame index larger than the video's usual step (a missing frame). The usual
  step is the median step of that video, so videos numbered 0,1,2... and
  videos numbered by source frame (0,10,20...) both work.

A window's label is its **last frame's** label (``label_rule="last"``): the
device labels the newest frame of each window, so training does the same.
``"majority"`` votes over the window instead; a tie goes to the tied class seen
most recently.

Pure numpy: frames are rows of a :class:`FrameTable`, grouped by video and in
time order (as :meth:`Dataset.videos` gives them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError

GAP_FACTOR = 1.5  # a step this many times the video's median step is a missing frame


@dataclass(frozen=True)
class FrameTable:
    """Per-frame labels as parallel arrays, grouped by video, time-ordered within a video."""

    subject: np.ndarray  # (N,) str
    video: np.ndarray  # (N,) str
    frame: np.ndarray  # (N,) int64
    cry: np.ndarray  # (N,) int64, index into CRY_LABELS
    pain: np.ndarray  # (N,) int64, index into PAIN_LABELS
    face: np.ndarray  # (N,) bool, a face (and so an image) exists for this frame

    @classmethod
    def from_frames(cls, frames: Iterable[Any]) -> FrameTable:
        """From FrameLabel-like records (``subject, video, frame, cry, pain, face``), in the given order."""
        rows = list(frames)
        return cls(
            subject=np.array([r.subject for r in rows], dtype=str),
            video=np.array([r.video for r in rows], dtype=str),
            frame=np.array([r.frame for r in rows], dtype=np.int64),
            cry=np.array([r.cry for r in rows], dtype=np.int64),
            pain=np.array([r.pain for r in rows], dtype=np.int64),
            face=np.array([bool(r.face) for r in rows], dtype=bool),
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FrameTable:
        """From a mapping holding the six field arrays (e.g. an opened ``latents.npz``)."""
        return cls(
            subject=np.asarray(arrays["subject"]).astype(str),
            video=np.asarray(arrays["video"]).astype(str),
            frame=np.asarray(arrays["frame"], dtype=np.int64),
            cry=np.asarray(arrays["cry"], dtype=np.int64),
            pain=np.asarray(arrays["pain"], dtype=np.int64),
            face=np.asarray(arrays["face"], dtype=bool),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The six field arrays, for saving."""
        return {
            "subject": self.subject, "video": self.video, "frame": self.frame,
            "cry": self.cry, "pain": self.pain, "face": self.face,
        }

    def __len__(self) -> int:
        return int(self.frame.shape[0])


@dataclass(frozen=True)
class Windows:
    """Windows as row indices into a FrameTable, with labels."""

    rows: np.ndarray  # (n, seq_len) int64
    cry: np.ndarray  # (n,) int64
    pain: np.ndarray  # (n,) int64
    subject: np.ndarray  # (n,) str
    ids: np.ndarray  # (n,) str "subject/video/last_frame", unique

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def select(self, mask: np.ndarray) -> Windows:
        """The windows where ``mask`` (bool array or index array) selects."""
        return Windows(self.rows[mask], self.cry[mask], self.pain[mask], self.subject[mask], self.ids[mask])


def segment_ids(table: FrameTable) -> np.ndarray:
    """A run id per frame: frames share an id iff a window may span them; -1 for no-face frames."""
    n = len(table)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new_video = np.ones(n, dtype=bool)
    new_video[1:] = (table.subject[1:] != table.subject[:-1]) | (table.video[1:] != table.video[:-1])
    video_id = np.cumsum(new_video) - 1
    step = np.zeros(n, dtype=np.int64)
    step[1:] = table.frame[1:] - table.frame[:-1]
    if np.any(step[~new_video] <= 0):
        bad = int(np.flatnonzero(~new_video & (step <= 0))[0])
        raise CribsideError(
            f"frames of {table.subject[bad]}/{table.video[bad]} are not in time order at frame {table.frame[bad]}"
        )
    gap = np.zeros(n, dtype=bool)
    for v in np.unique(video_id):
        idx = np.flatnonzero((video_id == v) & ~new_video)
        if idx.size:
            usual = float(np.median(step[idx]))
            gap[idx] = step[idx] > GAP_FACTOR * usual
    breaks = new_video | gap | ~table.face
    # A no-face frame also breaks the run after it.
    breaks[1:] |= ~table.face[:-1]
    segment = np.cumsum(breaks) - 1
    segment[~table.face] = -1
    return segment


def build_windows(table: FrameTable, seq_len: int, label_rule: str = "last") -> Windows:
    """All windows of ``seq_len`` consecutive frames (see module docstring).

    Raises:
        CribsideError: frames of a video out of time order, or an unknown label rule.
    """
    if label_rule not in ("last", "majority"):
        raise CribsideError(f"label rule must be 'last' or 'majority', got {label_rule!r}")
    segment = segment_ids(table)
    ends = []
    for s in np.unique(segment[segment >= 0]):
        idx = np.flatnonzero(segment == s)
        if idx.size >= seq_len:
            ends.append(idx[seq_len - 1 :])
    if not ends:
        empty = np.zeros((0, seq_len), dtype=np.int64)
        nothing = np.zeros(0, dtype=np.int64)
        return Windows(empty, nothing, nothing.copy(), np.zeros(0, dtype=str), np.zeros(0, dtype=str))
    last = np.concatenate(ends)
    rows = last[:, None] - np.arange(seq_len - 1, -1, -1)[None, :]
    if label_rule == "last":
        cry, pain = table.cry[last], table.pain[last]
    else:
        cry, pain = majority(table.cry[rows]), majority(table.pain[rows])
    ids = np.char.add(np.char.add(np.char.add(table.subject[last], "/"), np.char.add(table.video[last], "/")),
                      table.frame[last].astype(str))
    return Windows(rows.astype(np.int64), cry.astype(np.int64), pain.astype(np.int64), table.subject[last], ids)


def majority(labels: np.ndarray) -> np.ndarray:
    """Majority label per row of ``labels`` (n, L); ties go to the tied class seen last in the row."""
    n, length = labels.shape
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        values, counts = np.unique(labels[i], return_counts=True)
        tied = set(values[counts == counts.max()].tolist())
        out[i] = next(v for v in labels[i, ::-1] if v in tied)
    return out
