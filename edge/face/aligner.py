"""FaceAligner: detect, mesh and crop one face per frame, optionally tracking it.

Stages per call: BlazeFace detection (skipped while tracking), the 468-point mesh on
a rotated ROI, then one warp to the crop. A face is reported only when the mesh
model says a face is present, so an empty cot, a dog or a black frame give None,
never a crop of something else.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.face.anchors import FULL_RANGE, SHORT_RANGE
from cribside.edge.face.assets import FACE_MODELS, ensure_face_models
from cribside.edge.face.candidates import order_by_select, roi_from_landmarks, rois_from_detection
from cribside.edge.face.crop import crop_rect, eye_angle_rad, eye_centers, warp_crop
from cribside.edge.face.detector import BlazeFaceDetector, Detection, rotated_canvas
from cribside.edge.face.geometry import RotatedRect
from cribside.edge.face.landmarks import FaceMeshModel, MeshResult
from cribside.edge.face.pose import pose_of, yaw_ratio
from cribside.edge.face.settings import AlignerSettings
from cribside.edge.face.types import AlignedFace
from cribside.edge.face.zones import CribZone

# Faces tried per frame before giving up: a parent, a sibling and the infant.
_MAX_CANDIDATES = 3
# Mesh runs per frame before giving up on it: bounds the time of a frame without a
# face (head turned away) to a few tens of ms on one core.
_MAX_MESH_RUNS = 12
# Detections whose centres are closer than this fraction of the face size are one face.
_SAME_FACE_DISTANCE = 0.5
# A close-range re-detection farther than this (fraction of the ROI side) from the
# ROI's centre is another face: a neighbour's centre is at least one face width
# (~0.67 of the 1.5x ROI) away, while a poor first box can be off by ~0.3.
_SAME_FACE_OFFSET = 0.4
# Refinement stops early once the mesh turns less than this between passes.
_REFINE_SETTLED_RAD = math.radians(1.0)
# Frames after a loss that still get the whole search (then it is spread over frames).
_FULL_SEARCH_FRAMES = 2
# Zoomed tiles for small faces: squares of this share of the frame's short side (at least _TILE_MIN_PX),
# overlapping by a quarter.
_TILE_FRACTION = 0.5
_TILE_MIN_PX = 160
_TILE_STRIDE = 0.75


class _Pass(NamedTuple):
    """One detection pass: detector, in-plane angle of the whole frame, score threshold (None: the
    detector's), tile (None: the whole frame; else a rotated square seen upright), how many ROIs of
    each detection the mesh may try (the upright re-detection first, then the detector's own), and the
    largest face it may report as a share of the frame's longer side (None: any)."""

    detector: BlazeFaceDetector
    angle: float
    min_score: float | None = None
    tile: RotatedRect | None = None
    rois: int = 3
    max_face: float | None = None


# Rotated copies in the fresh search after a tracked face was lost: the 3 (of 7) nearest its last angle.
# Each copy is one more look, which also finds faces the upright passes miss (a pacifier, a hand): on
# iCatcher's infant video 3 keep 0.96 of the faces (all 7: 0.97, 2: 0.95); on the Lookit clips 3 took a
# lost frame from 3.2x a tracked one to 3.0x (measured before the windows of _NEAR_LOST).
_FRESH_ROTATED = 3
# Detection windows where a tracked face was lost: (detector, side as a multiple of the lost ROI's side),
# about 2 and 4 face widths. A child who turns towards 3/4 or profile, or moves, between two frames at 3 fps
# is seen there at its own scale, where the whole-frame passes see it a few pixels wide: on the Lookit clips
# with a drawn zone they take child hits from 204 to 213 of 232, and the search stops sooner, so a lost frame
# costs less (2.8x a tracked one on the mean of nine runs, was 3.0x). Each detection in them gets 2 mesh ROIs, not 3, so they
# leave the rotated copies their share of the mesh budget (with 3, iCatcher's video lost one more face).
_NEAR_LOST = (("short", 1.33), ("full", 2.67))
# Rotated copies searched with the full-range detector instead of the short-range one: upside down only.
# It finds small upside-down faces the short-range model misses (an infant lying head towards the camera),
# and through the pass's upright re-detection some small faces at other angles. 12 real faces in a
# 1280x720 frame, single frame: 48-160 px at any angle 0.97-1.00 (was 0.92), the worst cell 0.92 (was
# 0.67); 40 px 0.93 (was 0.78). Full-range at +-90 degrees as well took a hand for a face on an empty frame
# of iCatcher's infant video, so those copies stay short-range.
_FULL_RANGE_ROTATIONS_DEG: tuple[float, ...] = (180.0,)
# While a face is tracked (no detection), look for other faces in the crib zone every this many frames
# (at 3 fps: once a second; the two upright detections, a few ms).
_OTHERS_EVERY = 3
# Another face in the crib zone (caregiver_present) is a detection the detector is sure of, or one the
# mesh accepts (on its ROI or its upright re-detection). Below this score the detector also fires on
# clothing prints and hands: on the Lookit clips with a zone, every caregiver_present of unchecked
# detections (8 frames) was the toddler's dress print or a hand; real faces half out of the frame, which
# the mesh refuses, mostly score above it (benchmarks/RESULTS.md).
_SURE_FACE_SCORE = 0.7
# The fine pass: the short-range model over the crib zone's bounding box (the whole frame without a zone),
# fed an input of that box's shape at this share of its size (multiples of 16 px, at most _FINE_MAX_PIXELS),
# where the box is longer than _FINE_MIN_SIDE. At its own 128 px input the model sees a 1280x720 frame at
# a tenth of its size, where a real infant's face under 96 px is a few pixels: of 16 webcam infants'
# faces placed in a 1280x720 frame (upright, +-30 and +-60 degrees, 80 cases per width) the 128 input saw
# 0, 0, 1 and 20 at 40, 48, 64 and 96 px, a square 256 input 9, 24, 61 and 76, a square 320 input 31, 50,
# 78 and 78, an input of the frame's shape at 0.3 (384x224) 51, 70, 78 and 79
# (benchmarks/bench_short_range_input.py). Its cost grows with its pixels, and an input of the box's own
# shape spends none on letterbox borders (384x224: 26.9 ms a pass on machine B, the square 256 18.3 and 320
# 30.5). 0.25 (320x176) left real infants' faces 48 px wide at 0.89 in a single frame, 0.3 finds 0.99. A
# 640x480 frame gets none, nor does a zone of 640 px or less: the 128 px pass sees them at 0.2 or finer.
_FINE_SCALE = 0.3
_FINE_MIN_SIDE = 640
_FINE_MAX_PIXELS = 320 * 320  # a larger frame is seen coarser (1920x1080: 0.22), its cost bounded
# The fine pass reports only detections smaller than this share of the frame's longer side (16 px of the
# 128 px pass's input): larger faces the 128 px pass sees (it finds 78 of 80 infants' faces 160 px wide in
# 1280x720, 0.125 of it), and a finer look at them only adds false faces: with no bound it took the dog of
# dogs.jpg for a face at every rotation, once as a frontal face at presence 0.98; at 0.3 of the frame with
# a bound of 0.15 it still took it at three rotations as frontal (its detections there measure 0.14-0.28).
_FINE_MAX_FACE = 0.125


def as_bgr(image: object) -> np.ndarray:
    """Check an input frame and return it as (H, W, 3) uint8 BGR.

    Grayscale (H, W) or (H, W, 1) and BGRA (H, W, 4) are valid images and are converted.

    Raises:
        CribsideError: None, not an array, wrong dtype, empty, or an unsupported shape.
    """
    if image is None:
        raise CribsideError("align: image is None (the frame was not read)")
    if not isinstance(image, np.ndarray):
        raise CribsideError(f"align: image must be a numpy array, got {type(image).__name__}")
    if image.size == 0:
        raise CribsideError(f"align: image is empty (shape {image.shape})")
    if image.dtype != np.uint8:
        raise CribsideError(f"align: image dtype must be uint8, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)  # OpenCV refuses views with negative strides
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise CribsideError(f"align: image must be HxW, HxWx3 or HxWx4, got shape {image.shape}")


class FaceAligner:
    """Turns BGR frames into ``AlignedFace`` crops (or None when there is no face).

    Args:
        settings: crop and detector settings; default ``AlignerSettings()``.
        track: reuse the previous frame's mesh to place the next ROI and skip
            detection (video); a single image never depends on earlier calls
            unless this is on. ``reset()`` drops the track.
        zone: where the infant can be (edge/face/zones.py): only a face whose centre is in the crib
            polygon and in no mask is taken; a tracked face that leaves it is dropped. Other faces in
            the zone are counted (``AlignedFace.other_faces``), never taken while the infant is tracked.
            Not part of ``settings`` (the crops, and so the models, do not depend on it).
        threads: LiteRT CPU threads per model.
        models_dir: folder of the face models; default ``$CRIBSIDE_FACE_MODELS`` or
            the user cache (see ``cribside fetch-models``).

    Raises:
        CribsideError: models missing, or settings pin different model files.
    """

    def __init__(self, settings: AlignerSettings | None = None, *, track: bool = False, threads: int = 1,
                 models_dir: str | Path | None = None, zone: CribZone | None = None) -> None:
        self.settings = settings or AlignerSettings()
        self.zone = zone or CribZone()
        self._others = 0
        self._since_check = 0
        self._search_step = 0
        self._lost_roi: RotatedRect | None = None  # where the tracked face was when it was lost
        self._check_model_pins()
        paths = ensure_face_models(models_dir)
        s = self.settings
        self._short = BlazeFaceDetector(paths["detector_short"], SHORT_RANGE, s.detector_score_threshold, s.nms_iou_threshold, threads)
        self._short_model, self._threads = paths["detector_short"], threads
        self._fine_by_shape: dict[tuple[int, int], BlazeFaceDetector] = {}
        self._full = (BlazeFaceDetector(paths["detector_full"], FULL_RANGE, s.full_range_score_threshold, s.nms_iou_threshold, threads)
                      if s.use_full_range else None)
        self._mesh = FaceMeshModel(paths["landmarks"], threads)
        self.track = track
        self._roi: RotatedRect | None = None
        self.timings: dict[str, float] = {"detect": 0.0, "landmarks": 0.0, "warp": 0.0}

    def _check_model_pins(self) -> None:
        pins = {"detector_short": self.settings.detector_short_sha256, "detector_full": self.settings.detector_full_sha256,
                "landmarks": self.settings.landmarks_sha256}
        for key, sha in pins.items():
            if sha != FACE_MODELS[key][1]:
                raise CribsideError(
                    f"aligner settings pin {key} sha256 {sha[:12]}..., but this cribside ships {FACE_MODELS[key][1][:12]}...: "
                    "the crops would differ from the ones the models were trained on"
                )

    def reset(self) -> None:
        """Forget the tracked face; the next call detects from scratch."""
        self._roi = None
        self._others = 0
        self._since_check = 0
        self._search_step = 0
        self._lost_roi = None

    def align(self, bgr: np.ndarray) -> AlignedFace | None:
        """Align the selected face of one frame.

        Args:
            bgr: (H, W, 3) uint8 BGR frame; (H, W) gray and (H, W, 4) BGRA are accepted.

        Returns:
            The aligned face, or None when no face passes the presence gate.

        Raises:
            CribsideError: the input is not an image (None, empty, wrong dtype or shape).
        """
        if self._mesh is None:
            raise CribsideError("align: this FaceAligner was closed")
        image = as_bgr(bgr)
        self.timings = {"detect": 0.0, "landmarks": 0.0, "warp": 0.0}
        found = self._mesh_tracked(image) if (self.track and self._roi is not None) else None
        detections: list[Detection] | None = None
        if found is None:
            found, detections = self._detect_and_mesh(image)
        face = None
        if found is not None:
            start = time.perf_counter()
            face = self._to_aligned(image, found)
            self.timings["warp"] = (time.perf_counter() - start) * 1000.0
        if face is not None:
            face = dataclasses.replace(face, other_faces=self._count_others(image, face, detections))
        if self.track and face is not None and found is not None:
            self._roi = roi_from_landmarks(found.landmarks_px, self.settings.roi_scale)
        else:
            self._roi = None
        return face

    def _timed_detect(self, detector: BlazeFaceDetector, image: np.ndarray, angle_rad: float, min_score: float | None,
                      tile: RotatedRect | None = None) -> list[Detection]:
        """One detection pass over the whole frame (turned by ``angle_rad``) or inside ``tile``, timed."""
        start = time.perf_counter()
        detections = detector.detect(image, angle_rad, min_score) if tile is None else detector.detect_in(image, tile)
        self.timings["detect"] += (time.perf_counter() - start) * 1000.0
        return detections

    def _run_mesh(self, image: np.ndarray, roi: RotatedRect) -> MeshResult:
        start = time.perf_counter()
        result = self._mesh.run(image, roi)
        self.timings["landmarks"] += (time.perf_counter() - start) * 1000.0
        return result

    def _mesh_tracked(self, image: np.ndarray) -> MeshResult | None:
        assert self._roi is not None
        result = self._run_mesh(image, self._roi)
        if result.presence >= self.settings.presence_threshold and self._in_zone(result.landmarks_px, image):
            return result
        self._lost_roi = self._roi  # where the search looks first
        self._roi = None  # lost the face (or it left the crib zone): re-detect in this very frame
        return None

    def _in_zone(self, landmarks: np.ndarray, image: np.ndarray) -> bool:
        x0, y0 = landmarks.min(axis=0)
        x1, y1 = landmarks.max(axis=0)
        return self.zone.contains(((x0 + x1) / 2, (y0 + y1) / 2), image.shape)

    def faces(self, image: np.ndarray) -> list[Detection]:
        """Every face the upright detectors see in a frame (zone or not), one detection per face.

        For the zone check (``cribside zones``); no mesh is fitted, so a face the mesh would refuse
        may be listed.
        """
        image = as_bgr(image)
        found: list[Detection] = []
        for search in self._passes()[:self._upright_count()]:
            for det in self._timed_detect(search.detector, image, search.angle, search.min_score):
                if not any(_same_face(det, f) for f in found):
                    found.append(det)
        return found

    def _count_others(self, image: np.ndarray, face: AlignedFace, detections: list[Detection] | None) -> int:
        """Faces in the crib zone other than ``face``: from this frame's detections when it had any,
        else from a fresh upright detection every ``_OTHERS_EVERY`` tracked frames (kept in between).
        A detection counts when it is a face (:meth:`is_face`): a false caregiver says someone is with the
        infant when nobody is."""
        if detections is None:
            self._since_check += 1
            if self._since_check < _OTHERS_EVERY:
                return self._others
            detections = self.faces(image)
        self._since_check = 0
        x, y, w, h = face.box
        me = (x + w / 2, y + h / 2)
        others: list[Detection] = []
        for det in detections:
            far = math.dist(det.center_px, me) >= _SAME_FACE_DISTANCE * max(w, h, *det.size_px)
            if (far and self.zone.contains(det.center_px, image.shape) and not any(_same_face(det, o) for o in others)
                    and self.is_face(image, det)):
                others.append(det)
        self._others = len(others)
        return self._others

    def is_face(self, image: np.ndarray, det: Detection) -> bool:
        """Whether a detection counts as another face (``caregiver_present``): it scores ``_SURE_FACE_SCORE``
        or more, or the mesh model accepts it on its ROI or, failing that, on its upright re-detection (a
        caregiver leaning over the crib is often upside down)."""
        image = as_bgr(image)
        if det.score >= _SURE_FACE_SCORE:
            return True
        first = rois_from_detection(det, self.settings.roi_scale)[0]
        if self._run_mesh(image, first).presence >= self.settings.presence_threshold:
            return True
        upright = self._upright(image, first)
        return upright is not None and self._run_mesh(image, upright).presence >= self.settings.presence_threshold

    def _fine(self, shape: tuple[int, ...]) -> list[_Pass]:
        """The fine passes over a frame of ``shape``: upright, over the crib zone's bounding box (the whole
        frame without a zone), then the rotated copies over the whole frame; none when that region's longer
        side is ``_FINE_MIN_SIDE`` or less. Only faces under ``_FINE_MAX_FACE`` of the frame."""
        h, w = shape[:2]
        crib, _ = self.zone.pixels(shape)
        x0, y0, x1, y1 = (0.0, 0.0, float(w), float(h)) if crib is None else (*crib.min(axis=0), *crib.max(axis=0))
        if max(x1 - x0, y1 - y0) <= _FINE_MIN_SIDE:
            return []
        upright = self._fine_detector(x1 - x0, y1 - y0)
        tile = None
        if crib is not None:  # the zone's box, widened to the input's shape
            in_w, in_h = upright.input_shape
            scale = min(in_w / (x1 - x0), in_h / (y1 - y0))
            tile = RotatedRect((x0 + x1) / 2, (y0 + y1) / 2, in_w / scale, in_h / scale, 0.0)
        retry = self.settings.retry_score_threshold
        rotated = [_Pass(self._fine_detector(*rotated_canvas((h, w), math.radians(a))), math.radians(a), retry,
                         max_face=_FINE_MAX_FACE) for a in self.settings.retry_angles_deg]
        return [_Pass(upright, 0.0, None, tile, max_face=_FINE_MAX_FACE), *rotated]

    def _fine_detector(self, width: float, height: float) -> BlazeFaceDetector:
        """The short-range detector fed a ``width`` x ``height`` region at ``_FINE_SCALE`` (or at most
        ``_FINE_MAX_PIXELS``), in multiples of 16 px. One interpreter per input shape, kept: a camera's
        frames and zone keep their size."""
        scale = min(_FINE_SCALE, math.sqrt(_FINE_MAX_PIXELS / (width * height)))
        shape = (max(16, 16 * round(scale * width / 16)), max(16, 16 * round(scale * height / 16)))
        if shape not in self._fine_by_shape:
            s = self.settings
            self._fine_by_shape[shape] = BlazeFaceDetector(self._short_model, SHORT_RANGE, s.detector_score_threshold,
                                                           s.nms_iou_threshold, self._threads, input_size=shape)
        return self._fine_by_shape[shape]

    def _upright_count(self) -> int:
        """How many of :meth:`_passes` come first and look at the whole frame upright."""
        return 2 if self._full is not None else 1

    def _passes(self) -> list[_Pass]:
        """Detection passes in order: upright short-range, full-range, rotated copies (:meth:`_rotated_detector`).

        Each rotated copy is one more chance for a false face, so those passes use a
        stricter score threshold, keeping the whole search about as selective as one pass.
        """
        passes = [_Pass(self._short, 0.0)]
        if self._full is not None:
            passes.append(_Pass(self._full, 0.0))
        retry = self.settings.retry_score_threshold
        return passes + [_Pass(self._rotated_detector(a), math.radians(a), retry) for a in self.settings.retry_angles_deg]

    def _rotated_detector(self, angle_deg: float) -> BlazeFaceDetector:
        """The detector of a rotated copy: full-range at ``_FULL_RANGE_ROTATIONS_DEG`` (upside down), else short-range."""
        full = any(abs(_wrap(math.radians(angle_deg - a))) < 1e-6 for a in _FULL_RANGE_ROTATIONS_DEG)
        return self._full if (full and self._full is not None) else self._short

    def _search(self, image: np.ndarray) -> list[_Pass]:
        """The passes of this frame's search.

        A single image gets the whole search at once, the fine passes (:meth:`_fine`) included. On video
        (``track``) the first ``_FULL_SEARCH_FRAMES`` frames after a loss do too (a face that just turned is
        found at once), with one zoomed tile each, and on a cold search the fine pass spread over them
        (:meth:`_fine_fresh`); when a tracked face was lost, the windows where it was lost
        (:meth:`_near_lost`) come first, take the tile's place, and only the rotated copies nearest its
        last angle run (:meth:`_rotated_first`).
        While the face stays away, every frame runs the two upright passes and one more, taken in turn
        from those windows, the rotated copies and the zoomed tiles, so a long absence costs about what a
        tracked face does and the whole search is spread over a few frames.
        """
        passes = self._passes()
        upright = self._upright_count()
        if not self.track:
            fine = self._fine(image.shape)
            return passes[:upright] + fine[:1] + passes[upright:] + fine[1:]
        near = self._near_lost()
        tiles = self._tiles(image)
        fresh = self._search_step < _FULL_SEARCH_FRAMES  # just lost: most likely turned, search it all
        extra = ([] if near else tiles) if fresh else near + passes[upright:] + tiles
        step = self._search_step
        self._search_step += 1
        spread = [extra[step % len(extra)]] if extra else []
        if not fresh:
            return passes[:upright] + spread
        upright_fine, turned_fine = self._fine_fresh(image.shape, step)
        return near + passes[:upright] + upright_fine + self._rotated_first(passes[upright:]) + turned_fine + spread

    def _fine_fresh(self, shape: tuple[int, ...], step: int) -> tuple[list[_Pass], list[_Pass]]:
        """The fine passes of a fresh search in video, (upright ones, rotated ones), for their cost spread
        over its two frames: upright on the first, all its rotated copies on the second; none when a
        tracked face was just lost: the windows where it was lost (:meth:`_near_lost`) look for it at its
        own scale, and a face does not shrink to the fine pass's sizes in a third of a second (on the Lookit
        clips at 1280x960 the fine pass there found no face more and cost a lost frame a tenth of its
        detector pixels)."""
        if step > 1 or self._lost_roi is not None:
            return [], []
        fine = self._fine(shape)
        return (fine[:1], []) if step == 0 else ([], fine[1:])

    def _rotated_first(self, rotated: list[_Pass]) -> list[_Pass]:
        """The rotated passes of a fresh search: all of them, unless the face was just lost while tracked
        at a known angle; then the ``_FRESH_ROTATED`` copies nearest that angle: a head does not turn over
        in a third of a second, and the other copies still come in turn from the third frame on."""
        if self._lost_roi is None:
            return rotated
        lost = self._lost_roi.angle_rad
        return sorted(rotated, key=lambda p: abs(_wrap(p.angle - lost)))[:_FRESH_ROTATED]

    def _near_lost(self) -> list[_Pass]:
        """Detection windows centred where a tracked face was lost, turned to its last angle and a few times
        its size (``_NEAR_LOST``): a face that turned (3/4 view) or moved a little is seen there zoomed and
        upright, where a whole-frame pass sees it small; none when no tracked face was lost."""
        roi = self._lost_roi
        if roi is None:
            return []
        side = max(roi.width, roi.height)
        detectors = {"short": self._short, "full": self._full or self._short}
        return [_Pass(detectors[name], 0.0, None, RotatedRect(roi.center_x, roi.center_y, k * side, k * side, roi.angle_rad),
                      rois=2) for name, k in _NEAR_LOST]

    def _tiles(self, image: np.ndarray) -> list[_Pass]:
        """Overlapping square tiles over the crib zone's bounding box (the frame without one), each seen by
        the detector at its own input size: a zoom for faces too small for a whole-frame pass."""
        h, w = image.shape[:2]
        crib, _ = self.zone.pixels(image.shape)
        x0, y0, x1, y1 = (0, 0, w, h) if crib is None else (*crib.min(axis=0), *crib.max(axis=0))
        side = max(_TILE_MIN_PX, _TILE_FRACTION * min(h, w))
        if max(x1 - x0, y1 - y0) <= side:
            return []  # the region is no larger than one tile: the upright passes already see it so
        detector = self._full or self._short

        def starts(lo: float, hi: float) -> list[float]:
            if hi - lo <= side:
                return [(lo + hi) / 2]
            n = math.ceil((hi - lo - side) / (_TILE_STRIDE * side)) + 1
            return [lo + side / 2 + i * (hi - lo - side) / (n - 1) for i in range(n)]

        return [_Pass(detector, 0.0, None, RotatedRect(cx, cy, side, side, 0.0))
                for cy in starts(float(y0), float(y1)) for cx in starts(float(x0), float(x1))]

    def _detect_and_mesh(self, image: np.ndarray) -> tuple[MeshResult | None, list[Detection] | None]:
        """The first pass that yields a face the mesh model accepts (in the crib zone) wins.

        Returns the mesh and, for an upright pass, that pass's detections in the zone (to count the
        other faces), else None. Within a pass, faces in the zone are tried in the ``select`` order. A face found upside
        down is turned upright by ``_upright`` before its mesh is fitted (the mesh
        cannot recover from an upside-down start), and any remaining tilt is
        refined by ``_settle``, so rotated passes are needed only when the upright
        ones miss.
        """
        tried: list[Detection] = []
        budget = _MAX_MESH_RUNS
        for search in self._search(image):
            found = self._timed_detect(search.detector, image, search.angle, search.min_score, search.tile)
            largest = math.inf if search.max_face is None else search.max_face * max(image.shape[:2])
            detections = [d for d in found if self.zone.contains(d.center_px, image.shape) and max(d.size_px) < largest]
            for det in order_by_select(detections, self.settings.select, image.shape[:2]):
                if budget <= 0:
                    return None, None
                if not any(_same_face(det, t) for t in tried):
                    if len(tried) >= _MAX_CANDIDATES:
                        continue
                    tried.append(det)
                first, *others = rois_from_detection(det, self.settings.roi_scale)
                upright = self._upright(image, first)
                # The re-detected upright ROI first; the detector's own ROIs as fallbacks
                # for profile faces that the close-range view loses.
                for roi in (([upright] if upright is not None else []) + [first, *others])[:search.rois]:
                    budget -= 1
                    result = self._run_mesh(image, roi)
                    if result.presence >= self.settings.presence_threshold:
                        settled = self._settle(image, result)
                        if self._in_zone(settled.landmarks_px, image):
                            self._search_step = 0  # found: the next search starts from the top again
                            self._lost_roi = None
                            return settled, (detections if search.angle == 0.0 and search.tile is None and search.max_face is None
                                             else None)
        return None, None

    def _upright(self, image: np.ndarray, roi: RotatedRect) -> RotatedRect | None:
        """Re-detect the face inside ``roi`` turned by 0, 90, 180 and 270 degrees.

        The landmark model fits a mesh to a sideways or upside-down face as readily
        as to an upright one and cannot recover from it; the detector scores the
        view where the face is closest to upright highest (it tolerates about +-45
        degrees, so one of the four views qualifies). That view's detection, made at
        close range, also gives sharper eye keypoints for the ROI.

        Returns:
            The ROI from the best view's detection, or None if no view has a face.
        """
        start = time.perf_counter()
        best: Detection | None = None
        for quarter in range(4):
            view = dataclasses.replace(roi, angle_rad=roi.angle_rad + quarter * math.pi / 2)
            for det in self._short.detect_in(image, view):
                # Only the face the ROI was placed on, not a neighbour inside it.
                off_centre = math.dist(det.center_px, (roi.center_x, roi.center_y))
                if off_centre <= _SAME_FACE_OFFSET * roi.width and (best is None or det.score > best.score):
                    best = det
        self.timings["detect"] += (time.perf_counter() - start) * 1000.0
        return None if best is None else rois_from_detection(best, self.settings.roi_scale)[0]

    def _settle(self, image: np.ndarray, found: MeshResult) -> MeshResult:
        """Refine a freshly detected face's mesh.

        Each refinement re-runs the mesh on an ROI placed by the previous mesh, as
        tracking does, because the landmark model is most accurate on a face that is
        upright in its input, which the detector's ROI achieves only roughly.
        """
        roi = roi_from_landmarks(found.landmarks_px, self.settings.roi_scale)
        for _ in range(self.settings.refine_iterations):
            refined = self._run_mesh(image, roi)
            if refined.presence < self.settings.presence_threshold:
                break  # keep the mesh that passed; a refinement never loses the face
            found = refined
            next_roi = roi_from_landmarks(refined.landmarks_px, self.settings.roi_scale)
            if abs(_wrap(next_roi.angle_rad - roi.angle_rad)) < _REFINE_SETTLED_RAD:
                break
            roi = next_roi
        return found

    def _to_aligned(self, image: np.ndarray, found: MeshResult) -> AlignedFace | None:
        landmarks = found.landmarks_px
        left, right = eye_centers(landmarks)
        angle = eye_angle_rad(left, right)
        rect = crop_rect(landmarks, angle, self.settings)
        if rect is None:
            return None
        crop = warp_crop(image, rect, self.settings.crop_size)
        x0, y0 = landmarks.min(axis=0)
        x1, y1 = landmarks.max(axis=0)
        return AlignedFace(
            crop=crop,
            box=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
            left_eye=(float(left[0]), float(left[1])),
            right_eye=(float(right[0]), float(right[1])),
            eye_angle_deg=math.degrees(angle),
            landmarks=landmarks,
            score=found.presence,
            yaw=(yaw := yaw_ratio(landmarks)),
            pose=pose_of(yaw, found.presence),
        )

    def close(self) -> None:
        """Release the interpreters."""
        self._short = self._full = self._mesh = None  # type: ignore[assignment]
        self._fine_by_shape = {}

    def __enter__(self) -> FaceAligner:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _wrap(angle_rad: float) -> float:
    return (angle_rad + math.pi) % (2 * math.pi) - math.pi


def _same_face(a: Detection, b: Detection) -> bool:
    return math.dist(a.center_px, b.center_px) < _SAME_FACE_DISTANCE * max(*a.size_px, *b.size_px)
