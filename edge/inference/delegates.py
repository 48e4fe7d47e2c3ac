"""TFLite delegates: load one by name, or walk the ``auto`` ladder Edge TPU -> GPU -> CPU.

An explicitly requested delegate that cannot load is a startup error naming the
library; ``auto`` logs every rung it skipped and why, and never falls back silently
(the chosen delegate and the reason are reported in the device's stats).
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cribside.edge.errors import CribsideError
from cribside.edge.inference.litert import interpreter_module

log = logging.getLogger(__name__)

DELEGATES = ("auto", "cpu", "gpu", "edgetpu")
# The order auto tries accelerators in; CPU always works and ends the ladder.
AUTO_LADDER = ("edgetpu", "gpu")
DEFAULT_LIBRARIES: dict[str, str] = {
    "edgetpu": "libedgetpu.so.1",
    "gpu": "libtensorflowlite_gpu_delegate.so",
}
_INSTALL_HINTS = {
    "edgetpu": "install libedgetpu1-std from Coral's apt repository (see docs/conversion.md, 'Edge TPU')",
    "gpu": "build or install the TFLite GPU delegate for this device and put it on the library path",
}
# The entry point every TFLite external delegate library exports.
_DELEGATE_SYMBOL = "tflite_plugin_create_delegate"


@dataclass(frozen=True)
class DelegateChoice:
    """The delegate the models run on, and why it was chosen."""

    name: str  # cpu | gpu | edgetpu
    delegate: Any  # the loaded delegate, or None for plain CPU
    reason: str


DelegateLoader = Callable[[str, str], Any]


def load_delegate(name: str, library: str | None = None) -> Any:
    """Load the delegate ``name`` ("gpu" or "edgetpu") from its shared library.

    The library is opened with ctypes first so that a missing file (OSError) and a
    library without the delegate entry point (AttributeError) become one clear line.

    Raises:
        CribsideError: the library is missing, is not a TFLite delegate, or fails to start
            (e.g. no Edge TPU plugged in); the message names the library.
    """
    if name not in DEFAULT_LIBRARIES:
        raise CribsideError(f"unknown delegate '{name}' (choose from {', '.join(DELEGATES)})")
    lib = library or DEFAULT_LIBRARIES[name]
    try:
        handle = ctypes.CDLL(lib)
        getattr(handle, _DELEGATE_SYMBOL)
    except OSError as exc:
        raise CribsideError(f"{name} delegate: cannot load {lib} ({exc}); {_INSTALL_HINTS[name]}") from None
    except AttributeError:
        raise CribsideError(
            f"{name} delegate: {lib} is not a TFLite delegate library (no {_DELEGATE_SYMBOL} symbol)"
        ) from None
    try:
        return interpreter_module().load_delegate(lib)
    except (OSError, AttributeError, ValueError, RuntimeError) as exc:
        raise CribsideError(f"{name} delegate: {lib} failed to start: {str(exc).splitlines()[0]}") from None


def choose_delegate(
    requested: str,
    *,
    candidates: Sequence[str] = AUTO_LADDER,
    libraries: Mapping[str, str] | None = None,
    loader: DelegateLoader = load_delegate,
) -> DelegateChoice:
    """Pick the delegate to run on.

    Args:
        requested: auto | cpu | gpu | edgetpu.
        candidates: accelerators ``auto`` may try, in order (the caller drops those the models
            cannot use, e.g. edgetpu without an Edge TPU build).
        libraries: delegate name -> library file, overriding :data:`DEFAULT_LIBRARIES`.
        loader: ``loader(name, library)`` loads one delegate (tests pass the real one with a bad path).

    Raises:
        CribsideError: an explicitly requested delegate cannot load, or ``requested`` is unknown.
    """
    libs = {**DEFAULT_LIBRARIES, **(libraries or {})}
    if requested not in DELEGATES:
        raise CribsideError(f"unknown delegate '{requested}' (choose from {', '.join(DELEGATES)})")
    if requested == "cpu":
        return DelegateChoice("cpu", None, "cpu requested")
    if requested != "auto":
        delegate = loader(requested, libs[requested])
        return DelegateChoice(requested, delegate, f"{requested} requested; {libs[requested]} loaded")
    skipped: list[str] = []
    for name in AUTO_LADDER:
        if name not in candidates:
            skipped.append(f"{name}: the models have no build for it")
            continue
        try:
            delegate = loader(name, libs[name])
        except CribsideError as exc:
            log.info("delegate auto: skipping %s: %s", name, exc)
            skipped.append(f"{name}: {libs[name]} not usable")
            continue
        log.info("delegate auto: using %s (%s)", name, libs[name])
        return DelegateChoice(name, delegate, f"auto: {libs[name]} loaded")
    reason = "auto: no accelerator (" + "; ".join(skipped) + ")"
    log.info("delegate %s; using cpu", reason)
    return DelegateChoice("cpu", None, reason)
