"""The conversion modes, as one table (format, file tag, calibration, target delegate).

| mode     | files                       | calibration | meant for                          |
|----------|-----------------------------|-------------|------------------------------------|
| float32  | ``*.float32.tflite``        | no          | reference, any CPU                 |
| float16  | ``*.float16.tflite``        | no          | GPU delegates (half the size)      |
| dynamic  | ``*.dynamic.tflite``        | no          | CPU; int8 weights, float activations|
| int8     | ``*.int8.tflite``           | yes         | CPU (XNNPACK); int8 in and out     |
| edgetpu  | ``*.int8_edgetpu.tflite``   | (int8's)    | Coral Edge TPU; compiled from int8 |
"""

from __future__ import annotations

from dataclasses import dataclass

from cribside.edge.errors import CribsideError


@dataclass(frozen=True)
class QuantMode:
    """One way of converting the Keras models to TFLite."""

    name: str
    needs_calibration: bool
    accelerator: str  # the delegate the build is meant for: cpu | gpu | edgetpu
    description: str

    def file_name(self, model: str) -> str:
        """``encoder`` -> ``encoder.int8.tflite``."""
        return f"{model}.{self.name}.tflite"


MODES: dict[str, QuantMode] = {
    "float32": QuantMode("float32", False, "cpu", "no quantization (reference)"),
    "float16": QuantMode("float16", False, "gpu", "float16 weights, for GPU delegates"),
    "dynamic": QuantMode("dynamic", False, "cpu", "dynamic-range: int8 weights, float activations"),
    "int8": QuantMode("int8", True, "cpu", "full integer, int8 inputs and outputs, calibrated on training faces"),
}
MODE_CHOICES = (*MODES, "all")


def parse_modes(spec: str) -> list[QuantMode]:
    """``"int8,float32"`` or ``"all"`` -> the modes, in table order.

    Raises:
        CribsideError: an unknown mode name.
    """
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise CribsideError("--quant: no mode given")
    if "all" in names:
        return list(MODES.values())
    unknown = [n for n in names if n not in MODES]
    if unknown:
        raise CribsideError(f"--quant: unknown mode {', '.join(unknown)} (choose from {', '.join(MODE_CHOICES)})")
    return [mode for name, mode in MODES.items() if name in names]
