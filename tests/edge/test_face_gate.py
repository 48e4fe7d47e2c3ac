"""The presence gate on real frames without a visible face: an infant's head turned away, and a dog.

The same frames ``cribside bench faces --no-face-video`` counts, here at every right-angle rotation
(an infant lies at any angle): none may come back as a face, or a turned-away infant would be
classified from the back of its head.
"""

from __future__ import annotations

import cv2
import pytest
from support.face import FD_VIDEO, FD_VIDEO_COUNTS, load_face_image

from cribside.bench.faces import false_faces, no_face_frames

ROTATIONS = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)


@pytest.mark.parametrize("rotation", ROTATIONS, ids=["0", "90", "180", "270"])
def test_the_back_of_an_infants_head_is_not_a_face(aligner, rotation) -> None:
    image = load_face_image("infant_no_face")
    assert aligner.align(image if rotation is None else cv2.rotate(image, rotation)) is None


@pytest.mark.parametrize("rotation", (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE), ids=["0", "90", "270"])
def test_a_dog_is_not_a_face(aligner, rotation) -> None:
    image = load_face_image("dogs")
    assert aligner.align(image if rotation is None else cv2.rotate(image, rotation)) is None


def test_no_false_face_on_the_real_video_frames_without_one(face_models_dir, monkeypatch) -> None:
    monkeypatch.setenv("CRIBSIDE_FACE_MODELS", str(face_models_dir))
    frames = no_face_frames(None, FD_VIDEO.parent)
    zero = sum(1 for line in FD_VIDEO_COUNTS.read_text().splitlines()[1:] if line.endswith(",0"))
    assert len(frames) == zero + 1  # fd_video's frames with a manual count of 0, and no_face.jpg
    result = false_faces(frames)
    assert result["frames"] == 4 * len(frames)
    assert result["false_faces"] == [], result["false_faces"]
