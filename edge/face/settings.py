"""Everything that changes the aligned crop, in one frozen record with a fingerprint.

Training records ``AlignerSettings.fingerprint()`` next to its models; the device
refuses models trained on crops made with different settings, because an autoencoder
trained on one crop geometry silently degrades on another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from cribside.edge.errors import CribsideError
from cribside.edge.face.assets import FACE_MODELS, MEDIAPIPE_VERSION

Select = Literal["largest", "center", "score"]
SELECT_MODES: tuple[str, ...] = ("largest", "center", "score")

# Fields that choose *which* face is aligned, not how a face becomes a crop; they are
# left out of the fingerprint so a device may pick faces differently from training.
_NOT_FINGERPRINTED = frozenset({"select"})


@dataclass(frozen=True)
class AlignerSettings:
    """Settings of the face aligner (defaults follow the paper and MediaPipe).

    Crop geometry, in the face's upright frame (eye line horizontal): the crop's top
    is the highest eyebrow point minus ``margin_top`` x H, its bottom the chin point
    (mesh 152) plus ``margin_bottom`` x H, where H is the brow-to-chin height (the
    paper's ROI, "eyebrows to chin"). Its width is the cheek-to-cheek extent of the
    face oval widened by ``margin_side`` x W on each side. The rectangle is scaled to
    ``crop_size`` x ``crop_size`` (not aspect-preserving, as in the paper, so every
    crop has the brows at the top and the chin at the bottom).
    """

    version: int = 1  # bump when the alignment code changes the crop
    crop_size: int = 64
    margin_top: float = 0.05  # small: keeps the brows, drops most of the forehead
    margin_bottom: float = 0.04  # small: keeps the chin's edge
    margin_side: float = 0.0  # the face oval already reaches the cheeks' edge
    presence_threshold: float = 0.5  # sigmoid of face_landmark's face-presence logit
    detector_score_threshold: float = 0.5  # short-range BlazeFace, MediaPipe's default
    full_range_score_threshold: float = 0.5  # full-range sparse model (MediaPipe: min_detection_confidence 0.5)
    nms_iou_threshold: float = 0.3  # MediaPipe's weighted-NMS suppression threshold
    roi_scale: float = 1.5  # landmark ROI = detection box x 1.5, as MediaPipe's face mesh
    use_full_range: bool = True  # fallback detector for small or distant faces
    # Rotated copies the detector also looks at when the upright passes miss: 45-degree
    # steps leave a head at any angle in a cot within 22.5 degrees of one copy, well
    # inside what BlazeFace tolerates.
    retry_angles_deg: tuple[float, ...] = (45.0, -45.0, 90.0, -90.0, 135.0, -135.0, 180.0)
    # Stricter score for the rotated copies: seven more looks at the same frame are
    # seven more chances of a false face (on dogs.jpg a dog scored 0.51 on one of them).
    retry_score_threshold: float = 0.55
    # Mesh passes on an ROI placed by the previous mesh (the landmark model is most
    # accurate on an upright face; the detector's ROI is only roughly upright).
    refine_iterations: int = 3
    select: Select = "largest"
    mediapipe_version: str = MEDIAPIPE_VERSION
    detector_short_sha256: str = FACE_MODELS["detector_short"][1]
    detector_full_sha256: str = FACE_MODELS["detector_full"][1]
    landmarks_sha256: str = FACE_MODELS["landmarks"][1]

    def __post_init__(self) -> None:
        if self.crop_size < 8:
            raise CribsideError(f"aligner crop_size must be >= 8, got {self.crop_size}")
        if self.select not in SELECT_MODES:
            raise CribsideError(f"aligner select must be one of {', '.join(SELECT_MODES)}, got {self.select!r}")
        if self.refine_iterations < 0:
            raise CribsideError(f"aligner refine_iterations must be >= 0, got {self.refine_iterations}")
        for name in ("presence_threshold", "detector_score_threshold", "full_range_score_threshold", "nms_iou_threshold",
                     "retry_score_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise CribsideError(f"aligner {name} must be in [0, 1], got {value}")
        for name in ("margin_top", "margin_bottom", "margin_side"):
            if not -0.5 < getattr(self, name) < 2.0:
                raise CribsideError(f"aligner {name} must be in (-0.5, 2), got {getattr(self, name)}")
        if self.roi_scale <= 0:
            raise CribsideError(f"aligner roi_scale must be > 0, got {self.roi_scale}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        out = dataclasses.asdict(self)
        out["retry_angles_deg"] = list(self.retry_angles_deg)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlignerSettings:
        """Rebuild settings from ``to_dict()`` output.

        Raises:
            CribsideError: unknown field or invalid value.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CribsideError(f"unknown aligner setting(s): {', '.join(unknown)}")
        values = dict(data)
        if "retry_angles_deg" in values:
            values["retry_angles_deg"] = tuple(float(a) for a in values["retry_angles_deg"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise CribsideError(f"invalid aligner settings: {exc}") from None

    def fingerprint(self) -> str:
        """sha256 (hex) of the canonical JSON of every field that changes the crop."""
        canonical = {k: v for k, v in self.to_dict().items() if k not in _NOT_FINGERPRINTED}
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
