"""What a config leaves open about where the infant is: a camera without a crib zone.

Without a crib zone the whole frame is the crib, so a parent's or a nurse's face in view can be taken
for the infant's and classified (on webcam clips with a parent in frame, half the faces taken were the
parent's: benchmarks/RESULTS.md). That is a set-up step not yet done, not an error: ``config validate``,
``doctor`` and ``cribside run`` say it, and none of them stops the device.
"""

from __future__ import annotations

from cribside.edge.config.models import CameraConfig, DeviceConfig
from cribside.edge.face.zones import CribZone


def crib_zone(camera: CameraConfig) -> CribZone:
    """The camera's crib zone, for the aligner and for drawing."""
    return CribZone.from_lists(camera.zone.crib, camera.zone.masks)


def zone_warning(camera: CameraConfig) -> str | None:
    """The warning for one camera, or None when it has a crib polygon."""
    if camera.zone.crib is not None:
        return None
    return (f"cameras[{camera.device_id}].zone.crib: not set, so the whole frame is the crib and any face in view "
            f"(a parent's, a nurse's) can be taken for the infant's: draw one with "
            f"cribside zones --config FILE --camera {camera.device_id} --out zone.png (deploy/README.md, step 4)")


def zone_warnings(cfg: DeviceConfig) -> list[str]:
    """:func:`zone_warning` of every camera that has one."""
    return [w for w in (zone_warning(c) for c in cfg.cameras) if w is not None]
