"""``--annotate OUT.mp4``: the video with face box, labels, probabilities and alert state (the paper's Fig. 9)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cribside.edge.errors import CribsideError

_GREEN = (60, 200, 60)
_AMBER = (0, 170, 255)
_RED = (40, 40, 230)
_GREY = (170, 170, 170)
_WHITE = (255, 255, 255)
_LEVEL_COLOURS = {"none": _GREEN, "cry": _AMBER, "moderate_pain": _AMBER, "severe_pain": _RED, "no_signal": _RED}


@dataclass(frozen=True)
class Overlay:
    """What to draw on one frame (the latest known state of its camera).

    Attributes:
        box_px: face box (x, y, w, h) in frame pixels, or None.
        face_visible: False draws the "no face" mark.
        cry: (label, probability or None).
        pain: (label, probability or None).
        alert_level: the state's alert level.
        t_s: source time, printed in the corner.
        synthetic: the model was trained on synthetic faces (printed as a warning).
    """

    box_px: tuple[float, float, float, float] | None
    face_visible: bool
    cry: tuple[str, float | None]
    pain: tuple[str, float | None]
    alert_level: str
    t_s: float
    synthetic: bool = False


def draw(image: np.ndarray, overlay: Overlay) -> np.ndarray:
    """Return a copy of ``image`` with the overlay drawn on it."""
    out = image.copy()
    height, width = out.shape[:2]
    scale = max(0.35, width / 1280)
    thick = max(1, int(round(scale * 2)))
    colour = _LEVEL_COLOURS.get(overlay.alert_level, _GREY)
    if overlay.box_px is not None and overlay.face_visible:
        x, y, w, h = (int(round(v)) for v in overlay.box_px)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thick + 1)
    lines = [
        (_label("cry", *overlay.cry), _WHITE),
        (_label("pain", *overlay.pain), _WHITE),
        (f"alert: {overlay.alert_level}", colour),
        (f"t {overlay.t_s:7.2f} s", _GREY),
    ]
    if overlay.synthetic:
        lines.append(("SYNTHETIC-trained model: demo only", _AMBER))
    line_h = int(32 * scale) + 4
    text_w = max(cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] for text, _ in lines)
    cv2.rectangle(out, (0, 0), (min(width, text_w + 16), line_h * len(lines) + 8), (0, 0, 0), -1)
    for i, (text, text_colour) in enumerate(lines):
        cv2.putText(out, text, (8, line_h * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, scale, text_colour, thick, cv2.LINE_AA)
    if not overlay.face_visible:
        text = "NO FACE"
        size = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale * 2, thick * 2)[0]
        origin = ((width - size[0]) // 2, (height + size[1]) // 2)
        cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale * 2, _RED, thick * 2, cv2.LINE_AA)
    return np.asarray(out)


def _label(name: str, label: str, p: float | None) -> str:
    return f"{name}: {label}" + (f" {p:.2f}" if p is not None else "")


class Annotator:
    """Writes annotated frames to an mp4 (mp4v codec, readable by OpenCV and most players)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CribsideError(f"cannot write annotated video {self.path}: {exc.strerror}") from None

    def write(self, image: np.ndarray, overlay: Overlay) -> None:
        """Draw and append one frame (the first frame fixes the video size)."""
        if self._writer is None:
            height, width = image.shape[:2]
            writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (width, height))
            if not writer.isOpened():
                raise CribsideError(f"cannot write annotated video {self.path} (mp4v codec)")
            self._writer = writer
        self._writer.write(draw(image, overlay))
        self.frames += 1

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
