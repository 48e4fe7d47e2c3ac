"""Sample frames at the rate the model was trained for, whatever the camera's rate.

The classifier sees windows of L consecutive latents; in training those were
frames 1/fps apart (3 fps in the paper, so a window of 4 spans 1 s). Feeding it
frames at the camera's 30 fps would squeeze that second into 0.1 s, a motion
pattern it never saw. Frames between two due times are counted, not classified.
"""

from __future__ import annotations

# A frame that arrives this fraction of a period early still counts as due:
# media timestamps are index / fps in floating point, and 10 / 30 must match 1 / 3.
_EARLY_TOLERANCE = 1e-3


class Sampler:
    """Decide, frame by frame, which frames to keep.

    The first frame is kept; after a kept frame at time t the next due time is
    t_due + 1/fps, so over a long run the kept rate equals ``fps`` exactly (the
    jitter is at most one source frame). After a gap longer than one period
    (a dropped stretch, a stalled camera) the schedule restarts at the next frame
    instead of bursting to catch up.
    """

    def __init__(self, fps: float | None) -> None:
        """Args:
        fps: target rate in frames per second; None or 0 keeps every frame
            (``bench run``: every frame classified).
        """
        self.period_s = 1.0 / fps if fps else 0.0
        self._next_due_s: float | None = None
        self.seen = 0
        self.kept = 0

    def keep(self, t_s: float) -> bool:
        """True when the frame at source time ``t_s`` should be classified."""
        self.seen += 1
        if self.period_s <= 0:
            self.kept += 1
            return True
        due = self._next_due_s
        if due is not None and t_s < due - _EARLY_TOLERANCE * self.period_s:
            return False
        if due is None or t_s - due >= self.period_s:
            self._next_due_s = t_s + self.period_s  # start or restart the schedule
        else:
            self._next_due_s = due + self.period_s
        self.kept += 1
        return True

    def reset(self) -> None:
        """Forget the schedule (a reconnected camera starts a new timeline)."""
        self._next_due_s = None
