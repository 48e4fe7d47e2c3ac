"""Indices into MediaPipe's 468-point face mesh that the alignment uses.

"Right"/"left" are the subject's: the subject's right eye is on the image's left in
an upright, unmirrored face, so it is the ``AlignedFace.left_eye``.
"""

from __future__ import annotations

# Eye contours (16 points each, upper and lower lid): their mean is the eye centre,
# steadier than any single corner point when the eye half-closes (crying).
SUBJECT_RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
SUBJECT_LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)

# Eyebrows (upper and lower edges).
SUBJECT_RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
SUBJECT_LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
BROWS = SUBJECT_RIGHT_BROW + SUBJECT_LEFT_BROW

# Lowest point of the chin on the face oval.
CHIN = 152

# Face oval, clockwise from the top of the forehead.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)

# Outer eye corners: the ROI for the next video frame is rotated by them, as
# MediaPipe's face mesh does for tracking.
SUBJECT_RIGHT_EYE_OUTER = 33
SUBJECT_LEFT_EYE_OUTER = 263
