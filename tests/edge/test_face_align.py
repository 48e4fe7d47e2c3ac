"""FaceAligner on real faces: eye angle, eye centres, crop geometry, no-face cases, video."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from support.face import FACE_DATA, load_face_image, read_fd_video, rotate_with_canvas

from cribside.edge.errors import CribsideError
from cribside.edge.face import AlignedFace, AlignerSettings, FaceAligner, mesh
from cribside.edge.face.crop import crop_rect
from cribside.edge.face.geometry import apply_affine, invert_affine, rect_to_image

EYE_ANGLE_TOLERANCE_DEG = 3.0
# dlib's 68-point eyes vs the mesh's eye-contour means, as a fraction of the eye distance.
EYE_CENTER_TOLERANCE_IOD = 0.10
# Rows of the 64-row crop allowed between the brow top / chin and the crop edge.
CROP_EDGE_TOLERANCE_ROWS = 6
MIN_VIDEO_DETECTION_RATE = 0.95
MAX_FALSE_FACES_ON_EMPTY_FRAMES = 1
# Crops of the same face upright and rotated: normalised cross-correlation.
MIN_ROTATED_CROP_CORRELATION = 0.9


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.mark.parametrize("name", ["obama", "biden", "tom_cruise", "infant_one_face"])
def test_eye_angle_follows_rotation(aligner: FaceAligner, name: str) -> None:
    image = load_face_image(name)
    upright = aligner.align(image)
    assert upright is not None
    for rotation in (-40, -20, 20, 40):
        face = aligner.align(rotate_with_canvas(image, rotation))
        assert face is not None, f"{name} rotated {rotation} deg: no face"
        truth = upright.eye_angle_deg + rotation
        assert _angle_diff(face.eye_angle_deg, truth) <= EYE_ANGLE_TOLERANCE_DEG, (name, rotation, face.eye_angle_deg, truth)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_strongly_rotated_face_is_found(aligner: FaceAligner, rotation: int) -> None:
    image = load_face_image("obama")
    upright = aligner.align(image)
    face = aligner.align(rotate_with_canvas(image, rotation))
    assert upright is not None and face is not None
    assert _angle_diff(face.eye_angle_deg, upright.eye_angle_deg + rotation) <= EYE_ANGLE_TOLERANCE_DEG


def test_left_eye_is_the_smaller_x_in_the_upright_face(aligner: FaceAligner) -> None:
    face = aligner.align(load_face_image("obama"))
    assert face is not None
    assert face.left_eye[0] < face.right_eye[0]
    upside_down = aligner.align(rotate_with_canvas(load_face_image("obama"), 180))
    assert upside_down is not None
    # Upside down, the upright face's left eye is on the image's right.
    assert upside_down.left_eye[0] > upside_down.right_eye[0]


def test_eye_centres_agree_with_dlib_on_small_real_faces(aligner: FaceAligner) -> None:
    """PASCAL VOC faces of 37-53 px with dlib's 68-point eye centres as the reference."""
    reference = json.loads((FACE_DATA / "faces/dlib_examples/eyes_2008_002470.json").read_text())
    image = load_face_image("pascal_2008_002470")
    errors = []
    for ref in reference["faces"]:
        box = ref["box"]
        # Each face on its own (3x its box), as a camera close to the cot would see it.
        cx, cy = box["left"] + box["width"] / 2, box["top"] + box["height"] / 2
        half = 1.5 * max(box["width"], box["height"])
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(image.shape[1], cx + half)), int(min(image.shape[0], cy + half))
        face = aligner.align(image[y0:y1, x0:x1])
        assert face is not None, f"face at {box} not found"
        left = np.array(ref["eye_center_image_left"]) - (x0, y0)
        right = np.array(ref["eye_center_image_right"]) - (x0, y0)
        iod = float(np.linalg.norm(right - left))
        errors.append(max(np.linalg.norm(np.array(face.left_eye) - left), np.linalg.norm(np.array(face.right_eye) - right)) / iod)
    assert max(errors) <= EYE_CENTER_TOLERANCE_IOD, errors


@pytest.mark.parametrize("name", ["obama", "infant_one_face"])
@pytest.mark.parametrize("rotation", [0, 30])
def test_crop_runs_from_brows_to_chin(aligner: FaceAligner, name: str, rotation: int) -> None:
    face = aligner.align(rotate_with_canvas(load_face_image(name), rotation))
    assert face is not None
    size = aligner.settings.crop_size
    assert face.crop.shape == (size, size) and face.crop.dtype == np.uint8
    rect = crop_rect(face.landmarks, math.radians(face.eye_angle_deg), aligner.settings)
    assert rect is not None
    to_crop = invert_affine(rect_to_image(rect, size, size))
    brows = apply_affine(to_crop, face.landmarks[list(mesh.BROWS)])
    chin = apply_affine(to_crop, face.landmarks[[mesh.CHIN]])[0]
    eyes = apply_affine(to_crop, np.array([face.left_eye, face.right_eye]))
    assert 0 <= brows[:, 1].min() <= CROP_EDGE_TOLERANCE_ROWS
    assert size - 1 - CROP_EDGE_TOLERANCE_ROWS <= chin[1] <= size - 1
    # Eyes level in the crop, left eye on the left.
    assert abs(eyes[0, 1] - eyes[1, 1]) <= 1.0 and eyes[0, 0] < eyes[1, 0]


