"""SYNTHETIC camera frames: a drawn face placed over a crib background, lit, noisy, maybe blurred.

The aligned crop of a frame is cut from the same frame with the known face geometry, framed the
way the real aligner frames it (see cribside.edge.face.settings.AlignerSettings: highest brow
point minus 5% of the brow-to-chin height at the top, chin plus 4% at the bottom, cheek to cheek
across, eyes level), so crops drawn directly and crops made by ``cribside preprocess`` agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from cribside.training.synth.face import CX, CY, FaceLandmarks, FaceRenderer, Identity

CROP_SIZE = 64
MARGIN_TOP, MARGIN_BOTTOM = 0.05, 0.04  # as AlignerSettings' defaults
_NOISE_PAD = 16  # px: the noise tile is this much larger, and shifted per frame
SHEETS = ((235, 235, 240), (230, 215, 190), (205, 215, 240), (215, 235, 240), (200, 230, 210), (190, 190, 200))
CLOTHES = ((220, 220, 225), (200, 160, 120), (150, 200, 230), (180, 140, 200), (140, 190, 160))


@dataclass(frozen=True)
class Scene:
    """Everything about one video's camera view that stays fixed over the video."""

    size: tuple[int, int]  # (width, height) px
    background: np.ndarray  # HxWx3 float32
    light: np.ndarray  # HxWx3 float32 multiplier (gradient and colour tint)
    noise: np.ndarray  # (H+pad)x(W+pad)x3 float32 sensor noise tile
    blur_sigma: float
    centre: tuple[float, float]  # face centre, px
    face_scale: float  # canvas px -> frame px
    clothes: tuple[float, float, float]


