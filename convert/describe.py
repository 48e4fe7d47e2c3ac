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
from cribside.edge.inference.litert import interpreter_module
from cribside.edge.inference.manifest import ModelFile, TensorBinding, sha256_file


def describe_model(
    path: Path, inputs: tuple[str, ...], outputs: tuple[str, ...], like: ModelFile | None = None
) -> ModelFile:
    """Describe ``path`` for the manifest, binding the named signature inputs and outputs.

    Tensors are not allocated, so Edge TPU builds (whose custom op needs the delegate)
    can be described too.

    Args:
        like: the model ``path`` was compiled from; if the compiler dropped the signature,
            tensors are bound by the tensor names recorded for ``like`` (compilers keep them).

    Raises:
        CribsideError: the model lacks the signature (and ``like`` does not help) or one of the names.
    """
    interp = interpreter_module().Interpreter(model_path=str(path))
    signatures = interp.get_signature_list()
    if SIGNATURE in signatures:
        runner = interp.get_signature_runner(SIGNATURE)
        in_details, out_details = runner.get_input_details(), runner.get_output_details()
    elif like is not None:
        in_details = _by_tensor_name(interp.get_input_details(), like.inputs, path)
        out_details = _by_tensor_name(interp.get_output_details(), like.outputs, path)
    else:
        raise CribsideError(f"{path.name}: no '{SIGNATURE}' signature (has: {list(signatures)})")
    return ModelFile(
        file=path.name,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        signature=SIGNATURE,
        inputs=tuple(_bind(in_details, name, path) for name in inputs),
        outputs=tuple(_bind(out_details, name, path) for name in outputs),
    )


def _by_tensor_name(details: list[dict[str, Any]], bindings: tuple[TensorBinding, ...], path: Path) -> dict[str, dict[str, Any]]:
    by_tensor = {d["name"]: d for d in details}
    missing = [b.tensor for b in bindings if b.tensor not in by_tensor]
    if missing:
        raise CribsideError(f"{path.name}: no signature and no tensor named {', '.join(missing)}; cannot bind it safely")
    return {b.name: by_tensor[b.tensor] for b in bindings}


def _bind(details: dict[str, dict[str, Any]], name: str, path: Path) -> TensorBinding:
    if name not in details:
        raise CribsideError(f"{path.name}: signature has no tensor '{name}' (has: {sorted(details)})")
    d = details[name]
    scale, zero_point = d["quantization"]
    return TensorBinding(
        name=name,
        index=int(d["index"]),
        tensor=str(d["name"]),
        shape=tuple(int(s) for s in d["shape"]),
        dtype=np.dtype(d["dtype"]).name,
        scale=float(scale),
        zero_point=int(zero_point),
    )
