"""``cribside zones --config FILE [--camera ID] [--image FILE] --out snapshot.png``: check a crib zone.

Grabs one frame from the camera (or reads ``--image``), finds every face, and draws the camera's crib
zone (green), its masks (red), and each face: the one the device would watch as the infant (green),
other faces in the crib zone (orange: the device reports ``caregiver_present``), faces in a mask or
outside the crib, and detections in the zone that are no face (grey). It prints the same as one line per
face, so a technician can set and check a zone in a minute: edit ``cameras[].zone`` in the config, run
again, look at the picture.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cribside.edge.errors import CribsideError

GREEN, ORANGE, RED, GREY = (60, 200, 60), (0, 150, 255), (40, 40, 220), (150, 150, 150)
_FIRST_FRAMES = 15  # a camera's first frames can be dark while its exposure settles


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("--config", type=Path, required=True, help="device config YAML with cameras[].zone")
    parser.add_argument("--camera", help="device_id of the camera (default: the first in the config)")
    parser.add_argument("--image", type=Path, help="check on this image instead of a frame from the camera")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write (the frame with zones and faces drawn)")


def run(args: argparse.Namespace) -> int:
    """Grab or read the frame, find the faces, draw, print."""
    from cribside.edge.config import load_config
    from cribside.edge.config.zones import crib_zone
    from cribside.edge.face.aligner import FaceAligner

    config = load_config(args.config)
    if not config.cameras:
        raise CribsideError(f"{args.config}: no cameras")
    ids = config.device_ids
    if args.camera is not None and args.camera not in ids:
        raise CribsideError(f"--camera {args.camera}: not in {args.config} (cameras: {', '.join(ids)})")
    camera = config.cameras[ids.index(args.camera) if args.camera else 0]
    frame = _read_image(args.image) if args.image is not None else _grab(camera)
    zone = crib_zone(camera)
    with FaceAligner(zone=zone) as aligner:
        infant = aligner.align(frame)
        faces = aligner.faces(frame)
        rows = classify_faces(frame.shape, zone, faces, infant, is_face=lambda det: aligner.is_face(frame, det))
    picture = draw(frame, zone, rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), picture):
        raise CribsideError(f"cannot write {args.out}")
    others = sum(r["role"] == "caregiver" for r in rows)
    print(f"{camera.device_id}: {len(rows)} face(s); infant: {'found' if infant is not None else 'none'}; "
          f"other faces in the crib zone: {others}" + (" (caregiver_present: true)" if infant is not None and others else ""))
    for r in rows:
        x, y, w, h = r["box"]
        print(f"  {r['role']:<10} at ({x + w / 2:.0f}, {y + h / 2:.0f}) px, {w:.0f} px wide: {r['why']}")
    print(f"snapshot: {args.out}")
    return 0


def classify_faces(shape: tuple[int, ...], zone: Any, faces: list[Any], infant: Any,
                   is_face: Callable[[Any], bool] = lambda det: True) -> list[dict[str, Any]]:
    """Each detected face with its role: ``infant``, ``caregiver`` (another face in the zone that
    ``is_face`` counts, as the device does for ``caregiver_present``), ``ignored``."""
    rows = []
    centre = None
    if infant is not None:
        x, y, w, h = infant.box
        centre, size = (x + w / 2, y + h / 2), max(w, h)
    for det in faces:
        cx, cy = det.center_px
        w, h = det.size_px
        box = (cx - w / 2, cy - h / 2, w, h)
        if centre is not None and math.dist(det.center_px, centre) < 0.5 * max(size, w, h):
            rows.append({"box": box, "role": "infant", "why": "the face the device watches"})
        elif zone.contains(det.center_px, shape):
            rows.append({"box": box, "role": "caregiver", "why": "another face in the crib zone: never classified"}
                        if is_face(det) else
                        {"box": box, "role": "ignored",
                         "why": f"in the crib zone, but no face (detector score {det.score:.2f}, the landmark model refuses it)"})
        elif zone.masked(det.center_px, shape):
            rows.append({"box": box, "role": "ignored", "why": "in a mask"})
        else:
            rows.append({"box": box, "role": "ignored", "why": "outside the crib zone"})
    if infant is not None and not any(r["role"] == "infant" for r in rows):
        x, y, w, h = infant.box
        rows.append({"box": (x, y, w, h), "role": "infant", "why": "the face the device watches (found by a rotated search)"})
    return rows


def draw(frame: np.ndarray, zone: Any, rows: list[dict[str, Any]]) -> np.ndarray:
    """The frame with the crib zone, masks and faces drawn."""
    out = frame.copy()
    shade = frame.copy()
    crib, masks = zone.pixels(frame.shape)
    for mask in masks:
        cv2.fillPoly(shade, [mask], RED)
    if crib is not None:
        cv2.fillPoly(shade, [crib], GREEN)
    out = cv2.addWeighted(shade, 0.25, out, 0.75, 0)
    if crib is not None:
        cv2.polylines(out, [crib], True, GREEN, 2)
    for mask in masks:
        cv2.polylines(out, [mask], True, RED, 2)
    colours = {"infant": GREEN, "caregiver": ORANGE, "ignored": GREY}
    for r in rows:
        x, y, w, h = (int(round(v)) for v in r["box"])
        colour = colours[r["role"]]
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, 3 if r["role"] == "infant" else 2)
        cv2.putText(out, r["role"], (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv2.LINE_AA)
    label = "crib zone: whole frame" if crib is None else "crib zone (green), masks (red)"
    cv2.putText(out, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise CribsideError(f"--image {path}: not a readable image")
    return image


def _grab(camera: Any) -> np.ndarray:
    """One frame from the camera (after its first frames, when exposure has settled)."""
    from cribside.edge.sources.base import SourceOptions
    from cribside.edge.sources.registry import open_source

    source = open_source(camera.source, SourceOptions(width=camera.width, height=camera.height))
    try:
        image = None
        for i, frame in enumerate(source.frames()):
            image = frame.image
            if i + 1 >= _FIRST_FRAMES or not source.live:
                break
    finally:
        source.close()
    if image is None:
        raise CribsideError(f"camera {camera.device_id}: no frame from {camera.source}")
    return image