def random_scene(rng: np.random.Generator, identity: Identity, size: tuple[int, int]) -> Scene:
    """Draw a crib view: sheet colour and pattern, light, noise, blur, where the face sits."""
    w, h = size
    sheet = np.array(SHEETS[rng.integers(len(SHEETS))], np.float32) * rng.uniform(0.85, 1.05)
    background = np.empty((h, w, 3), np.float32)
    background[:] = sheet
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    pattern = int(rng.integers(3))
    period = rng.uniform(14, 40) * w / 320
    if pattern == 1:  # stripes
        angle = rng.uniform(0, np.pi)
        stripes = (np.sin((xs * math.cos(angle) + ys * math.sin(angle)) * 2 * np.pi / period) > 0.3)
        background *= np.where(stripes, rng.uniform(0.8, 0.92), 1.0)[..., None].astype(np.float32)
    elif pattern == 2:  # dots
        dots = (np.sin(xs * 2 * np.pi / period) * np.sin(ys * 2 * np.pi / period)) > 0.7
        background *= np.where(dots, rng.uniform(0.75, 0.9), 1.0)[..., None].astype(np.float32)
    folds = cv2.GaussianBlur(rng.normal(1.0, 0.08, (h // 8 + 1, w // 8 + 1)).astype(np.float32), (0, 0), 1.5)
    background *= cv2.resize(folds, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
    direction = rng.uniform(0, 2 * np.pi)
    ramp = ((xs / w - 0.5) * math.cos(direction) + (ys / h - 0.5) * math.sin(direction)).astype(np.float32)
    brightness = rng.uniform(0.7, 1.15)
    tint = np.array([1 + rng.uniform(-0.08, 0.05), 1.0, 1 + rng.uniform(-0.03, 0.08)], np.float32)
    light = (brightness * (1.0 + rng.uniform(0.0, 0.5) * ramp))[..., None] * tint
    noise = rng.normal(0.0, rng.uniform(1.5, 7.0), (h + _NOISE_PAD, w + _NOISE_PAD, 3)).astype(np.float32)
    blur = float(rng.uniform(0.6, 1.4)) if rng.random() < 0.35 else 0.0
    face_height = rng.uniform(0.38, 0.62) * h
    scale = face_height / (2 * identity.half_h)
    centre = (rng.uniform(0.35, 0.65) * w, rng.uniform(0.4, 0.6) * h)
    clothes = tuple(float(c) for c in CLOTHES[rng.integers(len(CLOTHES))])
    return Scene(size, background, light, noise, blur, centre, scale, clothes)


def face_transform(scene: Scene, e: dict[str, float], identity: Identity) -> np.ndarray:
    """2x3 affine from the face canvas to the frame for this frame's head pose."""
    scale = scene.face_scale * e["scale"]
    m = cv2.getRotationMatrix2D((CX, CY), e["tilt_deg"], scale)
    cx = scene.centre[0] + e["dx"] * 2 * identity.half_w * scale
    cy = scene.centre[1] + e["dy"] * 2 * identity.half_h * scale
    m[:, 2] += (cx - CX, cy - CY)
    return m


def render_frame(renderer: FaceRenderer, scene: Scene, e: dict[str, float], face_visible: bool,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """One camera frame (uint8 BGR) and its aligned 64x64 gray crop (None when the face is covered)."""
    w, h = scene.size
    m = face_transform(scene, e, renderer.id)
    frame = scene.background.copy()
    _draw_body(frame, m, renderer.id, scene.clothes)
    layer, alpha, marks = renderer.render(e)
    warped = cv2.warpAffine(layer, m, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    frame = frame * (1.0 - mask) + warped * mask
    if not face_visible:
        _draw_blanket(frame, m, renderer.id, scene.clothes)
    frame *= scene.light * rng.uniform(0.97, 1.03)
    ox, oy = rng.integers(0, _NOISE_PAD, 2)
    frame += scene.noise[oy:oy + h, ox:ox + w]
    if scene.blur_sigma > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), scene.blur_sigma)
    frame_u8 = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    crop = aligned_crop(frame_u8, m, marks) if face_visible else None
    return frame_u8, crop


def aligned_crop(frame: np.ndarray, m: np.ndarray, marks: FaceLandmarks) -> np.ndarray:
    """Cut the brow-to-chin crop out of the frame with the known geometry (eyes level)."""
    height = marks.chin - marks.brow_top
    top = marks.brow_top - MARGIN_TOP * height
    bottom = marks.chin + MARGIN_BOTTOM * height
    left, right = marks.face_left, marks.face_right
    frame_scale = math.hypot(m[0, 0], m[0, 1])
    factor = int(min(4, max(1, (bottom - top) * frame_scale // CROP_SIZE)))
    out = CROP_SIZE * factor
    # crop px -> canvas px, then canvas -> frame: one inverse map for warpAffine.
    crop_to_canvas = np.array([[(right - left) / out, 0, left + 0.5 * (right - left) / out],
                               [0, (bottom - top) / out, top + 0.5 * (bottom - top) / out],
                               [0, 0, 1]])
    to_frame = np.vstack([m, [0, 0, 1]]) @ crop_to_canvas
    patch = cv2.warpAffine(frame, to_frame[:2], (out, out), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    gray = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    if factor > 1:
        gray = cv2.resize(gray, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
    return gray


def _apply(m: np.ndarray, x: float, y: float) -> tuple[float, float]:
    return float(m[0, 0] * x + m[0, 1] * y + m[0, 2]), float(m[1, 0] * x + m[1, 1] * y + m[1, 2])


def _draw_body(frame: np.ndarray, m: np.ndarray, i: Identity, clothes: tuple[float, float, float]) -> None:
    """Shoulders in a onesie below the head, turned with it."""
    scale = math.hypot(m[0, 0], m[0, 1])
    angle = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    cx, cy = _apply(m, CX, CY + i.half_h * 1.9)
    axes = (int(i.half_w * 1.9 * scale), int(i.half_h * 1.1 * scale))
    cv2.ellipse(frame, (int(cx), int(cy)), axes, angle, 0, 360, clothes, -1, cv2.LINE_AA)


def _draw_blanket(frame: np.ndarray, m: np.ndarray, i: Identity, clothes: tuple[float, float, float]) -> None:
    """A blanket over the whole head: the camera sees no face."""
    scale = math.hypot(m[0, 0], m[0, 1])
    cx, cy = _apply(m, CX, CY + 10)
    color = tuple(c * 0.8 for c in clothes)
    axes = (int(i.half_w * 1.6 * scale), int(i.half_h * 1.5 * scale))
    cv2.ellipse(frame, (int(cx), int(cy)), axes, 10, 0, 360, color, -1, cv2.LINE_AA)
