"""Frame sources: cameras, streams, files and folders behind one small interface.

Only :mod:`cribside.edge.sources.base` is imported here; each implementation is
imported by :func:`open_source` when a spec names it.
"""

from cribside.edge.sources.base import Frame, FrameSource, SourceLost, SourceOptions, open_source

__all__ = ["Frame", "FrameSource", "SourceLost", "SourceOptions", "open_source"]
