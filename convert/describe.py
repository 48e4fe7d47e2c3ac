"""Read a ``.tflite`` file's signature bindings into the manifest's :class:`ModelFile`.

The indices come from the signature (name -> tensor), not from the order of the
interpreter's outputs, which the converter does not guarantee.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cribside.convert.export import SIGNATURE
from cribside.edge.errors import CribsideError
from cribside.edge.litert import interpreter_module
from cribside.edge.manifest import ModelFile, TensorBinding, sha256_file


def describe_model(path: Path, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> ModelFile:
    """Describe ``path`` for the manifest, binding the named signature inputs and outputs.

    Tensors are not allocated, so Edge TPU builds (whose custom op needs the delegate)
    can be described too.

    Raises:
        CribsideError: the model lacks the signature or one of the names.
    """
    interp = interpreter_module().Interpreter(model_path=str(path))
    signatures = interp.get_signature_list()
    if SIGNATURE not in signatures:
        raise CribsideError(f"{path.name}: no '{SIGNATURE}' signature (has: {list(signatures)})")
    runner = interp.get_signature_runner(SIGNATURE)
    return ModelFile(
        file=path.name,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        signature=SIGNATURE,
        inputs=tuple(_bind(runner.get_input_details(), name, path) for name in inputs),
        outputs=tuple(_bind(runner.get_output_details(), name, path) for name in outputs),
    )


def _bind(details: dict[str, dict[str, Any]], name: str, path: Path) -> TensorBinding:
    if name not in details:
        raise CribsideError(f"{path.name}: signature has no tensor '{name}' (has: {sorted(details)})")
    d = details[name]
    scale, zero_point = d["quantization"]
    return TensorBinding(
        name=name,
        index=int(d["index"]),
        shape=tuple(int(s) for s in d["shape"]),
        dtype=np.dtype(d["dtype"]).name,
        scale=float(scale),
        zero_point=int(zero_point),
    )
