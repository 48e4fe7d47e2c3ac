"""The model manifest: everything the device knows about its models, read from ``manifest.json``.

``cribside convert`` writes the manifest beside the TFLite files; the device reads
window length, frame rate, label names and order, tensor bindings, quantization
parameters and the aligner settings from here and hard-codes none of them.

The models are pydantic (already a device dependency for the config) so that a
damaged manifest is reported with the path of the field at fault, and so that the
JSON Schema in ``edge/schemas/manifest.schema.json`` is generated, not hand-kept.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from cribside.edge.errors import CribsideError

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
# Variants the converter can write; "edgetpu" is the int8 build compiled by edgetpu_compiler.
VARIANT_NAMES = ("float32", "float16", "dynamic", "int8", "edgetpu")
Dtype = Literal["float32", "float16", "int8", "uint8", "int16"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TensorBinding(_Frozen):
    """One input or output of a model, bound by its signature name (never by position)."""

    name: str = Field(description="signature name: face, latent, window, cry or pain")
    index: int = Field(ge=0, description="tensor index in the interpreter, resolved from the signature at conversion")
    tensor: str = Field("", description="the tensor's name in the model file (for diagnostics and compiled builds)")
    shape: tuple[int, ...] = Field(description="tensor shape including the batch dimension of 1")
    dtype: Dtype = Field(description="tensor element type as stored in the model")
    scale: float = Field(0.0, ge=0.0, description="quantization scale (0 when the tensor is not quantized)")
    zero_point: int = Field(0, description="quantization zero point")

    @property
    def quantized(self) -> bool:
        """True when values cross this tensor as integers: real = scale * (q - zero_point)."""
        return self.scale > 0.0


class ModelFile(_Frozen):
    """One ``.tflite`` file of a variant and how to call it."""

    file: str = Field(description="file name inside the models folder")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file, checked at load")
    size_bytes: int = Field(gt=0, description="file size")
    signature: str = Field("serving_default", description="signature key the bindings come from")
    inputs: tuple[TensorBinding, ...] = Field(min_length=1)
    outputs: tuple[TensorBinding, ...] = Field(min_length=1)

    def input(self, name: str) -> TensorBinding:
        """The input bound to ``name``."""
        return _by_name(self.inputs, name, self.file)

    def output(self, name: str) -> TensorBinding:
        """The output bound to ``name``."""
        return _by_name(self.outputs, name, self.file)


class Parity(_Frozen):
    """How a variant's predictions compare with the Keras model on the run's held-out test windows."""

    windows: int = Field(ge=0, description="held-out test windows compared")
    cry_agreement: float = Field(ge=0.0, le=1.0, description="fraction of windows with the same cry class as Keras")
    pain_agreement: float = Field(ge=0.0, le=1.0, description="fraction of windows with the same pain class as Keras")
    max_abs_prob_diff: float = Field(ge=0.0, description="largest |p_tflite - p_keras| over both heads")
    cry_f1: float
    pain_weighted_f1: float
    keras_cry_f1: float
    keras_pain_weighted_f1: float
    latent_max_abs_diff: float = Field(ge=0.0, description="largest |latent_tflite - latent_keras| on test faces")
    latent_rel_error: float = Field(ge=0.0, description="RMS latent error over the RMS Keras latent")
    passed: bool = Field(description="within the conversion gates (class agreement >= 98%, F1 drop <= 1 point)")
    problems: tuple[str, ...] = Field(default=(), description="why it did not pass")


class Variant(_Frozen):
    """One quantization mode: an encoder and a classifier converted the same way."""

    quantization: Literal["float32", "float16", "dynamic", "int8"]
    accelerator: Literal["cpu", "gpu", "edgetpu"] = Field(description="the delegate this build is meant for")
    encoder: ModelFile
    classifier: ModelFile
    parity: Parity | None = None
    ops_on_cpu: dict[str, dict[str, int]] | None = Field(
        None, description="Edge TPU builds: per model, operator -> count that stayed on the CPU"
    )


class Labels(_Frozen):
    """Label names of each head, in the order of the model's output vector."""

    cry: tuple[str, ...] = Field(min_length=2)
    pain: tuple[str, ...] = Field(min_length=2)


