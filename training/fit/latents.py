"""Encode each frame once and cache the latents (``RUN/latents.npz``).

A window of 4 frames slides one frame at a time, so each frame sits in up to 4
windows; encoding per window would repeat three quarters of the work. Frames
are encoded once here, and windows are gathered from the cache by row index.

``latents.npz`` holds ``latents`` (N, latent) float32, one row per frame of the
:class:`FrameTable` saved beside it (zeros where no face was found), and the
table's six arrays (subject, video, frame, cry, pain, face), so a run can
rebuild its windows without the dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.data.windows import FrameTable

LATENTS_FILE = "latents.npz"
ENCODE_BATCH = 512


def faces_to_input(faces: np.ndarray) -> np.ndarray:
    """uint8 faces (N, 64, 64) -> float32 (N, 64, 64, 1) in [0, 1]: the models' input convention."""
    return (np.asarray(faces, dtype=np.float32) / 255.0)[..., None]


def encode_faces(encoder: Any, faces: np.ndarray, *, batch_size: int = ENCODE_BATCH, progress: bool = True) -> np.ndarray:
    """Run the encoder over uint8 faces in batches, with a progress bar.

    Returns:
        (N, latent) float32.
    """
    from tqdm import tqdm

    n = len(faces)
    out = np.zeros((n, int(encoder.output_shape[-1])), dtype=np.float32)
    for start in tqdm(range(0, n, batch_size), desc="encode frames", unit="batch", disable=not progress):
        batch = faces_to_input(faces[start : start + batch_size])
        out[start : start + len(batch)] = np.asarray(encoder(batch, training=False))
    return out


def latents_for_table(table: FrameTable, face_latents: np.ndarray) -> np.ndarray:
    """Spread the latents of the face frames (in table order) to one row per table frame, zeros elsewhere."""
    if face_latents.shape[0] != int(table.face.sum()):
        raise ValueError(f"{face_latents.shape[0]} latents for {int(table.face.sum())} face frames")
    out = np.zeros((len(table), face_latents.shape[1]), dtype=np.float32)
    out[table.face] = face_latents
    return out


def save_latents(path: str | Path, table: FrameTable, latents: np.ndarray) -> None:
    """Write the cache (compressed; latents of no-face frames are zeros)."""
    np.savez_compressed(Path(path), latents=latents.astype(np.float32), **table.arrays())


def load_latents(path: str | Path) -> tuple[FrameTable, np.ndarray]:
    """Read the cache written by :func:`save_latents`.

    Raises:
        CribsideError: the file is missing or lacks a field.
    """
    path = Path(path)
    if not path.is_file():
        raise CribsideError(f"latent cache not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        try:
            return FrameTable.from_arrays(data), np.asarray(data["latents"], dtype=np.float32)
        except KeyError as exc:
            raise CribsideError(f"{path} lacks {exc.args[0]!r}: not a cribside latent cache") from None
