"""One TFLite model with its tensors bound by signature name and (de)quantized at the boundary.

Callers pass and receive float32 arrays only: an int8 model's inputs are quantized
and its outputs dequantized here (``real = scale * (q - zero_point)``, as pycoral
and Ultralytics do). Every binding is checked against the interpreter at load, so
a model that disagrees with its manifest (shape, type, quantization, or an output
order that would swap cry and pain) is a startup error, never a wrong answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.inference.litert import load_interpreter
from cribside.edge.inference.manifest import ModelFile, TensorBinding

_NUMPY_DTYPES: dict[str, Any] = {
    "float32": np.float32,
    "float16": np.float16,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
}
_INT_RANGE = {name: (np.iinfo(t).min, np.iinfo(t).max) for name, t in _NUMPY_DTYPES.items() if name.startswith(("int", "uint"))}
# Relative tolerance when comparing a stored scale with the one in the model file
# (the manifest stores Python floats; the model float32).
_SCALE_RTOL = 1e-5


def quantize(values: np.ndarray, binding: TensorBinding) -> np.ndarray:
    """Float values -> the tensor's stored type (rounded and clipped when quantized)."""
    dtype = _NUMPY_DTYPES[binding.dtype]
    if not binding.quantized:
        return np.asarray(values, dtype=dtype)
    info = _INT_RANGE[binding.dtype]
    q = np.round(np.asarray(values, dtype=np.float32) * np.float32(1.0 / binding.scale))
    q += np.float32(binding.zero_point)
    return np.clip(q, info[0], info[1], out=q).astype(dtype)


def dequantize(values: np.ndarray, binding: TensorBinding) -> np.ndarray:
    """The tensor's stored values -> float32."""
    if not binding.quantized:
        return np.asarray(values, dtype=np.float32)
    return (binding.scale * (values.astype(np.int64) - binding.zero_point)).astype(np.float32)


class BoundModel:
    """An allocated interpreter whose inputs and outputs are addressed by name."""

    def __init__(self, interpreter: Any, spec: ModelFile, path: Path) -> None:
        self._interpreter = interpreter
        self.spec = spec
        self.path = path
        _check_signature(interpreter, spec, path)
        details = {d["index"]: d for d in interpreter.get_input_details() + interpreter.get_output_details()}
        for binding in spec.inputs + spec.outputs:
            _check_binding(details.get(binding.index), binding, path)

    @classmethod
    def open(cls, path: str | Path, spec: ModelFile, *, threads: int = 1, delegates: list[Any] | None = None) -> BoundModel:
        """Load ``path`` and bind it as the manifest's ``spec`` describes.

        Raises:
            CribsideError: the file cannot be loaded or disagrees with ``spec``.
        """
        return cls(load_interpreter(path, threads=threads, delegates=delegates), spec, Path(path))

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Invoke the model on float inputs (by name, batch dimension included); return float outputs by name."""
        for binding in self.spec.inputs:
            self._interpreter.set_tensor(binding.index, quantize(inputs[binding.name], binding))
        self._interpreter.invoke()
        return {b.name: dequantize(self._interpreter.get_tensor(b.index), b) for b in self.spec.outputs}

    def invoke(self) -> None:
        """Run the model again on the inputs the last :meth:`run` set: the model's own time, without
        the float boundary (for benchmarks)."""
        self._interpreter.invoke()


def _check_signature(interpreter: Any, spec: ModelFile, path: Path) -> None:
    """The manifest's indices must be the ones the signature names (so cry and pain cannot swap)."""
    signatures = interpreter.get_signature_list()
    if not signatures:
        # Some compilers drop signatures; the index, shape and type checks still apply.
        return
    if spec.signature not in signatures:
        raise CribsideError(f"model {path} has no signature '{spec.signature}' named in the manifest")
    runner = interpreter.get_signature_runner(spec.signature)
    actual = {
        **{("in", k): v["index"] for k, v in runner.get_input_details().items()},
        **{("out", k): v["index"] for k, v in runner.get_output_details().items()},
    }
    bound = {**{("in", b.name): b.index for b in spec.inputs}, **{("out", b.name): b.index for b in spec.outputs}}
    for key, index in bound.items():
        if actual.get(key) != index:
            raise CribsideError(
                f"model {path}: the manifest binds {key[0]}put '{key[1]}' to tensor {index} but the model's "
                f"signature puts it at {actual.get(key)}: manifest and model do not belong together"
            )


def _check_binding(detail: dict[str, Any] | None, binding: TensorBinding, path: Path) -> None:
    if detail is None:
        raise CribsideError(f"model {path}: no input/output tensor {binding.index} ('{binding.name}') as the manifest says")
    shape = tuple(int(s) for s in detail["shape"])
    if shape != tuple(binding.shape):
        raise CribsideError(
            f"model {path}: '{binding.name}' has shape {shape} but the manifest says {tuple(binding.shape)}"
        )
    dtype = np.dtype(detail["dtype"]).name
    if dtype != binding.dtype:
        raise CribsideError(f"model {path}: '{binding.name}' is {dtype} but the manifest says {binding.dtype}")
    scale, zero_point = detail["quantization"]
    if not np.isclose(scale, binding.scale, rtol=_SCALE_RTOL, atol=0.0) or int(zero_point) != binding.zero_point:
        raise CribsideError(
            f"model {path}: '{binding.name}' quantization ({scale}, {zero_point}) differs from the manifest "
            f"({binding.scale}, {binding.zero_point})"
        )
