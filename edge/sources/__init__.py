"""Frame sources: cameras, streams, files and folders behind one small interface.

Only the base records and the registry are imported here; each implementation is
imported by :func:`~cribside.edge.sources.registry.open_source` when a spec names it.
"""

from cribside.edge.sources.base import Frame, FrameSource, SourceLost, SourceOptions
from cribside.edge.sources.registry import open_source

__all__ = ["Frame", "FrameSource", "SourceLost", "SourceOptions", "open_source"]
