"""SYNTHETIC infant faces drawn with OpenCV primitives, in a face-centred canvas.

A :class:`FaceRenderer` draws one identity with a given expression into a CANVAS x CANVAS BGR
layer with an alpha mask, and returns where the eyes, brows and chin ended up (the "landmarks"
used to frame the aligned crop the way the real aligner does). The scene module places the layer
in a camera frame. The faces are crude drawings, made just realistic enough (shading, nose,
lips, eyelids) for MediaPipe's face detector and landmark model to accept them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CANVAS = 160  # px: the face layer; head centre at (CX, CY)
CX, CY = 80.0, 84.0
# Offsets of MediaPipe's mesh points from the drawn features, in half-heights/half-widths.
MESH_BROW_RISE = 0.026
MESH_CHIN_INSET = 0.066
MESH_CHEEK_INSET = 0.12
_SHIFT = 4  # OpenCV sub-pixel bits for drawing
_SUB = float(1 << _SHIFT)

# BGR skin tones from light to dark; an identity interpolates between two neighbours.
SKIN_TONES = ((178, 196, 236), (150, 176, 222), (118, 150, 200), (86, 116, 166), (58, 80, 120))
HAIR_TONES = ((30, 30, 35), (40, 55, 80), (70, 100, 140), (120, 160, 200))
HAT_TONES = ((200, 170, 150), (170, 190, 230), (230, 230, 235), (150, 200, 170), (190, 160, 210))


@dataclass(frozen=True)
class Identity:
    """What makes one SYNTHETIC infant look like itself (sizes in canvas px)."""

    half_w: float
    half_h: float
    cheek: float  # 0..1: how much the lower face widens (chubby cheeks)
    skin: tuple[float, float, float]
    eye_dx: float  # eye centre distance from the midline
    eye_dy: float  # eye line below the head centre
    eye_size: float
    iris: tuple[float, float, float]
    brow_gap: float  # brow above the eye centre
    brow_thick: int
    brow_color: tuple[float, float, float]
    nose_len: float
    mouth_w: float
    lip: tuple[float, float, float]
    hair: int  # 0 bald, 1 hair, 2 knitted hat
    hair_color: tuple[float, float, float]
    light_dx: float  # light direction across the face (-1..1), shading strength
    expressiveness: float


def random_identity(rng: np.random.Generator) -> Identity:
    """Draw a varied identity: face shape, skin tone, eye spacing, features, hair."""
    tone = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(tone)
    hi = min(lo + 1, len(SKIN_TONES) - 1)
    skin = tuple(float(a + (b - a) * (tone - lo)) for a, b in zip(SKIN_TONES[lo], SKIN_TONES[hi]))
    half_w = rng.uniform(40, 47)
    dark = np.array(skin) * rng.uniform(0.25, 0.45)
    hair = int(rng.choice(3, p=(0.3, 0.4, 0.3)))
    hair_color = HAT_TONES[rng.integers(len(HAT_TONES))] if hair == 2 else HAIR_TONES[rng.integers(len(HAIR_TONES))]
    return Identity(
        half_w=half_w, half_h=half_w * rng.uniform(1.12, 1.25), cheek=rng.uniform(0.0, 1.0),
        skin=skin, eye_dx=half_w * rng.uniform(0.38, 0.46), eye_dy=rng.uniform(0.0, 5.0),
        eye_size=rng.uniform(0.9, 1.15), iris=tuple(float(c) for c in rng.uniform(20, 70, 3)),
        brow_gap=rng.uniform(9.5, 12.5), brow_thick=int(rng.integers(2, 4)),
        brow_color=tuple(float(c) for c in dark), nose_len=rng.uniform(0.85, 1.15),
        mouth_w=rng.uniform(0.85, 1.15),
        lip=(skin[0] * 0.62, skin[1] * 0.62, min(255.0, skin[2] * 0.92)),
        hair=hair, hair_color=tuple(float(c) for c in hair_color),
        light_dx=rng.uniform(-1, 1), expressiveness=rng.uniform(0.90, 1.10),
    )


@dataclass(frozen=True)
class FaceLandmarks:
    """Canvas positions the aligned crop is framed by (like the aligner's mesh points)."""

    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    brow_top: float  # highest eyebrow point (y)
    chin: float  # lowest chin point (y)
    face_left: float  # face oval extent (x)
    face_right: float


class FaceRenderer:
    """Draws one identity; precomputes what does not change between frames."""

    def __init__(self, identity: Identity) -> None:
        self.id = identity
        ys, xs = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)
        nx, ny = (xs - CX) / identity.half_w, (ys - CY) / identity.half_h
        # Rounded-face shading: darker towards the edge, one side lit.
        self._shading = (1.08 - 0.30 * np.clip(nx**2 + ny**2, 0, 1.4) ** 1.5
                         + 0.12 * identity.light_dx * nx).astype(np.float32)

    def render(self, e: dict[str, float]) -> tuple[np.ndarray, np.ndarray, FaceLandmarks]:
        """Draw the face with expression ``e`` (see schedule.Schedule).

        Returns:
            (bgr float32 CANVASxCANVASx3, alpha float32 CANVASxCANVAS in 0..1, landmarks).
        """
        i = self.id
        jaw = 9.0 * e["mouth_open"]  # the jaw drops as the mouth opens
        head = _head_polygon(i, jaw)
        alpha = np.zeros((CANVAS, CANVAS), np.float32)
        cv2.fillPoly(alpha, [_pts(head)], 1.0, cv2.LINE_AA, _SHIFT)
        for side in (-1, 1):  # ears
            cv2.ellipse(alpha, _pt((CX + side * i.half_w * 0.97, CY + i.eye_dy + 4)), _sz((5, 9)),
                        0, 0, 360, 1.0, -1, cv2.LINE_AA, _SHIFT)
        canvas = np.empty((CANVAS, CANVAS, 3), np.float32)
        canvas[:] = i.skin
        shade = np.ones((CANVAS, CANVAS), np.float32)
        ey = CY + i.eye_dy
        nose_y = ey + 15.0 * i.nose_len
        mouth_y = nose_y + 10.0 + 0.2 * jaw
        _shade_relief(shade, i, e, ey, nose_y, mouth_y)
        shade = cv2.GaussianBlur(shade, (0, 0), 2.2)
        canvas *= (shade * self._shading)[..., None]
        eyes = [(CX - i.eye_dx, ey), (CX + i.eye_dx, ey)]
        _draw_eyes(canvas, i, e, eyes)
        brow_top = _draw_brows(canvas, i, e, eyes)
        _draw_nose(canvas, i, nose_y)
        _draw_mouth(canvas, i, e, mouth_y)
        if i.hair:
            _draw_hair(canvas, alpha, i)
        canvas = cv2.GaussianBlur(canvas, (0, 0), 0.6)
        # Where MediaPipe's mesh puts these points on the drawn face (measured with the
        # real aligner over 160 frames): slightly above the drawn brow, above the drawn
        # chin's edge, and inside the drawn cheeks.
        chin = CY + i.half_h + jaw - MESH_CHIN_INSET * i.half_h
        width = i.half_w * (1.0 - MESH_CHEEK_INSET)
        marks = FaceLandmarks(eyes[0], eyes[1], brow_top - MESH_BROW_RISE * i.half_h, chin, CX - width, CX + width)
        return np.clip(canvas, 0, 255), alpha, marks


