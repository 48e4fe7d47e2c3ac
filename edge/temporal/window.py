"""A ring of the last L latents: one encoder call per frame, one window per sampled frame."""

from __future__ import annotations

import numpy as np

from cribside.edge.types import Window

__all__ = ["LatentWindow", "Window"]


class LatentWindow:
    """Keeps the last ``length`` latents and hands out a window once full.

    The window is cleared when there is no face (a window must hold L faces in a
    row, as in training) and when two sampled frames are further apart than
    ``max_gap_s`` (frames dropped or a stalled camera: the window would no longer
    span the time the model was trained on).
    """

    def __init__(self, length: int, dim: int, *, max_gap_s: float | None = None) -> None:
        if length < 1 or dim < 1:
            raise ValueError(f"window length and dim must be positive, got {length}, {dim}")
        self.length = length
        self.max_gap_s = max_gap_s
        self._ring = np.zeros((length, dim), dtype=np.float32)
        self._t_s = [0.0] * length
        self._index = [0] * length
        self._count = 0  # latents pushed since the last clear
        self._head = 0  # slot the next latent goes into

    def __len__(self) -> int:
        return min(self._count, self.length)

    def clear(self) -> None:
        """Drop every latent (no face, gap, reconnect)."""
        self._count = 0
        self._head = 0

    def push(self, latent: np.ndarray, t_s: float, frame_index: int) -> Window | None:
        """Add the newest latent; return the full window, or None while filling.

        Raises:
            ValueError: latent of the wrong size.
        """
        if self._count and self.max_gap_s is not None:
            newest = self._t_s[(self._head - 1) % self.length]
            if t_s - newest > self.max_gap_s:
                self.clear()
        self._ring[self._head] = np.asarray(latent, dtype=np.float32).reshape(-1)
        self._t_s[self._head] = t_s
        self._index[self._head] = frame_index
        self._head = (self._head + 1) % self.length
        self._count += 1
        if self._count < self.length:
            return None
        order = [(self._head + i) % self.length for i in range(self.length)]
        return Window(
            latents=self._ring[order].copy(),
            start_t_s=self._t_s[order[0]],
            end_t_s=self._t_s[order[-1]],
            frame_indices=tuple(self._index[i] for i in order),
        )
