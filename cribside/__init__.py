"""cribside: watch an infant's face for crying and pain on an edge device.

cribside is NOT a medical device. It is not cleared or approved for diagnosis,
monitoring or treatment, and it must never replace a nurse's observation.
"""

__version__ = "0.1.0"

NOT_A_MEDICAL_DEVICE = (
    "cribside is not a medical device: it supports, and never replaces, a nurse's observation."
)