def test_rotated_face_gives_the_same_crop(aligner: FaceAligner) -> None:
    image = load_face_image("infant_one_face")
    upright = aligner.align(image)
    rotated = aligner.align(rotate_with_canvas(image, 35))
    assert upright is not None and rotated is not None
    a = upright.crop.astype(np.float64) - upright.crop.mean()
    b = rotated.crop.astype(np.float64) - rotated.crop.mean()
    correlation = float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
    assert correlation >= MIN_ROTATED_CROP_CORRELATION


@pytest.mark.parametrize("name", ["infant_no_face", "dogs"])
def test_images_without_a_face_give_none(aligner: FaceAligner, name: str) -> None:
    assert aligner.align(load_face_image(name)) is None


@pytest.mark.parametrize("value", [0, 255])
def test_blank_image_gives_none(aligner: FaceAligner, value: int) -> None:
    assert aligner.align(np.full((480, 640, 3), value, np.uint8)) is None


@pytest.mark.parametrize("select", ["largest", "center", "score"])
def test_three_faces_give_one_face_per_select_mode(face_models_dir, select: str) -> None:
    image = load_face_image("infant_three_faces")
    with FaceAligner(AlignerSettings(select=select), models_dir=face_models_dir) as aligner:
        face = aligner.align(image)
    assert isinstance(face, AlignedFace)


def test_largest_is_at_least_as_large_as_the_other_choices(face_models_dir) -> None:
    image = load_face_image("infant_three_faces")
    areas = {}
    for select in ("largest", "center", "score"):
        with FaceAligner(AlignerSettings(select=select), models_dir=face_models_dir) as aligner:
            face = aligner.align(image)
        assert face is not None
        areas[select] = face.box[2] * face.box[3]
    assert areas["largest"] >= max(areas.values())


def test_gray_and_bgra_inputs_are_accepted(aligner: FaceAligner) -> None:
    image = load_face_image("obama")
    reference = aligner.align(image)
    gray = aligner.align(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    bgra = aligner.align(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))
    assert reference is not None and gray is not None and bgra is not None
    assert _angle_diff(gray.eye_angle_deg, reference.eye_angle_deg) <= EYE_ANGLE_TOLERANCE_DEG
    np.testing.assert_array_equal(bgra.crop, reference.crop)


@pytest.mark.parametrize(
    "bad, words",
    [
        (None, "None"),
        (np.zeros((0, 0, 3), np.uint8), "empty"),
        (np.zeros((48, 64, 3), np.float32), "dtype"),
        (np.zeros((48, 64, 5), np.uint8), "shape"),
        ("frame.jpg", "numpy array"),
    ],
)
def test_bad_input_raises_a_clear_error(aligner: FaceAligner, bad, words: str) -> None:
    with pytest.raises(CribsideError, match=words):
        aligner.align(bad)


def test_single_images_do_not_depend_on_earlier_calls(aligner: FaceAligner) -> None:
    image = load_face_image("biden")
    first = aligner.align(image)
    aligner.align(load_face_image("infant_three_faces"))
    aligner.align(load_face_image("infant_no_face"))
    again = aligner.align(image)
    assert first is not None and again is not None
    np.testing.assert_array_equal(first.crop, again.crop)
    np.testing.assert_array_equal(first.landmarks, again.landmarks)


def test_to_json_has_the_cli_fields(aligner: FaceAligner) -> None:
    face = aligner.align(load_face_image("obama"))
    assert face is not None
    record = face.to_json()
    json.dumps(record)
    assert record["face"] is True
    assert set(record) >= {"box", "left_eye", "right_eye", "eye_angle_deg"}
    assert len(record["box"]) == 4 and record["box"][2] > 0 and record["box"][3] > 0


