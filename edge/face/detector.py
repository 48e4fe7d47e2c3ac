"""BlazeFace (MediaPipe face detection) run directly with LiteRT.

The image goes into the model through one affine warp (letterbox, optionally
rotated), so retrying on a rotated copy costs no more than an upright pass and the
results map back to the input image exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.face.anchors import AnchorSpec, anchor_centers, resized
from cribside.edge.face.geometry import RotatedRect, apply_affine, invert_affine, rect_to_image, rotation_about
from cribside.edge.inference.litert import load_interpreter

# MediaPipe clips raw scores to +-100 before the sigmoid.
_SCORE_CLIP = 100.0
# Keypoint order of BlazeFace: subject's right eye (image left), left eye, nose tip,
# mouth centre, right ear tragion, left ear tragion.
NUM_KEYPOINTS = 6


@dataclass(frozen=True)
class Detection:
    """One face found by the detector, in input-image pixels.

    ``size_px`` is (width, height) of the box in the frame the detector looked at
    (the rotated frame for a rotated retry); ``keypoints_px`` are mapped back to the
    input image.
    """

    center_px: tuple[float, float]
    size_px: tuple[float, float]
    keypoints_px: np.ndarray  # (6, 2) float64
    score: float
    view_angle_rad: float = 0.0  # x-axis angle of the frame the detector looked at


    @property
    def area(self) -> float:
        return self.size_px[0] * self.size_px[1]


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box with many."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """BlazeFace's tie resolution: average overlapping boxes weighted by score.

    Averaging (rather than keeping the single best box) steadies boxes and keypoints
    between frames, which is why MediaPipe uses it for faces.

    Returns:
        [(box (4,), keypoints (K, 2), score)], best first.
    """
    order = np.argsort(-scores)
    remaining = order
    out = []
    while remaining.size:
        best = remaining[0]
        overlap = _iou(boxes[best], boxes[remaining])
        group = remaining[overlap >= iou_threshold]
        remaining = remaining[overlap < iou_threshold]
        weights = scores[group][:, None]
        total = float(weights.sum())
        box = (boxes[group] * weights).sum(axis=0) / total
        kps = (keypoints[group] * weights[:, :, None]).sum(axis=0) / total
        out.append((box, kps, float(scores[best])))
    return out


def rotated_canvas(shape: tuple[int, int], angle_rad: float) -> tuple[float, float]:
    """(width, height) of the bounding box of an image of ``shape`` (h, w) rotated by ``angle_rad``: what a
    rotated pass letterboxes into the input, so nothing is cut off."""
    h, w = shape
    c, s = abs(math.cos(angle_rad)), abs(math.sin(angle_rad))
    return w * c + h * s, w * s + h * c


class BlazeFaceDetector:
    """One BlazeFace model (short-range or full-range sparse) with its decoding."""

    def __init__(self, model_path: Path, spec: AnchorSpec, score_threshold: float, iou_threshold: float, threads: int = 1,
                 input_size: int | tuple[int, int] | None = None) -> None:
        """``input_size``: look at the image at this input size, square or (width, height), instead of the
        model's own (the short-range model is fully convolutional, so a larger input sees a large frame at a
        finer scale, at a cost in proportion to its pixels; the full-range model cannot be resized).

        Raises:
            CribsideError: the model file cannot be loaded, or cannot take ``input_size``.
        """
        self._interp = load_interpreter(model_path, threads=threads)
        self._input = self._interp.get_input_details()[0]["index"]
        width, height = (input_size, input_size) if isinstance(input_size, int) else input_size or spec.shape
        if (width, height) != spec.shape:
            spec = resized(spec, width, height)
            try:
                self._interp.resize_tensor_input(self._input, [1, height, width, 3])
                self._interp.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                raise CribsideError(f"{model_path.name}: cannot take a {width}x{height} input "
                                    f"({str(exc).splitlines()[0]})") from None
        self._spec = spec
        self._anchors = anchor_centers(spec)
        self._score_threshold = score_threshold
        self._iou_threshold = iou_threshold
        outputs = self._interp.get_output_details()
        # Regressors (N, 16) and scores (N, 1) are told apart by shape, not name:
        # the two model files name their outputs differently.
        by_width = {int(d["shape"][-1]): d["index"] for d in outputs}
        self._regressors, self._scores = by_width[16], by_width[1]

    @property
    def input_shape(self) -> tuple[int, int]:
        """The model input's (width, height)."""
        return self._spec.shape

    def _input_affine(self, shape: tuple[int, int], angle_rad: float) -> np.ndarray:
        """Image -> model-input affine: rotate about the centre, then letterbox."""
        h, w = shape
        in_w, in_h = self._spec.shape
        center = ((w - 1) / 2.0, (h - 1) / 2.0)
        rot = rotation_about(center, angle_rad)
        canvas_w, canvas_h = rotated_canvas(shape, angle_rad)
        scale = min(in_w / canvas_w, in_h / canvas_h)
        # Centre of the image goes to the centre of the input (letterbox, zero border).
        full = np.vstack([rot, [0, 0, 1]])
        fit = np.array([[scale, 0, (in_w - 1) / 2.0 - scale * center[0]],
                        [0, scale, (in_h - 1) / 2.0 - scale * center[1]], [0, 0, 1]])
        return np.asarray((fit @ full)[:2])

    def _invoke(self, bgr: np.ndarray, to_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Warp the image into the model input with ``to_input``; return (regressors, scores)."""
        patch = cv2.warpAffine(bgr, to_input, self._spec.shape, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # Channels are swapped on the small patch, not the whole frame; MediaPipe feeds RGB in [-1, 1].
        tensor = patch[None, :, :, ::-1].astype(np.float32) * (2.0 / 255.0) - 1.0
        self._interp.set_tensor(self._input, tensor)
        self._interp.invoke()
        raw = self._interp.get_tensor(self._regressors)[0]
        logits = np.clip(self._interp.get_tensor(self._scores)[0, :, 0].astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)
        return raw, 1.0 / (1.0 + np.exp(-logits))

    def detect_in(self, bgr: np.ndarray, roi: RotatedRect) -> list[Detection]:
        """Detect faces in one rotated rectangle of the image (of the input's shape), seen upright in it.

        Used to re-examine a face at close range and in a chosen orientation: the
        detector is sharper there than on the whole frame, and it tells an upright
        face from an upside-down one, which the landmark model cannot.
        """
        return self._decode(bgr, invert_affine(rect_to_image(roi, *self._spec.shape)), roi.angle_rad)

    def detect(self, bgr: np.ndarray, angle_rad: float = 0.0, min_score: float | None = None) -> list[Detection]:
        """Find faces in a BGR uint8 image, optionally looking at it rotated.

        Args:
            bgr: (H, W, 3) uint8 image in OpenCV's BGR order.
            angle_rad: rotate the image by this angle (y-down convention) before
                detecting; detections are mapped back to the unrotated image.
            min_score: score threshold for this call (default: the detector's own).

        Returns:
            Detections after weighted NMS, best score first (possibly empty).
        """
        return self._decode(bgr, self._input_affine(bgr.shape[:2], angle_rad), -angle_rad, min_score)

    def _decode(self, bgr: np.ndarray, to_input: np.ndarray, view_angle_rad: float, min_score: float | None = None) -> list[Detection]:
        """Run the model on the view ``to_input`` and map detections back to the image."""
        raw, scores = self._invoke(bgr, to_input)
        keep = np.nonzero(scores >= (self._score_threshold if min_score is None else min_score))[0]
        if keep.size == 0:
            return []
        # Offsets are in input pixels relative to the anchor centre (anchors are 1x1);
        # the model counts from the pixel's edge, OpenCV from its centre (-0.5).
        anchors = self._anchors[keep] - 0.5
        reg = raw[keep]
        centers = reg[:, 0:2] + anchors
        sizes = reg[:, 2:4]
        boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1)
        kps = reg[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None, :]
        back = invert_affine(to_input)
        scale = math.hypot(to_input[0, 0], to_input[1, 0])
        detections = []
        for box, kp, score in weighted_nms(boxes, kps, scores[keep], self._iou_threshold):
            center = apply_affine(back, ((box[:2] + box[2:]) / 2)[None])[0]
            detections.append(Detection(
                center_px=(float(center[0]), float(center[1])),
                size_px=(float(box[2] - box[0]) / scale, float(box[3] - box[1]) / scale),
                keypoints_px=apply_affine(back, kp),
                score=score,
                view_angle_rad=view_angle_rad,
            ))
        return detections
