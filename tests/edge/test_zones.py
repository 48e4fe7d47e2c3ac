"""Crib zones on real faces (edge/face/zones.py, FaceAligner(zone=...), cribside zones).

Two real adults of tests/data/faces/london_expressions_24 (CC BY 4.0) pasted into a 1280x720 frame: a
smaller face on the left where the crib is, a larger one on the right (the parent who is bigger in view).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.face import FD_VIDEO, FD_VIDEO_COUNTS, LONDON_24, LOOKIT, LOOKIT_CRIB, LOOKIT_TODDLER_HALF

LEFT_CRIB = [[0.05, 0.2], [0.55, 0.2], [0.55, 0.9], [0.05, 0.9]]


def paste(canvas: np.ndarray, path: Path, side: int, x: int, y: int) -> None:
    canvas[y:y + side, x:x + side] = cv2.resize(cv2.imread(str(path)), (side, side), interpolation=cv2.INTER_AREA)


def scene(*, parent: bool = True, infant_x: int = 200) -> np.ndarray:
    """The 'infant' (person 001, 220 px photo) left, the 'parent' (person 002, 320 px) right."""
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    paste(canvas, LONDON_24 / "smiling" / "001.jpg", 220, infant_x, 250)
    if parent:
        paste(canvas, LONDON_24 / "neutral" / "002.jpg", 320, 850, 200)
    return canvas


def centre_x(face) -> float:
    return face.box[0] + face.box[2] / 2


def test_polygon_and_masks() -> None:
    from cribside.edge.face.zones import CribZone, area, inside

    square = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    assert inside((0.5, 0.5), square) and not inside((1.5, 0.5), square)
    triangle = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    assert inside((0.2, 0.2), triangle) and not inside((0.8, 0.8), triangle)
    zone = CribZone.from_lists(LEFT_CRIB, [[[0.1, 0.3], [0.2, 0.3], [0.2, 0.4], [0.1, 0.4]]])
    shape = (720, 1280, 3)
    assert zone.contains((300, 400), shape)  # in the crib
    assert not zone.contains((1000, 400), shape)  # right of it
    assert not zone.contains((0.15 * 1280, 0.35 * 720), shape)  # in the crib but masked
    assert CribZone().contains((1000, 400), shape) and CribZone().is_whole_frame
    assert area(triangle) == 0.5 and area(square[::-1]) == 1.0  # either winding
    assert CribZone().describe() == "no crib zone (the whole frame)"
    assert zone.describe() == f"crib zone of {len(LEFT_CRIB)} points, {area(zone.crib):.0%} of the frame, 1 mask"


def test_without_a_zone_the_larger_face_is_taken_and_the_other_is_counted(face_models) -> None:
    from cribside.edge.face.aligner import FaceAligner

    with FaceAligner() as aligner:
        face = aligner.align(scene())
    assert face is not None and centre_x(face) > 640  # the parent: larger in view (why zones exist)
    assert face.other_faces == 1


def test_the_crib_zone_keeps_the_infant_and_leaves_the_parent_out(face_models) -> None:
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.zones import CribZone

    with FaceAligner(zone=CribZone.from_lists(LEFT_CRIB)) as aligner:
        face = aligner.align(scene())
        alone = aligner.align(scene(infant_x=1000, parent=False))  # the only face is out of the crib
    assert face is not None and centre_x(face) < 640
    assert face.other_faces == 0  # the parent is outside the zone: not a caregiver at the crib
    assert alone is None  # a face outside the crib is never the infant


def test_a_mask_hides_a_face(face_models) -> None:
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.zones import CribZone

    over_parent = [[0.6, 0.1], [1.0, 0.1], [1.0, 0.9], [0.6, 0.9]]
    with FaceAligner(zone=CribZone.from_lists(None, [over_parent])) as aligner:
        face = aligner.align(scene())
    assert face is not None and centre_x(face) < 640 and face.other_faces == 0


def test_a_tracked_infant_is_kept_when_a_caregiver_leans_in(face_models) -> None:
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.zones import CribZone

    whole_left = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    frames = [scene(parent=False)] * 4 + [scene()] * 6
    with FaceAligner(track=True, zone=CribZone.from_lists(whole_left)) as aligner:
        faces = [aligner.align(f) for f in frames]
    assert all(f is not None for f in faces)
    # Never jumps to the larger face that came into view: the infant is followed.
    assert all(centre_x(f) < 640 for f in faces)
    assert [f.other_faces for f in faces[:4]] == [0, 0, 0, 0]
    assert faces[-1].other_faces == 1  # noticed within the check interval (3 frames)


@pytest.mark.parametrize("frame", ["toddler_dress_print.png", "toddler_parent_hand.png"])
def test_a_dress_print_or_a_hand_in_the_zone_is_no_caregiver(face_models, monkeypatch, frame: str) -> None:
    """Real webcam frames: the toddler's face in the zone, and beside it a detection the detector is unsure
    of (the print on her dress; the parent's hand), which the mesh refuses. That is no second face: no
    caregiver_present. Counted unchecked, as before, it was one."""
    import cribside.edge.face.aligner as aligner_module
    from cribside.commands.zones import classify_faces
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.zones import CribZone

    image = cv2.imread(str(LOOKIT / frame))
    zone = CribZone.from_lists(LOOKIT_TODDLER_HALF)
    with FaceAligner(zone=zone) as aligner:
        found = aligner.faces(image)
        unsure = [d for d in found if d.center_px[0] > 320 and d.score < aligner_module._SURE_FACE_SCORE]
        face = aligner.align(image)
        assert face is not None and centre_x(face) > 320 and face.pose in ("frontal", "turned")
        assert unsure and face.other_faces == 0
        # cribside zones draws it as the device counts it: grey, "no face", not a caregiver.
        rows = classify_faces(image.shape, zone, found, face, is_face=lambda d: aligner.is_face(image, d))
        assert [r["role"] for r in rows].count("caregiver") == 0 and any("no face" in r["why"] for r in rows)
        monkeypatch.setattr(aligner_module, "_SURE_FACE_SCORE", 0.0)  # every detection counted, unchecked
        assert aligner.align(image).other_faces == 1


def test_a_tracked_face_that_leaves_the_crib_is_dropped(face_models) -> None:
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.zones import CribZone

    with FaceAligner(track=True, zone=CribZone.from_lists(LEFT_CRIB)) as aligner:
        inside = aligner.align(scene(parent=False))
        moved = aligner.align(scene(parent=False, infant_x=1000))
    assert inside is not None and moved is None


def test_zone_config_errors_name_the_field(tmp_path: Path) -> None:
    from cribside.edge.config import config_from_dict
    from cribside.edge.errors import CribsideError

    base = {"cameras": [{"device_id": "crib-1", "source": "x.mp4"}]}
    for zone, message in (({"crib": [[0, 0], [1, 0]]}, "at least 3 points"),
                          ({"crib": [[0, 0], [1.5, 0], [1, 1]]}, "frame fractions in 0..1"),
                          ({"masks": [[[0, 0], [1, 1]]]}, r"masks\[0\] needs at least 3 points")):
        data = {"cameras": [{**base["cameras"][0], "zone": zone}]}
        with pytest.raises(CribsideError, match=message):
            config_from_dict(data, source="test")
    ok = config_from_dict({"cameras": [{**base["cameras"][0], "zone": {"crib": LEFT_CRIB}}]}, source="test")
    assert ok.cameras[0].zone.crib[0] == (0.05, 0.2)


def test_zones_command_draws_the_zone_and_names_each_face(face_models_dir, tmp_path: Path) -> None:
    image = tmp_path / "frame.jpg"
    cv2.imwrite(str(image), scene())
    config = tmp_path / "cribside.yaml"
    config.write_text("cameras:\n  - device_id: crib-1\n    source: frame.jpg\n    zone:\n"
                      f"      crib: {LEFT_CRIB}\n", encoding="utf-8")
    out = tmp_path / "snapshot.png"
    env = {**__import__("os").environ, "CRIBSIDE_FACE_MODELS": str(face_models_dir)}
    done = subprocess.run([sys.executable, "-m", "cribside", "zones", "--config", str(config), "--image", str(image),
                           "--out", str(out)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-1500:]
    assert "infant: found" in done.stdout and "other faces in the crib zone: 0" in done.stdout
    assert "outside the crib zone" in done.stdout
    picture = cv2.imread(str(out))
    assert picture.shape == (720, 1280, 3)
    assert not np.array_equal(picture, cv2.imread(str(image)))  # the zone and boxes are drawn
    bad = subprocess.run([sys.executable, "-m", "cribside", "zones", "--config", str(config), "--camera", "crib-9",
                          "--image", str(image), "--out", str(out)], capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode != 0 and "--camera crib-9: not in" in bad.stderr and "Traceback" not in bad.stderr


def test_bench_faces_places_a_real_face_where_it_says_and_measures_the_envelope(face_models, tmp_path: Path, capsys) -> None:
    import json

    from cribside.bench.faces import ANGLES, WIDTHS, envelope, photo_faces, place
    from cribside.cli import main
    from cribside.edge.face.aligner import FaceAligner

    photo = cv2.imread(str(LONDON_24 / "neutral" / "003.jpg"))
    with FaceAligner() as aligner:
        box = aligner.align(photo).box
        frame, centre = place(photo, box, 96, 0.0, np.random.default_rng(1))
        found = aligner.align(frame)
        assert frame.shape == (720, 1280, 3) and found is not None
        assert abs(found.box[0] + found.box[2] / 2 - centre[0]) < 20 and abs(found.box[2] - 96) < 25
        env = envelope(aligner, photo_faces(aligner, [LONDON_24 / "neutral" / "003.jpg"]))
    assert set(env["found"]) == {str(w) for w in WIDTHS} and set(env["found"]["160"]) == {str(a) for a in ANGLES}
    assert env["found"]["160"]["0"] == 1.0  # a 160 px upright real face is always found
    out = tmp_path / "faces.json"
    assert main(["bench", "faces", "--faces", str(LONDON_24 / "smiling"), "--people", "1", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["envelope"]["faces"] == 1
    assert main(["bench", "faces", "--lookit", str(tmp_path), "--lookit-scale", "0"]) == 2
    assert "--lookit-scale 0.0: want a factor above 0" in capsys.readouterr().err


def test_bench_faces_takes_clear_infant_faces_from_the_videos_it_finds(face_models, tmp_path: Path) -> None:
    """The infant envelope's faces: from a real infant video (iCatcher+'s, in tests/data), only frames whose
    manual face count is 1, spread over the clip, each a clear face box inside its frame; a folder with no
    infant video is named in the error."""
    import csv
    import shutil

    from cribside.bench.faces import envelope, infant_faces
    from cribside.edge.errors import CribsideError
    from cribside.edge.face.aligner import FaceAligner

    icatcher = tmp_path / "infants" / "icatcher_plus_lookit"
    icatcher.mkdir(parents=True)
    annotations = Path(__file__).parents[2] / "benchmarks" / "lookit"  # not read: no Lookit clips here
    shutil.copy(FD_VIDEO, icatcher)
    shutil.copy(FD_VIDEO_COUNTS, icatcher)
    counts = {int(r["frame_index"]): int(r["manual_face_count"]) for r in csv.DictReader(FD_VIDEO_COUNTS.open())}
    faces = infant_faces(tmp_path / "infants", annotations, per_child=3)
    frames = [int(name.rsplit(" ", 1)[1]) for name, _, _ in faces]
    assert len(faces) == 3 and all(counts[f] == 1 for f in frames) and frames == sorted(set(frames))
    assert frames[-1] - frames[0] > 100  # spread over the 173-frame clip, not three neighbours
    for _, image, (x, y, w, h) in faces:
        assert image.shape == (480, 640, 3) and 60 < w < 250 and 0 <= x and x + w <= 640 and 0 <= y and y + h <= 480
    with FaceAligner() as aligner:
        env = envelope(aligner, [(image, box) for _, image, box in faces])
    assert env["faces"] == 3 and env["found"]["160"]["0"] == 1.0  # a 160 px upright real infant face is found
    with pytest.raises(CribsideError, match="no icatcher_plus_lookit/fd_video.mp4"):
        infant_faces(tmp_path / "empty", annotations)
    with pytest.raises(CribsideError, match="has .* clear faces, want 500"):
        infant_faces(tmp_path / "infants", annotations, per_child=500)


def test_pose_is_frontal_on_frontal_photos_and_profile_when_the_nose_passes_the_eye() -> None:
    from cribside.edge.face.pose import PROFILE, pose_of, yaw_ratio

    landmarks = np.zeros((468, 2), np.float32)
    landmarks[33], landmarks[263] = (100, 100), (160, 100)  # outer eye corners, 60 px apart
    landmarks[1] = (130, 130)  # nose tip under their midpoint
    assert yaw_ratio(landmarks) == pytest.approx(0.0) and pose_of(0.0) == "frontal"
    landmarks[1] = (130 + 0.5 * 60, 130)  # a 3/4 view: the nose half an eye distance aside
    assert yaw_ratio(landmarks) == pytest.approx(0.5) and pose_of(0.5) == "profile" and 0.5 >= PROFILE
    assert pose_of(-0.3) == "turned"
    # Below CLEAR the landmark model is unsure of the face: unclear, unless the geometry says profile.
    assert pose_of(0.0, presence=0.89) == "unclear" and pose_of(-0.3, presence=0.6) == "unclear"
    assert pose_of(0.5, presence=0.6) == "profile" and pose_of(0.0, presence=0.9) == "frontal"


@pytest.mark.parametrize("frame", ["head_bent_down_1.jpg", "head_bent_down_2.jpg", "head_bent_down_3.jpg"])
def test_an_infants_head_bent_down_is_found_but_unclear_so_not_classified(face_models, frame: str) -> None:
    """Real frames where a person sees no face (the infant's head bent over the tray): the landmark model
    still fits a face to the head, with a presence below CLEAR, so it is unclear and not classified."""
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.pose import CLEAR, NOT_CLASSIFIED
    from cribside.edge.face.zones import CribZone

    image = cv2.imread(str(LOOKIT / frame))
    with FaceAligner(zone=CribZone.from_lists(LOOKIT_CRIB)) as aligner:
        face = aligner.align(image)
    assert face is not None and centre_x(face) < 0.62 * image.shape[1]  # the infant's head, in the high chair
    assert face.score < CLEAR and face.pose == "unclear" and face.pose in NOT_CLASSIFIED


def test_an_infants_face_seen_clearly_is_classified_and_without_the_zone_the_parent_is_taken(face_models) -> None:
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.pose import CLEAR, NOT_CLASSIFIED
    from cribside.edge.face.zones import CribZone

    image = cv2.imread(str(LOOKIT / "face_turned.jpg"))
    with FaceAligner(zone=CribZone.from_lists(LOOKIT_CRIB)) as aligner:
        face = aligner.align(image)
    assert face is not None and face.score >= CLEAR and face.pose not in NOT_CLASSIFIED
    bent = cv2.imread(str(LOOKIT / "head_bent_down_3.jpg"))
    with FaceAligner() as aligner:  # no zone: the parent's clear face on the right is the largest
        parent = aligner.align(bent)
    assert parent is not None and centre_x(parent) > 0.62 * bent.shape[1] and parent.pose not in NOT_CLASSIFIED


def test_real_frontal_faces_are_frontal_and_a_profile_is_not_classified(face_models) -> None:
    from cribside.edge.face.aligner import FaceAligner

    with FaceAligner() as aligner:
        poses = [aligner.align(cv2.imread(str(p))).pose for p in sorted((LONDON_24 / "neutral").glob("*.jpg"))[:8]]
    assert poses == ["frontal"] * 8


def test_lookit_annotations_parse_and_a_bad_row_is_named(tmp_path: Path) -> None:
    """The child-hit bench's annotations (benchmarks/lookit) load; a malformed file is a one-line error."""
    from cribside.bench.faces import _DEFAULT_LOOKIT_ANNOTATIONS, read_lookit_annotations
    from cribside.edge.errors import CribsideError

    zones, splits, visible, across = read_lookit_annotations(_DEFAULT_LOOKIT_ANNOTATIONS)
    assert set(zones) == set(splits) == {"2UWdXP", "3dC3SQ"} and all(0 < x < 1 for x in splits.values())
    assert len(visible) == 321 and 0 < sum(visible.values()) < 321
    assert across and set(across) <= set(visible) and all(0 < v < 1 for face in across.values() for v in face)
    (tmp_path / "parent_across_split.csv").write_text("file,frame,parent_face_x,parent_face_y,parent_face_width\n", encoding="utf-8")
    (tmp_path / "zones.csv").write_text("child_id,crib,child_parent_split_x\nA,[[0, 0], [1, 0]],0.5\n", encoding="utf-8")
    (tmp_path / "child_face_visible.csv").write_text("file,frame,child_face_visible\nclip.mp4,3,maybe\n", encoding="utf-8")
    with pytest.raises(CribsideError, match=r"zones.csv line 2"):
        read_lookit_annotations(tmp_path)
    (tmp_path / "zones.csv").write_text('child_id,crib,child_parent_split_x\nA,"[[0, 0], [1, 0], [1, 1]]",0.5\n', encoding="utf-8")
    with pytest.raises(CribsideError, match=r"child_face_visible.csv line 2"):
        read_lookit_annotations(tmp_path)
    (tmp_path / "child_face_visible.csv").write_text("file,frame,child_face_visible\nclip.mp4,3,yes\n", encoding="utf-8")
    (tmp_path / "parent_across_split.csv").write_text("file,frame,parent_face_x\nclip.mp4,3,0.5\n", encoding="utf-8")
    with pytest.raises(CribsideError, match=r"parent_across_split.csv line 2"):
        read_lookit_annotations(tmp_path)
    (tmp_path / "parent_across_split.csv").unlink()
    with pytest.raises(CribsideError, match=r"no parent_across_split.csv"):
        read_lookit_annotations(tmp_path)


def test_a_parents_face_across_the_split_is_not_the_child() -> None:
    """The child-hit reference: a face on the child's side of the split is the child's, unless it sits on
    the parent's face where the annotations put it across the split (a parent leaning in)."""
    from cribside.bench.faces import on_child

    shape = (480, 640, 3)
    parent = (0.6, 0.4, 0.2)  # centre (384, 192), 128 px wide
    assert on_child((400, 100, 60, 60), shape, False, 0.5, None)  # right of the line, the child on the right
    assert not on_child((400, 100, 60, 60), shape, True, 0.5, None)  # the child on the left
    assert not on_child((330, 140, 110, 110), shape, False, 0.5, parent)  # on the parent's face
    assert on_child((500, 300, 60, 60), shape, False, 0.5, parent)  # the child, beside the parent's face


def test_a_face_lost_while_tracked_is_searched_for_first_at_the_angle_it_was_lost_at(face_models) -> None:
    """A real face upside down, tracked, hidden for one frame: the fresh search plans only the rotated
    copies nearest the angle it was lost at (3 of 7); a reset (a new scene) plans all seven again."""
    import math

    from cribside.bench.faces import place
    from cribside.edge.face.aligner import FaceAligner

    photo = cv2.imread(str(sorted((LONDON_24 / "neutral").glob("*.jpg"))[0]))
    with FaceAligner() as still:
        box = still.align(photo).box
    frame, _ = place(photo, box, 120, 180, np.random.default_rng(1))
    blank = np.full_like(frame, 110)

    def planned(aligner) -> set[int]:
        return {round(math.degrees(p[1])) for p in aligner._search(frame) if p[1] != 0.0}

    with FaceAligner(track=True) as aligner:
        assert any(aligner.align(frame) is not None for _ in range(3))  # found, then tracked
        assert aligner.align(frame) is not None
        assert aligner.align(blank) is None  # lost while tracked, upside down
        assert planned(aligner) == {180, 135, -135}
        aligner.reset()
        assert len(planned(aligner)) == len(aligner.settings.retry_angles_deg) == 7
        assert aligner.align(blank) is None
        assert aligner.align(frame) is not None


def test_a_tracked_face_that_turns_away_is_found_again_where_it_was_lost(face_models, monkeypatch) -> None:
    """Two real webcam frames 1/6 s apart: the toddler tracked in a 3/4 view, then turned further and moved.
    The tracked mesh loses it and the whole-frame passes miss it (a single-image search finds nothing);
    the detection windows centred where it was lost, at its own scale and angle, find it again."""
    import cribside.edge.face.aligner as aligner_module
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.zones import CribZone

    before, turned = (cv2.imread(str(LOOKIT / name)) for name in ("toddler_before_turning.png", "toddler_turned.png"))
    zone = CribZone.from_lists(LOOKIT_TODDLER_HALF)
    with FaceAligner(zone=zone) as still:
        assert still.align(turned) is None

    def track() -> tuple:
        with FaceAligner(track=True, zone=zone) as aligner:
            first = aligner.align(before)
            assert first is not None
            return first, aligner.align(turned)

    first, again = track()
    assert again is not None, "the turned face was not found where it was lost"
    assert abs(centre_x(again) - centre_x(first)) < first.box[2]  # the same child, not another face
    monkeypatch.setattr(aligner_module, "_NEAR_LOST", ())
    assert track()[1] is None  # without those windows the search misses it


def test_the_search_after_a_loss_looks_first_where_the_face_was(face_models) -> None:
    """The fresh search's first passes are windows on the lost face's ROI, turned to its angle."""
    from cribside.bench.faces import place
    from cribside.edge.face.aligner import _NEAR_LOST, FaceAligner

    photo = cv2.imread(str(sorted((LONDON_24 / "neutral").glob("*.jpg"))[0]))
    with FaceAligner() as still:
        box = still.align(photo).box
    frame, _ = place(photo, box, 120, 150, np.random.default_rng(2))
    with FaceAligner(track=True) as aligner:
        assert any(aligner.align(frame) is not None for _ in range(3))
        roi = aligner._roi
        assert aligner.align(np.full_like(frame, 110)) is None
        plan = aligner._search(frame)
        windows = [p.tile for p in plan[:len(_NEAR_LOST)]]
        assert all(w is not None for w in windows)
        assert [round(w.width / roi.width, 2) for w in windows] == [k for _, k in _NEAR_LOST]
        assert all(abs(w.center_x - roi.center_x) < 1 and abs(w.angle_rad - roi.angle_rad) < 1e-6 for w in windows)
        assert all(p.tile is None or p.tile.width < roi.width for p in plan[len(_NEAR_LOST):])  # they take the zoomed tile's place
        aligner.reset()
        assert all(p.tile is None or p.tile.width != roi.width * _NEAR_LOST[0][1] for p in aligner._search(frame))
