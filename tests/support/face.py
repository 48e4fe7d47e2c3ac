"""Fixtures: face (see conftest.py): MediaPipe's real face models, real face images and videos.

The models come from the pinned mediapipe wheel on PyPI (``fetch_face_models``), once per
machine: they are cached in ``$CRIBSIDE_FACE_MODELS`` or ``~/.cache/cribside/face-models/``
and only fetched when missing or corrupt.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

FACE_DATA = Path(__file__).parents[1] / "data"
LOOKIT = FACE_DATA / "infants/lookit_laughter"  # real webcam frames of an infant and a parent (MIT)
LOOKIT_CRIB = [[0, 0.55], [0.62, 0.55], [0.62, 1], [0, 1]]  # the infant's high chair, lower left, in its LOOKIT frames
LOOKIT_TODDLER_HALF = [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]  # the toddler_* frames: the child in the right half
LONDON_24 = FACE_DATA / "faces/london_expressions_24"  # 24 real adults, neutral and smiling (CC BY 4.0)

# name -> path of the real test images (licences in each folder's LICENSE.md)
FACE_IMAGES = {
    "obama": FACE_DATA / "faces/face_recognition_examples/obama.jpg",
    "biden": FACE_DATA / "faces/face_recognition_examples/biden.jpg",
    "tom_cruise": FACE_DATA / "faces/dlib_examples/Tom_Cruise_avp_2014_4.jpg",
    "dogs": FACE_DATA / "faces/dlib_examples/dogs.jpg",
    "pascal_2008_002470": FACE_DATA / "faces/dlib_examples/2008_002470.jpg",
    "infant_one_face": FACE_DATA / "infants/icatcher_plus_lookit/one_face_normal.jpg",
    "infant_no_face": FACE_DATA / "infants/icatcher_plus_lookit/no_face.jpg",
    "infant_three_faces": FACE_DATA / "infants/icatcher_plus_lookit/three_faces.jpg",
}
FD_VIDEO = FACE_DATA / "infants/icatcher_plus_lookit/fd_video.mp4"
FD_VIDEO_COUNTS = FACE_DATA / "infants/icatcher_plus_lookit/fd_video_face_counts_per_frame.csv"


def load_face_image(name: str) -> np.ndarray:
    """BGR uint8 image of one of ``FACE_IMAGES``."""
    image = cv2.imread(str(FACE_IMAGES[name]), cv2.IMREAD_COLOR)
    assert image is not None, f"test image missing: {FACE_IMAGES[name]}"
    return image


def rotate_with_canvas(image: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate by ``angle_deg`` clockwise on screen (y-down angle convention), growing the
    canvas so nothing is cut off; an eye line at angle a ends up at a + angle_deg."""
    h, w = image.shape[:2]
    # OpenCV's positive angle turns counter-clockwise on screen, hence the minus.
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -angle_deg, 1.0)
    c, s = abs(math.cos(math.radians(angle_deg))), abs(math.sin(math.radians(angle_deg)))
    new_w, new_h = int(math.ceil(w * c + h * s)), int(math.ceil(w * s + h * c))
    matrix[0, 2] += (new_w - w) / 2
    matrix[1, 2] += (new_h - h) / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def read_fd_video() -> tuple[list[np.ndarray], list[int]]:
    """All 173 frames of fd_video.mp4 and the manual face count of each."""
    with open(FD_VIDEO_COUNTS, newline="") as handle:
        counts = [int(row["manual_face_count"]) for row in csv.DictReader(handle)]
    capture = cv2.VideoCapture(str(FD_VIDEO))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, counts


@pytest.fixture(scope="session")
def face_models() -> dict[str, Path]:
    """Paths of the three face models, fetched from PyPI once and sha256-checked."""
    from cribside.edge.errors import CribsideError
    from cribside.edge.face.assets import ensure_face_models, fetch_face_models

    try:
        return ensure_face_models()
    except CribsideError:
        return fetch_face_models()


@pytest.fixture(scope="session")
def face_models_dir(face_models: dict[str, Path]) -> Path:
    """Folder holding the face models (pass as ``models_dir=``)."""
    return next(iter(face_models.values())).parent


@pytest.fixture(scope="session")
def aligner(face_models_dir: Path):
    """A FaceAligner with default settings, no tracking (stateless between calls)."""
    from cribside.edge.face import FaceAligner

    with FaceAligner(models_dir=face_models_dir) as instance:
        yield instance


@pytest.fixture(scope="session")
def fd_video() -> tuple[list[np.ndarray], list[int]]:
    """(frames, manual face counts) of the real infant video fd_video.mp4 (173 frames)."""
    return read_fd_video()
