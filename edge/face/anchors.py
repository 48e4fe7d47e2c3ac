"""SSD anchor centres for MediaPipe's BlazeFace detectors.

MediaPipe's face-detection graphs configure its SSD anchor generator with
``fixed_anchor_size: true``, so every anchor is 1 x 1 (in input units) and only its
centre matters. Layers that share a stride share one feature map, and each layer
adds anchors per cell (2 with ``interpolated_scale_aspect_ratio = 1``, else 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnchorSpec:
    """What a BlazeFace variant's anchors and outputs look like (``input_size``: the input's width, and
    its height unless ``input_height`` is set)."""

    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 when interpolated_scale_aspect_ratio == 1.0, else 1
    num_anchors: int
    anchor_offset: float = 0.5
    input_height: int | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """The input's (width, height) in pixels."""
        return self.input_size, self.input_size if self.input_height is None else self.input_height


# face_detection_short_range: 128x128 input, strides 8,16,16,16 -> 16x16x2 + 8x8x6 = 896.
SHORT_RANGE = AnchorSpec(input_size=128, strides=(8, 16, 16, 16), anchors_per_layer=2, num_anchors=896)
# face_detection_full_range(_sparse): 192x192 input, one layer of stride 4 -> 48x48x1 = 2304.
FULL_RANGE = AnchorSpec(input_size=192, strides=(4,), anchors_per_layer=1, num_anchors=2304)


def resized(spec: AnchorSpec, width: int, height: int | None = None) -> AnchorSpec:
    """The anchors of ``spec``'s model fed an input ``width`` x ``height`` (square without ``height``), each a
    multiple of its largest stride."""
    height = width if height is None else height
    for side in (width, height):
        if side <= 0 or side % max(spec.strides):
            raise ValueError(f"input size {side} is not a positive multiple of stride {max(spec.strides)}")
    cells = sum(spec.anchors_per_layer * (width // stride) * (height // stride) for stride in spec.strides)
    return AnchorSpec(width, spec.strides, spec.anchors_per_layer, cells, spec.anchor_offset,
                      None if height == width else height)


def anchor_centers(spec: AnchorSpec) -> np.ndarray:
    """Anchor centres in input pixels, in the model's output order.

    Returns:
        float32 array (num_anchors, 2) of (x, y).
    """
    width, height = spec.shape
    centers: list[np.ndarray] = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        repeats = 0
        # Consecutive layers with the same stride are emitted together, cell by cell.
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            repeats += spec.anchors_per_layer
            layer += 1
        cols, rows = (int(np.ceil(side / stride)) for side in (width, height))
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")  # row by row, as the model's outputs
        grid = np.stack([(xs + spec.anchor_offset) / cols * width, (ys + spec.anchor_offset) / rows * height], axis=-1)
        centers.append(np.repeat(grid.reshape(-1, 2), repeats, axis=0))
    out = np.concatenate(centers).astype(np.float32)
    if out.shape[0] != spec.num_anchors:
        raise ValueError(f"anchor spec gives {out.shape[0]} anchors, model expects {spec.num_anchors}")
    return out
