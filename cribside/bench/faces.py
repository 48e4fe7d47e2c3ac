"""``cribside bench faces``: which face the device watches, and how small and turned a face it finds.

Two measurements on real data, printed as tables (``--json`` writes the figures):

- **Envelope**: real faces (``--faces DIR`` of photos, default the 24 London adults in tests/data)
  scaled so the face is W pixels wide, placed in a 1280x720 frame and turned by A degrees in the image
  plane; the share of cases where the aligner finds that face (its centre within half a face width),
  per width and angle: in a single frame (no tracking), and within 3 s of a still video at 3 fps with
  tracking on (the device's search, spread over frames, with zoomed tiles).
- **Infant envelope** (``--infants DIR``: the shared data's ``infants`` folder): the same table built
  from real infants' and toddlers' faces in webcam video instead of studio photos: ``INFANT_FACES_PER_CHILD``
  clear faces (frontal or turned, presence >= ``CLEAR``) of each of four children, evenly spread over
  their frames: the iCatcher+ infant of ``fd_video.mp4`` (frames with a manual face count of 1) and of
  ``test_short.mp4``, and the two Lookit children (the bench's sampled frames where their face is
  visible, the parent's side of the split painted out).
- **False faces** (``--no-face-photos DIR``: dlib's examples with their curated face boxes, every
  face painted out with a heavy blur, and ``--no-face-video DIR``: iCatcher's ``fd_video.mp4`` frames
  whose manual face count is 0, and ``no_face.jpg``, an infant's head turned away): each frame at 0, 90,
  180 and 270 degrees searched as a lost face is (single frame, the full search); a face reported on
  any of them is a false face, given per 1,000 frames with each one named.
- **Child hits** (``--lookit DIR``: the Lookit laughter clips with ``labels.csv`` naming the child's side
  of the frame; ``--lookit-annotations DIR``, default benchmarks/lookit: a crib zone drawn for each scene
  and, for every sampled frame, whether the child's face can be seen): every clip sampled at 3 fps and
  tracked as ``cribside run`` does, without a zone, with the child's half of the frame as the zone, and
  with the drawn zone; per sampled frame, was a face taken, was it the child's (the clips have no
  face boxes: the reference is the side of an x line annotated per scene between the child's and the
  parent's face centres, and the parent's face where it is annotated across that line), was
  ``caregiver_present`` set. The child-hit rate is taken
  over the frames where the child's face is visible. And the aligner's mean and p95 ms (drawn zone) for
  tracked frames, re-detections (a face after a frame without one) and lost frames (no face).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from cribside.edge.errors import CribsideError

WIDTHS = (40, 48, 64, 96, 160)
ANGLES = (-180, -150, -120, -90, -60, -30, 0, 30, 60, 90, 120, 150)
FRAME = (720, 1280)
_DEFAULT_FACES = Path(__file__).parents[2] / "tests" / "data" / "faces" / "london_expressions_24" / "neutral"
_DEFAULT_LOOKIT_ANNOTATIONS = Path(__file__).parents[2] / "benchmarks" / "lookit"
_SAMPLE_FPS = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("--faces", type=Path, default=_DEFAULT_FACES, help="folder of face photos for the envelope")
    parser.add_argument("--people", type=int, default=12, help="photos used for the envelope (default 12)")
    parser.add_argument("--lookit", type=Path, help="Lookit laughter folder (labels.csv + videos/) for child hits")
    parser.add_argument("--lookit-annotations", type=Path, default=_DEFAULT_LOOKIT_ANNOTATIONS,
                        help="zones.csv and child_face_visible.csv for the Lookit clips (default: benchmarks/lookit)")
    parser.add_argument("--lookit-scale", type=float, default=1.0,
                        help="child hits on the Lookit frames resized by this factor (2: 1280x960, a larger camera's frame)")
    parser.add_argument("--infants", type=Path,
                        help="the shared data's infants folder (icatcher_plus_lookit/, lookit_laughter/): the envelope on infants' faces")
    parser.add_argument("--no-face-photos", type=Path,
                        help="dlib examples folder (annotations_derived.json): photos with every face painted out")
    parser.add_argument("--no-face-video", type=Path,
                        help="iCatcher folder (fd_video.mp4 + fd_video_face_counts_per_frame.csv, no_face.jpg)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")


def run(args: argparse.Namespace) -> int:
    """Measure and print."""
    from cribside.edge.face.aligner import FaceAligner

    if args.lookit_scale <= 0:
        raise CribsideError(f"--lookit-scale {args.lookit_scale}: want a factor above 0")
    photos = sorted(p for p in args.faces.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[: args.people]
    if not photos:
        raise CribsideError(f"--faces {args.faces}: no photos")
    result: dict[str, Any] = {}
    with FaceAligner() as aligner:
        faces = photo_faces(aligner, photos)
    sets = {"envelope": faces}
    if args.infants is not None:
        sets["envelope_infants"] = [(image, box) for _, image, box in infant_faces(args.infants, args.lookit_annotations)]
    for key, found in sets.items():
        with FaceAligner() as aligner:
            result[key] = envelope(aligner, found)
        with FaceAligner(track=True) as aligner:
            result[f"{key}_video"] = envelope(aligner, found, video=True)
        for table in (result[key], result[f"{key}_video"]):
            print(format_envelope(table, "infants' faces from webcam video" if key == "envelope_infants" else "faces"))
    if args.no_face_photos is not None or args.no_face_video is not None:
        result["false_faces"] = false_faces(no_face_frames(args.no_face_photos, args.no_face_video))
        print(format_false_faces(result["false_faces"]))
    if args.lookit is not None:
        result["child_hits"] = child_hits(args.lookit, args.lookit_annotations, scale=args.lookit_scale)
        print(format_child_hits(result["child_hits"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def place(photo: np.ndarray, face_box: tuple[float, float, float, float], width: int, angle: float,
          rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float]]:
    """A 1280x720 frame with the photo scaled so its face is ``width`` px wide, turned by ``angle``."""
    # The head and some shoulders: 2.4 face widths around the face, so the photo's edge is no second face.
    fx, fy = face_box[0] + face_box[2] / 2, face_box[1] + face_box[3] / 2
    half = 1.2 * face_box[2]
    x_a, y_a = int(max(0, fx - half)), int(max(0, fy - half))
    x_b, y_b = int(min(photo.shape[1], fx + half)), int(min(photo.shape[0], fy + half))
    head = photo[y_a:y_b, x_a:x_b]
    scale = width / face_box[2]
    small = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    h, w = FRAME
    canvas = np.full((h, w, 3), 110, np.uint8)
    sh, sw = small.shape[:2]
    x0 = int(rng.integers(0, max(1, w - sw)))
    y0 = int(rng.integers(0, max(1, h - sh)))
    canvas[y0:y0 + sh, x0:x0 + sw] = small
    centre = (x0 + (fx - x_a) * scale, y0 + (fy - y_a) * scale)
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    turned = cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(110, 110, 110))
    return turned, centre


VIDEO_FRAMES = 9  # 3 s at 3 fps


def envelope(aligner: Any, faces: list[tuple[np.ndarray, tuple[float, float, float, float]]], *,
             video: bool = False) -> dict[str, Any]:
    """Found rate per (width, angle) over ``faces`` (image, face box): in one frame, or (``video``) within
    ``VIDEO_FRAMES`` sampled frames of a still scene with tracking on, as ``cribside run`` searches."""
    rng = np.random.default_rng(0)
    if not faces:
        raise CribsideError("no face found in the envelope photos")
    table = {str(width): {str(angle): found_placed(aligner, faces, width, angle, rng, video=video) / len(faces)
                          for angle in ANGLES} for width in WIDTHS}
    return {"faces": len(faces), "frame": list(FRAME[::-1]), "found": table, "video": video}


def photo_faces(aligner: Any, photos: list[Path]) -> list[tuple[np.ndarray, tuple[float, float, float, float]]]:
    """(image, face box) of each photo the aligner finds a face in."""
    faces = []
    for path in photos:
        image = cv2.imread(str(path))
        aligner.reset()  # each photo's face box from its own detection, not from the previous photo's track
        face = aligner.align(image) if image is not None else None
        if face is not None:
            faces.append((image, face.box))
    return faces


def found_placed(aligner: Any, faces: list[tuple[np.ndarray, tuple[float, float, float, float]]], width: int,
                 angle: float, rng: np.random.Generator, *, video: bool = False) -> int:
    """How many of ``faces``, each placed by :func:`place` at ``width`` and ``angle``, the aligner finds
    (its face's centre within half a face width): in one frame, or (``video``) within ``VIDEO_FRAMES``."""
    found = 0
    for image, box in faces:
        frame, centre = place(image, box, width, angle, rng)
        got = None
        aligner.reset()
        for _ in range(VIDEO_FRAMES if video else 1):
            got = aligner.align(frame)
            if got is not None:
                break
        if got is not None:
            gx, gy = got.box[0] + got.box[2] / 2, got.box[1] + got.box[3] / 2
            found += math.dist((gx, gy), centre) < 0.5 * max(width, got.box[2])
    return found


def format_envelope(env: dict[str, Any], what: str = "faces") -> str:
    """The envelope as a Markdown table (rows: face width, columns: angle)."""
    how = (f"within {VIDEO_FRAMES} frames of video at 3 fps, tracking on" if env["video"]
           else "single frames, no tracking")
    lines = [f"Envelope: {env['faces']} real {what} in a {env['frame'][0]}x{env['frame'][1]} frame, share found ({how})", "",
             "| width px | " + " | ".join(f"{a}°" for a in ANGLES) + " | -60..60 | all |",
             "|---|" + "---|" * (len(ANGLES) + 2)]
    for width, row in env["found"].items():
        mid = [row[str(a)] for a in ANGLES if -60 <= a <= 60]
        lines.append(f"| {width} | " + " | ".join(f"{row[str(a)]:.2f}" for a in ANGLES)
                     + f" | {np.mean(mid):.2f} | {np.mean(list(row.values())):.2f} |")
    return "\n".join(lines)


INFANT_FACES_PER_CHILD = 4


def infant_faces(folder: Path, annotations: Path,
                 per_child: int = INFANT_FACES_PER_CHILD) -> list[tuple[str, np.ndarray, tuple[float, float, float, float]]]:
    """(name, frame, face box) of ``per_child`` clear faces of each child in the shared data's ``infants``
    folder (see the module), evenly spread over the frames where each child's face is clear. The children
    whose videos are there are used (all four in the shared data).

    Raises:
        CribsideError: no child's video is there, or a child has fewer clear faces than ``per_child``.
    """
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.pose import CLEAR, NOT_CLASSIFIED

    sources = _infant_frames(folder, annotations)
    if not sources:
        raise CribsideError(f"--infants {folder}: no icatcher_plus_lookit/fd_video.mp4 (with its face counts), "
                            "icatcher_plus_lookit/test_short.mp4 or lookit_laughter/labels.csv")
    out = []
    with FaceAligner() as aligner:
        for child, frames in sources.items():
            clear = []
            for name, image in frames[::2]:  # every other candidate: neighbouring frames are nearly the same face
                face = aligner.align(image)
                if face is not None and face.pose not in NOT_CLASSIFIED and face.score >= CLEAR:
                    clear.append((f"{child}: {name}", image, face.box))
            if len(clear) < per_child:
                raise CribsideError(f"--infants {folder}: {child} has {len(clear)} clear faces, want {per_child}")
            out += [clear[int(j)] for j in np.linspace(0, len(clear) - 1, per_child).round()]
    return out


def _infant_frames(folder: Path, annotations: Path) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Per child, (name, frame) candidates for :func:`infant_faces`, each frame already cut to the child."""
    icatcher, lookit = folder / "icatcher_plus_lookit", folder / "lookit_laughter"
    sources: dict[str, list[tuple[str, np.ndarray]]] = {}
    counts_file = icatcher / "fd_video_face_counts_per_frame.csv"
    if (icatcher / "fd_video.mp4").is_file() and counts_file.is_file():
        counts = _face_counts(counts_file)
        sources["iCatcher+ fd_video"] = [(f"fd_video.mp4 frame {i}", image) for i, image in _video_frames(icatcher / "fd_video.mp4")
                                         if counts.get(i) == 1]
    if (icatcher / "test_short.mp4").is_file():
        sources["iCatcher+ test_short"] = [(f"test_short.mp4 frame {i}", image)
                                           for i, image in _video_frames(icatcher / "test_short.mp4")]
    if (lookit / "labels.csv").is_file():
        ann = read_lookit_annotations(annotations)
        for clip in csv.DictReader((lookit / "labels.csv").open(encoding="utf-8")):
            name, step, split = Path(clip["file"]).name, float(clip["fps"]) / _SAMPLE_FPS, ann.splits[clip["child_id"]]
            due = 0.0
            for i, image in _video_frames(lookit / clip["file"]):
                if i < due:
                    continue
                due += step
                if ann.visible.get((name, i)) and (name, i) not in ann.parent_across:
                    x = int(split * image.shape[1])  # the parent's side painted out
                    if clip["child_side_of_frame"].upper() == "LEFT":
                        image[:, x:] = 110
                    else:
                        image[:, :x] = 110
                    sources.setdefault(f"Lookit {clip['child_id']}", []).append((f"{name} frame {i}", image))
    return sources


def _face_counts(path: Path) -> dict[int, int]:
    """iCatcher+'s manual face count per frame of ``fd_video.mp4`` (``frame_index,manual_face_count``)."""
    return {int(r["frame_index"]): int(r["manual_face_count"]) for r in csv.DictReader(path.open(encoding="utf-8"))}


def _video_frames(path: Path) -> list[tuple[int, np.ndarray]]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append((len(frames), image))
    capture.release()
    if not frames:
        raise CribsideError(f"{path}: no frames could be read")
    return frames


def no_face_frames(photos: Path | None, video: Path | None) -> list[tuple[str, np.ndarray]]:
    """Real frames in which no face is visible (see the module), upright."""
    frames: list[tuple[str, np.ndarray]] = []
    if photos is not None:
        annotations = photos / "annotations_derived.json"
        if not annotations.is_file():
            raise CribsideError(f"--no-face-photos {photos}: no annotations_derived.json")
        seen: set[str] = set()
        for items in json.loads(annotations.read_text(encoding="utf-8")).values():
            for item in items:
                file = photos / item["file"]
                if item["file"] in seen or not file.is_file():
                    continue
                seen.add(item["file"])
                image = cv2.imread(str(file))
                blurred = cv2.GaussianBlur(image, (0, 0), 25)
                for face in item["faces"]:
                    b = face["box"]
                    cx, cy, half = b["left"] + b["width"] / 2, b["top"] + b["height"] / 2, 0.8 * max(b["width"], b["height"])
                    x0, y0 = max(0, int(cx - half)), max(0, int(cy - 1.1 * half))
                    x1, y1 = int(cx + half), int(cy + half)
                    image[y0:y1, x0:x1] = blurred[y0:y1, x0:x1]  # forehead to chin, hair and ears partly left
                frames.append((f"{item['file']} (faces painted out)", image))
        if (photos / "dogs.jpg").is_file():
            frames.append(("dogs.jpg", cv2.imread(str(photos / "dogs.jpg"))))
    if video is not None:
        counts_file = video / "fd_video_face_counts_per_frame.csv"
        if not counts_file.is_file():
            raise CribsideError(f"--no-face-video {video}: no fd_video_face_counts_per_frame.csv")
        counts = _face_counts(counts_file)
        frames += [(f"fd_video.mp4 frame {i}", image) for i, image in _video_frames(video / "fd_video.mp4") if counts.get(i) == 0]
        if (video / "no_face.jpg").is_file():
            frames.append(("no_face.jpg", cv2.imread(str(video / "no_face.jpg"))))
    return frames


def false_faces(frames: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """Faces reported on frames without one, each frame searched at four rotations."""
    from cribside.edge.face.aligner import FaceAligner

    rotations = {0: None, 90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    found = []
    total = 0
    with FaceAligner() as aligner:
        for name, image in frames:
            for angle, code in rotations.items():
                total += 1
                face = aligner.align(image if code is None else cv2.rotate(image, code))
                if face is not None:
                    found.append({"frame": name, "rotation": angle, "presence": round(face.score, 3),
                                  "width_px": round(face.box[2]), "pose": face.pose})
    return {"frames": total, "sources": len(frames), "false_faces": found,
            "per_1000": 1000.0 * len(found) / max(total, 1)}


def format_false_faces(result: dict[str, Any]) -> str:
    """The false-face rate and each false face."""
    lines = [f"False faces: {result['sources']} real frames without a visible face x 4 rotations = {result['frames']} frames, "
             f"single-frame full search: {len(result['false_faces'])} false ({result['per_1000']:.0f} per 1,000 frames)"]
    lines += [f"- {f['frame']} at {f['rotation']} degrees: presence {f['presence']}, {f['width_px']} px wide, {f['pose']}"
              for f in result["false_faces"]]
    return "\n".join(lines)


class LookitAnnotations(NamedTuple):
    """The project's annotations of the Lookit clips (benchmarks/lookit, see its README)."""

    zones: dict[str, list[list[float]]]  # per child_id: the crib zone drawn, frame fractions
    splits: dict[str, float]  # per child_id: the x fraction between the child's and the parent's face centres
    visible: dict[tuple[str, int], bool]  # per (file, sampled frame): can the child's face be seen
    # per (file, sampled frame) where the parent leans across the split: her face's x, y, width (frame fractions)
    parent_across: dict[tuple[str, int], tuple[float, float, float]]


def read_lookit_annotations(folder: Path) -> LookitAnnotations:
    """The project's annotations of the Lookit clips: per scene (``zones.csv``) a crib zone (child_id,
    crib as a JSON polygon of frame fractions) and the x fraction between the child's face centres and the
    parent's (``child_parent_split_x``: the reference for "on the child"), per sampled frame whether
    the child's face can be seen (``child_face_visible.csv``: file name, frame index, yes/no), and the
    frames where the parent's face crosses that line (``parent_across_split.csv``: file, frame, the parent's
    face centre and width in frame fractions), where a face on the child's side can be the parent's.

    Raises:
        CribsideError: a file is missing or a row is malformed (named).
    """
    zones: dict[str, list[list[float]]] = {}
    splits: dict[str, float] = {}
    visible: dict[tuple[str, int], bool] = {}
    across: dict[tuple[str, int], tuple[float, float, float]] = {}
    for name in ("zones.csv", "child_face_visible.csv", "parent_across_split.csv"):
        if not (folder / name).is_file():
            raise CribsideError(f"--lookit-annotations {folder}: no {name}")
    for i, row in enumerate(csv.DictReader((folder / "zones.csv").open(encoding="utf-8")), start=2):
        try:
            zones[row["child_id"]] = [[float(x), float(y)] for x, y in json.loads(row["crib"])]
            splits[row["child_id"]] = float(row["child_parent_split_x"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CribsideError(f"{folder / 'zones.csv'} line {i}: {exc}") from None
    for i, row in enumerate(csv.DictReader((folder / "child_face_visible.csv").open(encoding="utf-8")), start=2):
        if row.get("child_face_visible") not in ("yes", "no") or not row.get("frame", "").isdigit():
            raise CribsideError(f"{folder / 'child_face_visible.csv'} line {i}: want file,frame,child_face_visible (yes/no)")
        visible[(row["file"], int(row["frame"]))] = row["child_face_visible"] == "yes"
    for i, row in enumerate(csv.DictReader((folder / "parent_across_split.csv").open(encoding="utf-8")), start=2):
        try:
            face = (float(row["parent_face_x"]), float(row["parent_face_y"]), float(row["parent_face_width"]))
            across[(row["file"], int(row["frame"]))] = face
        except (KeyError, TypeError, ValueError):
            raise CribsideError(f"{folder / 'parent_across_split.csv'} line {i}: "
                                "want file,frame,parent_face_x,parent_face_y,parent_face_width") from None
    return LookitAnnotations(zones, splits, visible, across)


def on_child(box: tuple[float, float, float, float], shape: tuple[int, ...], child_left: bool, split_x: float,
             parent: tuple[float, float, float] | None) -> bool:
    """Whether a face box (pixels) is the child's: on the child's side of the split, and not the parent's
    face where the annotations put it across the split (centres within half the larger face width)."""
    h, w = shape[:2]
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    if (cx < split_x * w) != child_left:
        return False
    if parent is None:
        return True
    px, py, pw = parent[0] * w, parent[1] * h, parent[2] * w
    return math.dist((cx, cy), (px, py)) >= 0.5 * max(pw, box[2])


_HALVES = {"LEFT": [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]], "RIGHT": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}
CHILD_HIT_ZONES = ("no zone", "half frame", "drawn zone")


def child_hits(folder: Path, annotations: Path, scale: float = 1.0) -> dict[str, Any]:
    """Child-hit figures on the Lookit clips: without a zone, with the child's half of the frame as the
    crib zone, and with the zone drawn for each scene (``annotations``, see :func:`read_lookit_annotations`);
    every frame resized by ``scale`` first (the zones and the reference are in frame fractions)."""
    from cribside.edge.face.aligner import FaceAligner
    from cribside.edge.face.pose import NOT_CLASSIFIED
    from cribside.edge.face.zones import CribZone

    labels = folder / "labels.csv"
    if not labels.is_file():
        raise CribsideError(f"--lookit {folder}: no labels.csv")
    clips = list(csv.DictReader(labels.open(encoding="utf-8")))
    drawn, splits, visible, across = read_lookit_annotations(annotations)
    missing = sorted({clip["child_id"] for clip in clips} - set(drawn))
    if missing:
        raise CribsideError(f"{annotations / 'zones.csv'}: no zone for child {', '.join(missing)}")

    def zone_for(name: str, clip: dict[str, str]) -> CribZone | None:
        if name == "half frame":
            return CribZone.from_lists(_HALVES[clip["child_side_of_frame"].upper()])
        return CribZone.from_lists(drawn[clip["child_id"]]) if name == "drawn zone" else None

    out: dict[str, Any] = {"clips": len(clips), "scale": scale}
    for name in CHILD_HIT_ZONES:
        counts = {"sampled": 0, "visible": 0, "face": 0, "on_child": 0, "child_visible": 0, "face_not_visible": 0,
                  "classified_visible": 0, "classified_not_visible": 0, "caregiver_present": 0}
        ms: dict[str, list[float]] = {"tracked": [], "re-detected": [], "lost": []}
        for clip in clips:
            side = clip["child_side_of_frame"].upper()
            split_x = splits[clip["child_id"]]
            file_name = Path(clip["file"]).name
            capture = cv2.VideoCapture(str(folder / clip["file"]))
            step, due, index, had_face = float(clip["fps"]) / _SAMPLE_FPS, 0.0, 0, False
            with FaceAligner(track=True, zone=zone_for(name, clip)) as aligner:
                while True:
                    ok, image = capture.read()
                    if not ok:
                        break
                    if index >= due:
                        due += step
                        if scale != 1.0:
                            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
                        key = (file_name, index)
                        if key not in visible:
                            raise CribsideError(f"{annotations / 'child_face_visible.csv'}: no row for {key[0]} frame {key[1]}")
                        face = aligner.align(image)
                        spent = sum(aligner.timings.values())
                        counts["sampled"] += 1
                        counts["visible"] += int(visible[key])
                        if face is None:
                            ms["lost"].append(spent)
                        else:
                            ms["tracked" if had_face else "re-detected"].append(spent)
                            counts["face"] += 1
                            child = on_child(face.box, image.shape, side == "LEFT", split_x, across.get(key))
                            counts["on_child"] += int(child)
                            counts["child_visible"] += int(child and visible[key])
                            counts["face_not_visible"] += int(not visible[key])
                            classified = face.pose not in NOT_CLASSIFIED
                            counts["classified_visible"] += int(classified and visible[key])
                            counts["classified_not_visible"] += int(classified and not visible[key])
                            counts["caregiver_present"] += int(face.other_faces > 0)
                        had_face = face is not None
                    index += 1
            capture.release()
        timing = {k: {"frames": len(v), "mean_ms": float(np.mean(v)) if v else None,
                      "p95_ms": float(np.percentile(v, 95)) if v else None} for k, v in ms.items()}
        out[name] = counts | {"timing": timing}
    return out


def format_child_hits(hits: dict[str, Any]) -> str:
    """Child hits and timings as Markdown tables."""
    size = "" if hits.get("scale", 1.0) == 1.0 else f", frames resized by {hits['scale']:g}"
    lines = [f"Child hits: {hits['clips']} Lookit clips at 3 fps, tracked{size}", "",
             "| crib zone | sampled frames | child's face visible | a face taken | on the child, of taken "
             "| child hit, of frames with the child's face visible | of all sampled | faces taken on frames without it "
             "| caregiver_present |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in CHILD_HIT_ZONES:
        c = hits[name]
        lines.append(f"| {name} | {c['sampled']} | {c['visible']} | {c['face']} | {c['on_child'] / max(c['face'], 1):.2f} "
                     f"| **{c['child_visible'] / max(c['visible'], 1):.2f}** | {c['on_child'] / c['sampled']:.2f} "
                     f"| {c['face_not_visible']} | {c['caregiver_present']} |")
    lines += ["", "Classified (a face taken, not in profile and not unclear), of the frames with and without the child's "
              "face visible:", "", "| crib zone | face visible: classified | face not visible: classified |", "|---|---|---|"]
    for name in CHILD_HIT_ZONES:
        c = hits[name]
        hidden = c["sampled"] - c["visible"]
        lines.append(f"| {name} | {c['classified_visible']} of {c['visible']} | {c['classified_not_visible']} of {hidden} |")
    lines += ["", "| aligner ms, drawn zone | frames | mean | p95 |", "|---|---|---|---|"]
    timing = hits["drawn zone"]["timing"]
    for kind, t in timing.items():
        mean = "n/a" if t["mean_ms"] is None else f"{t['mean_ms']:.1f}"
        p95 = "n/a" if t["p95_ms"] is None else f"{t['p95_ms']:.1f}"
        lines.append(f"| {kind} | {t['frames']} | {mean} | {p95} |")
    if timing["lost"]["mean_ms"] is not None and timing["tracked"]["mean_ms"]:
        lines.append(f"\nA lost frame costs {timing['lost']['mean_ms'] / timing['tracked']['mean_ms']:.1f}x a tracked one (mean).")
    return "\n".join(lines)
