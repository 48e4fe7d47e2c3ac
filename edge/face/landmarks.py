"""MediaPipe's face_landmark model (468-point mesh) run directly with LiteRT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cribside.edge.face.geometry import RotatedRect, apply_affine, rect_to_image
from cribside.edge.inference.litert import load_interpreter

NUM_LANDMARKS = 468


@dataclass(frozen=True)
class MeshResult:
    """The mesh of one face in input-image pixels and the model's face-presence score."""

    landmarks_px: np.ndarray  # (468, 2) float32
    presence: float


class FaceMeshModel:
    """Runs face_landmark.tflite on a rotated square ROI of the image."""

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        self._interp = load_interpreter(model_path, threads=threads)
        detail = self._interp.get_input_details()[0]
        self._input = detail["index"]
        self._size = int(detail["shape"][1])
        outputs = self._interp.get_output_details()
        # Mesh (1404 values) and presence logit (1 value) are told apart by size.
        by_size = {int(np.prod(d["shape"])): d["index"] for d in outputs}
        self._mesh, self._presence = by_size[NUM_LANDMARKS * 3], by_size[1]

    def run(self, bgr: np.ndarray, roi: RotatedRect) -> MeshResult:
        """Crop ``roi`` from a BGR uint8 image, run the model, map the mesh back.

        Args:
            bgr: (H, W, 3) uint8 image in OpenCV's BGR order.
            roi: square, rotated so the face is upright inside it.
        """
        size = self._size
        to_image = rect_to_image(roi, size, size)
        patch = cv2.warpAffine(bgr, to_image, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # Channels are swapped on the small patch; MediaPipe feeds RGB in [0, 1].
        tensor = patch[None, :, :, ::-1].astype(np.float32) * (1.0 / 255.0)
        self._interp.set_tensor(self._input, tensor)
        self._interp.invoke()
        mesh = self._interp.get_tensor(self._mesh).reshape(NUM_LANDMARKS, 3)[:, :2]
        logit = float(self._interp.get_tensor(self._presence).reshape(-1)[0])
        presence = 1.0 / (1.0 + np.exp(-np.clip(logit, -100.0, 100.0)))
        # The model counts from the pixel's edge, OpenCV from its centre (-0.5).
        landmarks = apply_affine(to_image, mesh - 0.5).astype(np.float32)
        return MeshResult(landmarks_px=landmarks, presence=float(presence))