def _pt(p: tuple[float, float]) -> tuple[int, int]:
    return int(round(p[0] * _SUB)), int(round(p[1] * _SUB))


def _sz(s: tuple[float, float]) -> tuple[int, int]:
    return int(round(max(s[0], 0.0) * _SUB)), int(round(max(s[1], 0.0) * _SUB))


def _pts(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * _SUB).astype(np.int32)


def _head_polygon(i: Identity, jaw: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    lower = np.sin(t) > 0
    widen = np.where(lower, 1.0 + 0.05 * i.cheek * np.sqrt(np.clip(np.sin(t), 0, None)), 1.0)
    x = CX + i.half_w * np.cos(t) * widen
    y = CY + np.where(lower, i.half_h + jaw, i.half_h) * np.sin(t)
    return np.stack([x, y], axis=1)


def _curve(x0: float, y0: float, x1: float, y1: float, bend: float, n: int = 8) -> np.ndarray:
    """A quadratic curve from (x0, y0) to (x1, y1), bent by ``bend`` px (negative = up)."""
    s = np.linspace(0, 1, n)
    x = x0 + (x1 - x0) * s
    y = y0 + (y1 - y0) * s + bend * 4 * s * (1 - s)
    return np.stack([x, y], axis=1)


def _shade_relief(shade: np.ndarray, i: Identity, e: dict[str, float], ey: float, nose_y: float,
                  mouth_y: float) -> None:
    """Soft shadows and highlights (blurred afterwards): sockets, nose, furrows, cheeks, chin."""
    for side in (-1, 1):
        ex = CX + side * i.eye_dx
        cv2.ellipse(shade, _pt((ex, ey - 1)), _sz((11 * i.eye_size, 7)), 0, 0, 360, 0.80, -1, cv2.LINE_AA, _SHIFT)
        # Nasolabial furrow: deepens with pain (NFCS), with the cheek raised above it.
        f = e["furrow"]
        cv2.ellipse(shade, _pt((CX + side * (i.eye_dx + 2), nose_y + 2 - 2 * f)), _sz((8, 6)), 0, 0, 360,
                    1.10 + 0.06 * f, -1, cv2.LINE_AA, _SHIFT)
        furrow = _curve(CX + side * 6, nose_y - 1, CX + side * (9 * i.mouth_w + 3 + 3 * e["stretch"]),
                        mouth_y + 3, -side * 0.0 + 2.0)
        cv2.polylines(shade, [_pts(furrow)], False, 0.93 - 0.7 * f, 3, cv2.LINE_AA, _SHIFT)
        # Side of the nose away from the light.
        cv2.ellipse(shade, _pt((CX + side * 4.5, ey + 6 * i.nose_len)), _sz((2.2, 8 * i.nose_len)), 0, 0, 360,
                    0.86 if side * i.light_dx < 0 else 0.97, -1, cv2.LINE_AA, _SHIFT)
    b = e["brow"]
    for side in (-1, 1):  # brow bulge: vertical furrows between knitted brows
        x = CX + side * (2.5 - 0.8 * b)
        cv2.line(shade, _pt((x, ey - i.brow_gap - 5)), _pt((x, ey - i.brow_gap + 3)), 1.0 - 0.6 * b, 1,
                 cv2.LINE_AA, _SHIFT)
    cv2.ellipse(shade, _pt((CX, ey - i.brow_gap - 6)), _sz((7, 4)), 0, 0, 360, 1.0 + 0.10 * b, -1,
                cv2.LINE_AA, _SHIFT)
    cv2.ellipse(shade, _pt((CX, nose_y + 4)), _sz((6, 2.5)), 0, 0, 360, 0.82, -1, cv2.LINE_AA, _SHIFT)
    cv2.ellipse(shade, _pt((CX, ey + 7 * i.nose_len)), _sz((2.0, 7 * i.nose_len)), 0, 0, 360, 1.10, -1,
                cv2.LINE_AA, _SHIFT)
    chin_y = CY + i.half_h + 9 * e["mouth_open"]
    cv2.ellipse(shade, _pt((CX, mouth_y + 9 + 5 * e["mouth_open"])), _sz((7, 2.5)), 0, 0, 360, 0.86, -1,
                cv2.LINE_AA, _SHIFT)
    cv2.ellipse(shade, _pt((CX, chin_y - 6)), _sz((10, 4)), 0, 0, 360, 1.06, -1, cv2.LINE_AA, _SHIFT)


def _draw_eyes(canvas: np.ndarray, i: Identity, e: dict[str, float], eyes: list[tuple[float, float]]) -> None:
    """Almond eyes: lids close with squeeze (and blinks), open wider with raised brows."""
    half_w = 7.0 * i.eye_size
    opening = 4.0 * i.eye_size * max(0.0, 1.0 - 1.5 * e["squeeze"]) * (1.0 + 0.25 * e["raise_"])
    lid_dark = tuple(c * 0.35 for c in i.skin)
    for side, (ex, ey) in zip((-1, 1), eyes):
        if opening > 0.6:
            upper = _curve(ex - half_w, ey, ex + half_w, ey, -2 * opening, 12)
            lower = _curve(ex + half_w, ey, ex - half_w, ey, 1.1 * opening, 12)
            almond = np.concatenate([upper, lower])
            mask = np.zeros(canvas.shape[:2], np.uint8)
            cv2.fillPoly(mask, [_pts(almond)], 255, cv2.LINE_AA, _SHIFT)
            eye = np.empty_like(canvas)
            eye[:] = (215, 220, 225)
            cv2.circle(eye, _pt((ex + side * 0.5, ey - 0.3 * opening)), int(4.4 * i.eye_size * _SUB), i.iris, -1,
                       cv2.LINE_AA, _SHIFT)
            cv2.circle(eye, _pt((ex + side * 0.5, ey - 0.3 * opening)), int(2.0 * i.eye_size * _SUB),
                       (12, 12, 12), -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(eye, _pt((ex + side * 0.5 + 1.2, ey - 0.3 * opening - 1.2)), int(0.9 * _SUB),
                       (245, 245, 245), -1, cv2.LINE_AA, _SHIFT)
            a = (mask.astype(np.float32) / 255.0)[..., None]
            canvas *= 1.0 - a
            canvas += eye * a
            cv2.polylines(canvas, [_pts(upper)], False, lid_dark, 2, cv2.LINE_AA, _SHIFT)
            cv2.polylines(canvas, [_pts(lower[2:-2])], False, tuple(c * 0.7 for c in i.skin), 1, cv2.LINE_AA,
                          _SHIFT)
        else:  # closed: one curved lid line
            closed = _curve(ex - half_w, ey, ex + half_w, ey, 1.0 + 1.5 * e["squeeze"], 12)
            cv2.polylines(canvas, [_pts(closed)], False, lid_dark, 2, cv2.LINE_AA, _SHIFT)
        if e["squeeze"] > 0.45:  # squeeze creases below and beside the eye
            k = (e["squeeze"] - 0.45) / 0.55
            crease = tuple(c * (1.0 - 0.35 * k) for c in i.skin)
            cv2.polylines(canvas, [_pts(_curve(ex - half_w * 0.8, ey + 4, ex + half_w * 0.8, ey + 4, 2.0))], False,
                          crease, 1, cv2.LINE_AA, _SHIFT)
            cv2.polylines(canvas, [_pts(_curve(ex + side * (half_w + 1), ey - 2, ex + side * (half_w + 4), ey + 2,
                                               0.0, 4))], False, crease, 1, cv2.LINE_AA, _SHIFT)


def _draw_brows(canvas: np.ndarray, i: Identity, e: dict[str, float], eyes: list[tuple[float, float]]) -> float:
    """Brows lower and knit with pain, rise with yawns; returns the highest brow y."""
    b, r = e["brow"], e["raise_"]
    top = CANVAS
    for side, (ex, ey) in zip((-1, 1), eyes):
        base = ey - i.brow_gap + 9.0 * b - 4.0 * r
        inner_x = ex - side * (6.5 * i.eye_size - 3.0 * b)
        outer_x = ex + side * 8.0 * i.eye_size
        inner_y = base + 6.0 * b
        outer_y = base + 1.0
        brow = _curve(inner_x, inner_y, outer_x, outer_y, -3.0 - 2.0 * r + 1.5 * b, 8)
        cv2.polylines(canvas, [_pts(brow)], False, i.brow_color, i.brow_thick, cv2.LINE_AA, _SHIFT)
        top = min(top, float(brow[:, 1].min()) - i.brow_thick / 2.0)
    return top


def _draw_nose(canvas: np.ndarray, i: Identity, nose_y: float) -> None:
    nostril = tuple(c * 0.40 for c in i.skin)
    for side in (-1, 1):
        cv2.ellipse(canvas, _pt((CX + side * 3.6, nose_y + 0.5)), _sz((2.1, 1.3)), side * 20, 0, 360, nostril,
                    -1, cv2.LINE_AA, _SHIFT)
    wing = tuple(c * 0.75 for c in i.skin)
    cv2.ellipse(canvas, _pt((CX, nose_y - 0.5)), _sz((6.5, 3.5)), 0, 20, 160, wing, 1, cv2.LINE_AA, _SHIFT)


def _draw_mouth(canvas: np.ndarray, i: Identity, e: dict[str, float], mouth_y: float) -> None:
    """Lips; open mouths show a dark inside and a tongue; crying stretches and squares the mouth."""
    o, s, rd = e["mouth_open"], e["stretch"], e["round_"]
    half_w = 8.0 * i.mouth_w * (1.0 + 0.6 * s - 0.12 * rd)
    drop = 5.0 * s  # corners pulled down
    gap = 14.0 * o * (1.0 + 0.3 * rd)
    x0, x1 = CX - half_w, CX + half_w
    upper = _curve(x0, mouth_y + drop, x1, mouth_y + drop, -2.0 - 0.3 * gap, 10)
    lower = _curve(x1, mouth_y + drop, x0, mouth_y + drop, 1.0 + gap, 10)
    if gap > 1.0:
        inside = np.concatenate([upper, lower])
        cv2.fillPoly(canvas, [_pts(inside)], (45, 40, 95), cv2.LINE_AA, _SHIFT)
        cv2.ellipse(canvas, _pt((CX, mouth_y + drop + 0.75 * gap)), _sz((half_w * 0.55, gap * 0.25)), 0, 180,
                    360, (120, 120, 200), -1, cv2.LINE_AA, _SHIFT)
        cv2.polylines(canvas, [_pts(upper)], False, i.lip, 3, cv2.LINE_AA, _SHIFT)
        cv2.polylines(canvas, [_pts(lower)], False, i.lip, 3, cv2.LINE_AA, _SHIFT)
    else:
        lip_top = _curve(x0, mouth_y, x1, mouth_y, -2.5, 10)
        lip_bottom = _curve(x1, mouth_y, x0, mouth_y, 4.0, 10)
        cv2.fillPoly(canvas, [_pts(np.concatenate([lip_top, lip_bottom]))], i.lip, cv2.LINE_AA, _SHIFT)
        line = _curve(x0, mouth_y + drop * 0.5, x1, mouth_y + drop * 0.5, -0.5 + 0.5 * drop, 10)
        cv2.polylines(canvas, [_pts(line)], False, tuple(c * 0.45 for c in i.lip), 1, cv2.LINE_AA, _SHIFT)


def _draw_hair(canvas: np.ndarray, alpha: np.ndarray, i: Identity) -> None:
    """Hair over the top of the head, or a knitted hat slightly wider than the head."""
    if i.hair == 1:
        line = CY - i.half_h * 0.45
        cv2.ellipse(canvas, _pt((CX, line)), _sz((i.half_w * 0.98, i.half_h * 0.58)), 0, 180, 360, i.hair_color,
                    -1, cv2.LINE_AA, _SHIFT)
    else:
        line = CY - i.half_h * 0.38
        cv2.ellipse(canvas, _pt((CX, line)), _sz((i.half_w * 1.06, i.half_h * 0.72)), 0, 180, 360, i.hair_color,
                    -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(alpha, _pt((CX, line)), _sz((i.half_w * 1.06, i.half_h * 0.72)), 0, 180, 360, 1.0, -1,
                    cv2.LINE_AA, _SHIFT)
        rim = tuple(c * 0.85 for c in i.hair_color)
        cv2.rectangle(canvas, _pt((CX - i.half_w * 1.06, line - 5)), _pt((CX + i.half_w * 1.06, line)), rim, -1,
                      cv2.LINE_AA, _SHIFT)
