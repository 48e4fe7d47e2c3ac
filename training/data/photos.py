"""Still photos of expressions -> short pseudo-videos in the dataset layout (a real-face yardstick).

A folder of ``<expression>/<person>.jpg`` photos (one expression per folder, the same file name
for the same person) becomes a raw dataset (training/data/layout.py): one subject per person, one
video per expression, ``frames`` frames each. Every frame is the photo under a small random head
motion (shift, rotation, scale), a lighting change (gain and gamma) and sensor noise, so a window
of frames looks like a few seconds of a still face on a camera, and no two frames are identical.

The positive expression is labelled ``cry=1``, every other expression ``cry=0``, pain ``none``:
the cry head learns "this expression", which is how ``cribside bench real-faces`` measures whether a
feature carries an expression across people it has never seen. These are not infants and not
clinical labels; the dataset's ``dataset.json`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.data.dataset import write_labels, write_meta
from cribside.training.data.layout import IMAGE_EXTENSIONS, image_path

FRAMES = 8
MAX_SHIFT = 0.02  # of the image side
MAX_ROTATION = 4.0  # degrees
MAX_SCALE = 0.04  # relative
GAIN = (0.8, 1.2)
GAMMA = (0.85, 1.15)
NOISE_STD = 3.0  # grey levels


@dataclass(frozen=True)
class PhotoSet:
    """The photos found: expression -> person -> path, and which expression is positive."""

    root: Path
    photos: dict[str, dict[str, Path]]
    positive: str

    @property
    def people(self) -> list[str]:
        """People with a photo of every expression, sorted."""
        sets = [set(by_person) for by_person in self.photos.values()]
        return sorted(set.intersection(*sets)) if sets else []


def find_photos(root: str | Path, positive: str | None = None) -> PhotoSet:
    """Read the ``<expression>/<person>.<ext>`` folder.

    Args:
        positive: the expression labelled 1; default: the only one not named ``neutral``.

    Raises:
        CribsideError: not a folder, fewer than two expression folders, an unknown or ambiguous
            positive expression, or fewer than two people with every expression.
    """
    root = Path(root)
    if not root.is_dir():
        raise CribsideError(f"{root}: not a folder of <expression>/<person>.jpg photos")
    photos: dict[str, dict[str, Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        found = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}
        if found:
            photos[folder.name] = found
    if len(photos) < 2:
        raise CribsideError(f"{root}: needs at least two expression folders with photos, found {sorted(photos) or 'none'}")
    if positive is None:
        others = [name for name in photos if name.lower() != "neutral"]
        if len(others) != 1:
            raise CribsideError(f"{root}: say which expression is positive (--positive), one of {', '.join(photos)}")
        positive = others[0]
    if positive not in photos:
        raise CribsideError(f"{root}: no expression folder {positive!r} (found {', '.join(photos)})")
    found = PhotoSet(root, photos, positive)
    if len(found.people) < 2:
        raise CribsideError(f"{root}: fewer than two people have a photo of every expression")
    return found


def pseudo_frames(image: np.ndarray, frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``frames`` copies of a BGR photo, each under its own small motion, light change and noise."""
    h, w = image.shape[:2]
    out = []
    for _ in range(frames):
        angle = rng.uniform(-MAX_ROTATION, MAX_ROTATION)
        scale = 1.0 + rng.uniform(-MAX_SCALE, MAX_SCALE)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        m[:, 2] += rng.uniform(-MAX_SHIFT, MAX_SHIFT, 2) * (w, h)
        moved = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        x = moved.astype(np.float32) / 255.0
        x = np.clip(x * rng.uniform(*GAIN), 0.0, 1.0) ** rng.uniform(*GAMMA)
        x = x * 255.0 + rng.normal(0.0, NOISE_STD, x.shape)
        out.append(np.clip(x, 0, 255).astype(np.uint8))
    return out


def photos_to_dataset(src: str | Path, out: str | Path, *, positive: str | None = None, frames: int = FRAMES,
                      fps: float = 3.0, seed: int = 0) -> PhotoSet:
    """Write the pseudo-video raw dataset of a photo folder to OUT (deterministic for a seed).

    Raises:
        CribsideError: see :func:`find_photos`; an unreadable photo (named).
    """
    if frames < 1:
        raise CribsideError(f"frames must be >= 1, got {frames}")
    photoset = find_photos(src, positive)
    out = Path(out)
    rows = []
    for n, person in enumerate(photoset.people):
        for k, (expression, by_person) in enumerate(sorted(photoset.photos.items())):
            image = cv2.imread(str(by_person[person]), cv2.IMREAD_COLOR)
            if image is None:
                raise CribsideError(f"{by_person[person]}: not a readable image")
            rng = np.random.default_rng([seed, n, k])
            label = int(expression == photoset.positive)
            for i, frame in enumerate(pseudo_frames(image, frames, rng)):
                path = image_path(out, person, expression, i, ".jpg")
                path.parent.mkdir(parents=True, exist_ok=True)
                if not cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 92]):
                    raise CribsideError(f"cannot write {path}")
                rows.append({"subject": person, "video": expression, "frame": i, "cry": label, "pain": "none"})
    write_labels(out, rows, with_face=False)
    write_meta(out, "raw", fps=fps, synthetic=False,
               notes=(f"pseudo-videos of still photos from {photoset.root.name}: {frames} frames per photo with "
                      f"small motion, light and noise; cry=1 means the expression {photoset.positive!r}, pain is "
                      "'none' throughout. Not infants, not clinical labels."))
    return photoset
