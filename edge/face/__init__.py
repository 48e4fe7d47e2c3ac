"""Face alignment, the paper's preprocessing on the device's code path.

MediaPipe's face detector and 468-point face mesh run directly in LiteRT; the mesh
gives the eyes (to level them), the eyebrows and the chin (to crop), and the crop is
made with one affine warp to a 64x64 grayscale image.

    from cribside.edge.face import FaceAligner
    with FaceAligner() as aligner:
        face = aligner.align(bgr_frame)  # AlignedFace or None
"""

from cribside.edge.face.aligner import FaceAligner
from cribside.edge.face.settings import AlignerSettings
from cribside.edge.face.types import AlignedFace

__all__ = ["AlignedFace", "AlignerSettings", "FaceAligner"]
