"""``cribside align``: align faces in images or videos and print one record per frame."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.face.aligner import FaceAligner
from cribside.edge.face.contact_sheet import write_contact_sheet
from cribside.edge.face.frames import read_frames
from cribside.edge.face.settings import SELECT_MODES, AlignerSettings
from cribside.edge.face.types import AlignedFace

_PAPER_FPS = 3.0  # the paper samples its videos at 3 frames per second
_SHEET_MAX_TILES = 400  # a long video's sheet stays a viewable size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_VIDEO", help="image or video files")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image or sampled frame")
    parser.add_argument("--save-crops", metavar="DIR", default=None,
                        help="write the 64x64 crops (PNG) and contact_sheet.png to DIR")
    parser.add_argument("--fps", type=float, default=_PAPER_FPS,
                        help=f"video sampling rate in frames per second (default {_PAPER_FPS:g}, as the paper; 0 = every frame)")
    parser.add_argument("--select", choices=SELECT_MODES, default="largest",
                        help="which face when there are several (default: largest)")
    parser.add_argument("--models-dir", default=None, help="face models folder (default: see cribside fetch-models)")


def _record(path: Path, frame: int, face: AlignedFace | None) -> dict[str, Any]:
    record: dict[str, Any] = {"path": str(path), "frame": frame}
    if face is None:
        record.update(face=False, box=None, left_eye=None, right_eye=None, eye_angle_deg=None, score=None)
    else:
        record.update(face.to_json())
    return record


def _line(record: dict[str, Any]) -> str:
    where = f"{record['path']} [frame {record['frame']}]"
    if not record["face"]:
        return f"{where}: no face"
    x, y, w, h = record["box"]
    return (f"{where}: face at x={x:.0f} y={y:.0f} w={w:.0f} h={h:.0f}, "
            f"eyes {tuple(record['left_eye'])} {tuple(record['right_eye'])}, eye angle {record['eye_angle_deg']:+.1f} deg")


def run(args: argparse.Namespace) -> int:
    """Align every input; report bad files on stderr and carry on; exit 2 if any failed."""
    out_dir = Path(args.save_crops) if args.save_crops else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    settings = AlignerSettings(select=args.select)
    failed = 0
    sheet: list[tuple[np.ndarray | None, str]] = []
    with FaceAligner(settings, models_dir=args.models_dir) as aligner:
        for number, name in enumerate(args.inputs):
            path = Path(name)
            try:
                is_video, frames = read_frames(path, args.fps)
                # Videos are tracked frame to frame; each file starts afresh.
                aligner.track = is_video
                aligner.reset()
                for index, frame in frames:
                    face = aligner.align(frame)
                    record = _record(path, index, face)
                    print(json.dumps(record) if args.json else _line(record), flush=True)
                    if out_dir is not None:
                        label = f"{path.stem}:{index}"
                        if face is not None:
                            cv2.imwrite(str(out_dir / f"{number:03d}_{path.stem}_f{index:05d}.png"), face.crop)
                        if len(sheet) < _SHEET_MAX_TILES:
                            sheet.append((None if face is None else face.crop, label))
            except CribsideError as exc:
                failed += 1
                print(f"cribside align: error: {exc}", file=sys.stderr, flush=True)
    if out_dir is not None:
        write_contact_sheet(out_dir / "contact_sheet.png", sheet)
        print(f"crops and contact_sheet.png written to {out_dir}", file=sys.stderr)
    return 2 if failed else 0