class Manifest(_Frozen):
    """The parsed ``manifest.json`` of a models folder."""

    format_version: Literal[1]
    model_version: str = Field(description="identifies the trained run the models came from")
    created_utc: str
    synthetic: bool = Field(description="trained on synthetic faces: a demo, not for real infants")
    versions: dict[str, str] = Field(description="package versions used for training and conversion")
    source: dict[str, Any] = Field(description="the run and dataset the models came from")
    labels: Labels
    window_length: int = Field(gt=0, description="latents per window (frames)")
    fps: float = Field(gt=0, description="frame rate the windows were sampled at in training")
    face_shape: tuple[int, int] = Field(description="aligned face crop (height, width), grayscale uint8")
    latent_size: int = Field(gt=0)
    latent_standardized: bool = Field(
        default=False,
        description="the encoder outputs latents already standardised with the training statistics "
        "(the classifier takes them as they come; the device never rescales)",
    )
    pixel_scale: float = Field(gt=0, description="face pixels are multiplied by this before the encoder")
    aligner: dict[str, Any] | None = Field(description="aligner settings incl. 'fingerprint'; null if not aligned")
    keras_metrics: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, Variant] = Field(min_length=1)

    _sha256: str = PrivateAttr(default="")

    @property
    def sha256(self) -> str:
        """sha256 of the manifest file itself: one id for the whole model set (it lists every file's sha256)."""
        return self._sha256

    @property
    def version(self) -> str:
        """Short name for :attr:`model_version` (what the device reports in its state messages)."""
        return self.model_version

    @property
    def aligner_fingerprint(self) -> str | None:
        """The fingerprint of the aligner settings the faces were made with, or None."""
        return None if self.aligner is None else self.aligner.get("fingerprint")

    def files(self) -> dict[str, str]:
        """Every model file named by the manifest -> its expected sha256."""
        return {m.file: m.sha256 for v in self.variants.values() for m in (v.encoder, v.classifier)}


def _by_name(bindings: tuple[TensorBinding, ...], name: str, file: str) -> TensorBinding:
    for binding in bindings:
        if binding.name == name:
            return binding
    raise CribsideError(f"manifest: {file} has no tensor bound to '{name}'")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_manifest(raw: bytes, where: str = MANIFEST_FILE) -> Manifest:
    """Parse manifest bytes.

    Raises:
        CribsideError: not JSON, another format version, or a field is missing or wrong
            (the message names the field path).
    """
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CribsideError(f"{where} is not valid JSON: {exc}") from None
    if isinstance(data, dict) and data.get("format_version") not in (None, FORMAT_VERSION):
        raise CribsideError(
            f"{where}: format_version {data.get('format_version')!r} is not supported "
            f"(this cribside reads {FORMAT_VERSION}); convert the run again with this version"
        )
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise CribsideError(f"{where}: field '{field}': {first['msg']}{more}") from None
    for name in manifest.variants:
        if name not in VARIANT_NAMES:
            raise CribsideError(f"{where}: unknown variant '{name}' (known: {', '.join(VARIANT_NAMES)})")
    manifest._sha256 = hashlib.sha256(raw).hexdigest()
    return manifest


def load_manifest(models_dir: str | Path) -> Manifest:
    """Read ``models_dir/manifest.json`` (no file checks; see :func:`verify_files`).

    Raises:
        CribsideError: the folder or manifest is missing or the manifest is invalid.
    """
    path = Path(models_dir) / MANIFEST_FILE
    if not Path(models_dir).is_dir():
        raise CribsideError(f"models folder not found: {models_dir}")
    if not path.is_file():
        raise CribsideError(f"no {MANIFEST_FILE} in {models_dir}: convert a run with 'cribside convert RUN --out DIR'")
    return parse_manifest(path.read_bytes(), str(path))


def verify_files(manifest: Manifest, models_dir: str | Path, variant: str | None = None) -> None:
    """Check that the model files exist and match their sha256 in the manifest.

    Args:
        variant: check only this variant's files; None checks every file.

    Raises:
        CribsideError: a file is missing or its content differs from the manifest's sha256.
    """
    variants = [manifest.variants[variant]] if variant else list(manifest.variants.values())
    for v in variants:
        for model in (v.encoder, v.classifier):
            path = Path(models_dir) / model.file
            if not path.is_file():
                raise CribsideError(f"model file missing: {path} (listed in {MANIFEST_FILE})")
            actual = sha256_file(path)
            if actual != model.sha256:
                raise CribsideError(
                    f"model file {path} does not match {MANIFEST_FILE} (sha256 {actual[:12]}..., "
                    f"expected {model.sha256[:12]}...): the file is damaged or from another conversion"
                )


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``manifest.json`` (generated from :class:`Manifest`)."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cribside models manifest"
    return schema


def check_aligner(manifest: Manifest, aligner_fingerprint: str) -> None:
    """Refuse models trained on faces made with other aligner settings than the device's.

    Raises:
        CribsideError: the manifest has no aligner settings, or its fingerprint differs.
    """
    expected = manifest.aligner_fingerprint
    if expected is None:
        raise CribsideError(
            "the models were trained on face crops not made by the aligner (the manifest has no aligner "
            "settings, e.g. synthetic crops drawn directly); train from raw frames so the device's crops match"
        )
    if expected != aligner_fingerprint:
        raise CribsideError(
            f"the models were trained with other aligner settings (fingerprint {expected}) than this device "
            f"uses ({aligner_fingerprint}): use the same aligner settings or retrain"
        )
