"""The aligner's output record (defined in :mod:`cribside.edge.types`, where every record that crosses stages lives)."""

from cribside.edge.types import AlignedFace

__all__ = ["AlignedFace"]
