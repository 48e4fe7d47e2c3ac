"""Loading TFLite models with LiteRT (ai-edge-litert), the successor of tflite-runtime.

Falls back to ``tflite_runtime`` only when that is all a device has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cribside.edge.errors import CribsideError


def interpreter_module() -> Any:
    """Return the module that provides ``Interpreter`` and ``load_delegate``."""
    try:
        from ai_edge_litert import interpreter
    except ImportError:
        try:
            from tflite_runtime import interpreter  # type: ignore[no-redef,import-not-found,unused-ignore]
        except ImportError:
            raise CribsideError(
                "no TFLite runtime: install the edge extra (pip install 'cribside[edge]', "
                "which brings ai-edge-litert)"
            ) from None
    return interpreter


def load_interpreter(model_path: str | Path, threads: int = 1, delegates: list[Any] | None = None) -> Any:
    """Create and allocate an interpreter for one model file.

    Args:
        model_path: the ``.tflite`` file.
        threads: CPU threads for the interpreter.
        delegates: loaded delegates (from ``load_delegate``), or None for CPU.

    Raises:
        CribsideError: the file is missing or is not a loadable TFLite model.
    """
    path = Path(model_path)
    if not path.is_file():
        raise CribsideError(f"model file not found: {path}")
    module = interpreter_module()
    try:
        interp = module.Interpreter(
            model_path=str(path), num_threads=threads, experimental_delegates=delegates or None
        )
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise CribsideError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from None
    return interp