def test_tracking_skips_detection_until_the_face_is_lost(face_models_dir) -> None:
    image = load_face_image("infant_one_face")
    with FaceAligner(track=True, models_dir=face_models_dir) as aligner:
        assert aligner.align(image) is not None
        assert aligner.timings["detect"] > 0
        assert aligner.align(image) is not None
        assert aligner.timings["detect"] == 0  # ROI from the previous mesh, no detector
        assert aligner.align(load_face_image("infant_no_face")) is None
        assert aligner.align(image) is not None
        assert aligner.timings["detect"] > 0  # track lost, detected again
        aligner.reset()
        assert aligner.align(image) is not None
        assert aligner.timings["detect"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("track", [False, True])
def test_detection_rate_on_real_infant_video(face_models_dir, fd_video, track: bool) -> None:
    """fd_video.mp4: 173 frames with manual face counts (166 with a face, 7 without)."""
    frames, counts = fd_video
    assert len(frames) == len(counts) == 173
    with FaceAligner(track=track, models_dir=face_models_dir) as aligner:
        found = [aligner.align(frame) is not None for frame in frames]
    with_face = [hit for hit, count in zip(found, counts) if count >= 1]
    without_face = [hit for hit, count in zip(found, counts) if count == 0]
    rate = sum(with_face) / len(with_face)
    assert rate >= MIN_VIDEO_DETECTION_RATE, f"detection rate {rate:.3f}"
    assert sum(without_face) <= MAX_FALSE_FACES_ON_EMPTY_FRAMES


def test_full_range_fallback_finds_a_small_face(face_models_dir, monkeypatch) -> None:
    """An infant face about 80 px wide in a 1280x720 frame (a camera far from the cot)."""
    import cribside.edge.face.aligner as aligner_module

    region = load_face_image("infant_one_face")[180:420, 250:490]
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[300:440, 900:1040] = cv2.resize(region, (140, 140), interpolation=cv2.INTER_AREA)
    with FaceAligner(models_dir=face_models_dir) as aligner:
        face = aligner.align(frame)
    assert face is not None
    x, y, w, h = face.box
    assert 900 <= x and x + w <= 1040 and 300 <= y and y + h <= 440
    monkeypatch.setattr(aligner_module, "_FINE_MIN_SIDE", 10**9)  # no fine pass either
    with FaceAligner(AlignerSettings(use_full_range=False), models_dir=face_models_dir) as aligner:
        short_only = aligner.align(frame)
    # The short-range model alone at its own input misses it, so the fallback is what found it.
    assert short_only is None


def test_small_real_faces_upside_down_are_found_in_one_frame(face_models_dir, monkeypatch) -> None:
    """The 24 real adults of tests/data's London set, 56 px wide and upside down in a 1280x720 frame (an
    infant lying head towards the camera): the rotated copy at 180 degrees is seen by the full-range
    detector, which finds them where the short-range one at its 128 px input, used for the other copies,
    misses several; the fine pass's upside-down copy finds them too."""
    import cribside.edge.face.aligner as aligner_module
    from cribside.bench.faces import found_placed, photo_faces

    photos = sorted((FACE_DATA / "faces/london_expressions_24/neutral").glob("*.jpg"))
    with FaceAligner(models_dir=face_models_dir) as aligner:
        faces = photo_faces(aligner, photos)
        assert len(faces) == 24
        assert found_placed(aligner, faces, 56, 180.0, np.random.default_rng(0)) >= 23
        monkeypatch.setattr(aligner_module, "_FULL_RANGE_ROTATIONS_DEG", ())
        assert found_placed(aligner, faces, 56, 180.0, np.random.default_rng(0)) >= 23  # the fine pass alone
        monkeypatch.setattr(aligner_module, "_FINE_MIN_SIDE", 10**9)
        assert found_placed(aligner, faces, 56, 180.0, np.random.default_rng(0)) <= 21  # the short-range copy alone misses several
        monkeypatch.setattr(aligner_module, "_FULL_RANGE_ROTATIONS_DEG", (180.0,))
        assert found_placed(aligner, faces, 56, 180.0, np.random.default_rng(0)) >= 23  # the full-range copy alone


def test_small_real_infant_faces_are_found_by_the_fine_pass(face_models_dir, monkeypatch) -> None:
    """Three real infant faces from iCatcher+'s webcam video, 96 px wide and upright in a 1280x720 frame at
    six places each: the short-range model's own 128 px input sees such a face a few pixels wide, so the
    fine pass (the same model fed 384x224 px, faces under 0.125 of the frame only) is what finds them all."""
    import cribside.edge.face.aligner as aligner_module
    from cribside.bench.faces import found_placed

    frames, _ = read_fd_video()
    with FaceAligner(models_dir=face_models_dir) as aligner:
        faces = [(frames[i], aligner.align(frames[i]).box) for i in (0, 50, 171)]

        def found() -> int:
            return sum(found_placed(aligner, faces, 96, 0.0, np.random.default_rng(seed)) for seed in range(6))

        assert found() == 18
        monkeypatch.setattr(aligner_module, "_FINE_MIN_SIDE", 10**9)  # no fine pass
        assert found() <= 14


def test_the_short_range_detector_takes_a_larger_input_and_the_full_range_one_says_it_cannot(face_models) -> None:
    """The fine pass's detector: the short-range model fed 256 px has anchors for that size and finds the
    real infant face at the same place as at 128; the full-range model cannot be resized: a one-line error
    naming the file."""
    from cribside.edge.face.anchors import FULL_RANGE, SHORT_RANGE, resized
    from cribside.edge.face.detector import BlazeFaceDetector

    assert resized(SHORT_RANGE, 256).num_anchors == 4 * SHORT_RANGE.num_anchors
    image = load_face_image("infant_one_face")
    own = BlazeFaceDetector(face_models["detector_short"], SHORT_RANGE, 0.5, 0.3).detect(image)
    fine = BlazeFaceDetector(face_models["detector_short"], SHORT_RANGE, 0.5, 0.3, input_size=256).detect(image)
    assert len(own) >= 1 and len(fine) >= 1
    assert math.dist(own[0].center_px, fine[0].center_px) < 0.2 * own[0].size_px[0]
    with pytest.raises(CribsideError, match="face_detection_full_range_sparse.tflite: cannot take a 384x384 input"):
        BlazeFaceDetector(face_models["detector_full"], FULL_RANGE, 0.5, 0.3, input_size=384)
    with pytest.raises(ValueError, match="not a positive multiple of stride 16"):
        resized(SHORT_RANGE, 200)


def test_the_fine_detector_takes_an_input_of_the_frames_shape(face_models) -> None:
    """A 1280x720 frame seen through a 320x176 input (its own shape, no letterbox border) and a square 320
    input (the same scale): the anchors are laid out row by row as the model's outputs, so the real infant's
    photo pasted at five places has its face found at the same place by both."""
    from cribside.edge.face.anchors import SHORT_RANGE, resized
    from cribside.edge.face.detector import BlazeFaceDetector

    assert resized(SHORT_RANGE, 320, 176).num_anchors == 2 * 40 * 22 + 6 * 20 * 11
    square = BlazeFaceDetector(face_models["detector_short"], SHORT_RANGE, 0.5, 0.3, input_size=320)
    shaped = BlazeFaceDetector(face_models["detector_short"], SHORT_RANGE, 0.5, 0.3, input_size=(320, 176))
    assert shaped.input_shape == (320, 176)
    image = load_face_image("infant_one_face")  # 640x480, the face about 137 px wide at (389, 300)
    for x, y in ((0, 0), (640, 0), (320, 120), (0, 240), (640, 240)):
        frame = np.zeros((720, 1280, 3), np.uint8)
        frame[y:y + 480, x:x + 640] = image
        a, b = square.detect(frame), shaped.detect(frame)
        assert len(a) == 1 and len(b) == 1, (x, y)
        assert math.dist(b[0].center_px, (x + 389, y + 300)) < 0.15 * 137, (x, y)
        assert math.dist(a[0].center_px, b[0].center_px) < 0.1 * a[0].size_px[0], (x, y)


def test_video_runs_the_fine_pass_on_a_cold_search_not_after_a_tracked_face_is_lost(face_models_dir, monkeypatch) -> None:
    """1280x720 video: a cold search (nothing tracked before) runs the fine pass on its first frame (384x224,
    of the frame's shape) and its rotated copies on its second (320x320 for a canvas turned by 45 degrees,
    224x384 by 90);
    once a real infant's small face (about 68 px wide) was tracked and is gone, neither runs: the windows
    where it was lost look for it at its own scale."""
    image = cv2.resize(load_face_image("infant_one_face"), None, fx=0.5, fy=0.5)
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:image.shape[0], :image.shape[1]] = image
    empty = np.zeros_like(frame)
    with FaceAligner(track=True, models_dir=face_models_dir) as aligner:
        passes: list[tuple[int, int]] = []
        detect = aligner._timed_detect

        def spy(detector, *args, **kwargs):
            passes.append(detector.input_shape)
            return detect(detector, *args, **kwargs)

        monkeypatch.setattr(aligner, "_timed_detect", spy)

        def search(img: np.ndarray) -> list[tuple[int, int]]:
            passes.clear()
            assert aligner.align(img) is None
            assert len(passes) >= 3, "the frame ran no search"
            return list(passes)

        cold = [search(empty), search(empty)]
        assert (384, 224) in cold[0] and (320, 320) not in cold[0], cold[0]
        assert {(320, 320), (224, 384)} <= set(cold[1]), cold[1]  # turned by 45 and 90 degrees
        aligner.reset()
        assert aligner.align(frame) is not None and aligner.align(frame) is not None  # found, then tracked
        lost = [search(empty), search(empty)]
        assert not {(384, 224), (320, 320), (224, 384)} & set(lost[0] + lost[1]), lost
