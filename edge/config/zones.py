"""What a config leaves open about where the infant is: a camera without a crib zone.

Without a crib zone the whole frame is the crib, so a parent's or a nurse's face in view can be taken
for the infant's and classified (on webcam clips with a parent in frame, more than a third of the faces
taken were the parent's: benchmarks/RESULTS.md). That is a set-up step not yet done, not an error:
``config validate``, ``doctor`` and ``cribside run`` say it, and none of them stops the device.
"""

from __future__ import annotations

import os

from cribside.edge.config.models import CameraConfig, DeviceConfig
from cribside.edge.face.zones import CribZone

NO_ZONE_RISK = "any face in view (a parent's, a nurse's) can be taken for the infant's"


def crib_zone(camera: CameraConfig) -> CribZone:
    """The camera's crib zone, for the aligner and for drawing."""
    return CribZone.from_lists(camera.zone.crib, camera.zone.masks)


def draw_zone_command(camera: CameraConfig, config_path: str | os.PathLike[str] | None = None) -> str:
    """The ``cribside zones`` command that draws this camera's zone (``FILE`` when the path is unknown)."""
    return f"cribside zones --config {config_path or 'FILE'} --camera {camera.device_id} --out zone.png"


def zone_warning(camera: CameraConfig, config_path: str | os.PathLike[str] | None = None) -> str | None:
    """The warning for one camera, or None when it has a crib polygon."""
    if camera.zone.crib is not None:
        return None
    return (f"cameras[{camera.device_id}].zone.crib: not set, so the whole frame is the crib and {NO_ZONE_RISK}: "
            f"draw one with {draw_zone_command(camera, config_path)} (deploy/README.md, step 4)")


def zone_warnings(cfg: DeviceConfig, config_path: str | os.PathLike[str] | None = None) -> list[str]:
    """:func:`zone_warning` of every camera that has one."""
    return [w for w in (zone_warning(c, config_path) for c in cfg.cameras) if w is not None]
