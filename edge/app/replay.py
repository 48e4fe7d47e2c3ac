"""Replay recordings through the exact device path and collect what it made of every sampled frame.

Used by ``cribside eval RUN --device MODELS``: the same source, sampler, aligner,
models, windows and alert state machine as ``cribside run`` (it *is* ``cribside
run``, with one camera per recording and a results sink), so the figures carry no
train/serve skew of their own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cribside.edge.config import CameraConfig, DeviceConfig, config_from_dict

# Every replayed recording is one camera loop with its own models: these loggers would repeat the
# same delegate and variant choice for each one.
_ONCE_LOGGERS = ("cribside.edge.inference.delegates", "cribside.edge.inference.runtime")


def camera_id(name: str) -> str:
    """A valid device_id (``[a-z0-9_-]+``) for a recording name like ``s03/v1``."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "video"


def replay(specs: dict[str, str], models: Path, config: DeviceConfig | None = None,
           *, parallel: int | None = None) -> dict[str, list[dict[str, Any]]]:
    """Run every recording through the device loop, as fast as possible, without MQTT.

    Args:
        specs: name -> source spec (``frames:DIR?fps=3``, a video path, ...); names become device ids.
        models: the converted models folder.
        config: alert, health and model settings (defaults and ``CRIBSIDE__*`` environment overrides
            when None); its cameras and mqtt are ignored.
        parallel: recordings run at once, one camera loop each (default: the CPU count).

    Returns:
        name -> the ``--results`` rows of that recording, in order (see ``cribside.edge.display.views.result_row``).

    Raises:
        CribsideError: unreadable recordings or models (before anything runs), or a loop that failed.
    """
    ids = {camera_id(name): name for name in specs}
    if len(ids) != len(specs):
        raise ValueError("recording names collide once made into device ids")
    # Defaults honour CRIBSIDE__* overrides, e.g. CRIBSIDE__MODELS__VARIANT=float32.
    base = (config or config_from_dict({}, source="defaults")).model_copy(update={"mqtt": None, "cameras": []})
    names = list(ids)
    step = max(1, parallel or os.cpu_count() or 1)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in specs}
    with _each_message_once(_ONCE_LOGGERS):
        for start in range(0, len(names), step):
            batch = [CameraConfig(device_id=d, source=specs[ids[d]]) for d in names[start : start + step]]
            for row in _run_batch(base, batch, models):
                rows[ids[row["device_id"]]].append(row)
    return rows


@contextlib.contextmanager
def _each_message_once(names: tuple[str, ...]) -> Iterator[None]:
    """While inside, the named loggers emit each distinct message once (warnings and errors always)."""
    seen: set[str] = set()

    def first_time(record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        message = record.getMessage()
        if message in seen:
            return False
        seen.add(message)
        return True

    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addFilter(first_time)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(first_time)


def _run_batch(config: DeviceConfig, cameras: list[CameraConfig], models: Path) -> list[dict[str, Any]]:
    from cribside.edge.app.build import Outputs, build_device
    from cribside.edge.app.runner import run_device
    from cribside.edge.display.console import MemoryResults

    results = MemoryResults()
    device = build_device(config, cameras, models, Outputs(results_sink=results, console=False))
    with device.closers:
        run_device(device)
    return results.rows
