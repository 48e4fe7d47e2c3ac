"""Convert a training run to TFLite variants, check their parity, write the manifest.

Steps: export the Keras encoder and classifier once as SavedModels with named
signatures; per mode convert both, write ``<model>.<mode>.tflite``, describe their
bindings and measure parity on the run's held-out test windows; compile the int8
pair for the Edge TPU when ``edgetpu_compiler`` exists; write ``manifest.json``.

When a mode fails the parity gates and ``allow_degraded`` is off, no manifest is
written (a stale one is removed), so a degraded folder can never be deployed by
mistake; the figures are still returned and printed.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cribside.convert import edgetpu
from cribside.convert.describe import describe_model
from cribside.convert.export import (
    FACE,
    HEADS,
    LATENT,
    WINDOW,
    LatentScaling,
    convert_saved_model,
    export_classifier,
    export_encoder,
    split_standardization,
)
from cribside.convert.manifest_writer import PIXEL_SCALE, build_manifest, write_bytes, write_manifest
from cribside.convert.modes import MODES, QuantMode
from cribside.convert.parity import Predictions, compare, keras_predictions, keras_summary, tflite_predictions
from cribside.convert.run_data import HeldOutWindows, calibration_faces, calibration_windows, held_out_windows
from cribside.edge.errors import CribsideError
from cribside.edge.inference.manifest import MANIFEST_FILE, Manifest, ModelFile, Variant
from cribside.edge.inference.model_io import BoundModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConvertOptions:
    """What to convert and how."""

    modes: tuple[QuantMode, ...]
    calibration_size: int = 500  # training faces (and as many training windows) for int8 calibration
    seed: int = 0
    allow_degraded: bool = False
    max_test_windows: int | None = None  # None: every held-out test window
    edgetpu: bool = True  # compile for the Edge TPU when the compiler is installed


@dataclass(frozen=True)
class ConversionResult:
    """What was converted; ``manifest_path`` is None when the parity gates failed."""

    manifest: Manifest
    manifest_path: Path | None
    failed: tuple[str, ...]
    notes: tuple[str, ...] = ()


def convert_run(run_dir: str | Path, out_dir: str | Path, options: ConvertOptions) -> ConversionResult:
    """Convert the run in ``run_dir`` into ``out_dir`` (created if needed).

    Raises:
        CribsideError: not a run, no test or calibration data, or a converter failure.
    """
    from cribside.training.fit.run import load_run

    run = load_run(run_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    encoder, classifier = run.encoder(), run.classifier()
    scaling, core = split_standardization(classifier)
    test = held_out_windows(run, options.max_test_windows)
    keras = keras_predictions(encoder, classifier, test, PIXEL_SCALE, scaling)
    notes: list[str] = []
    variants: dict[str, Variant] = {}
    with tempfile.TemporaryDirectory(prefix="cribside-convert-") as tmp:
        enc_saved = export_encoder(encoder, Path(tmp) / "encoder", scaling)
        cls_saved = export_classifier(core, Path(tmp) / "classifier")
        calibration = _calibration(run, options, scaling) if any(m.needs_calibration for m in options.modes) else None
        for mode in options.modes:
            enc_mode = encoder_mode(run.features, mode)
            if enc_mode is not mode:
                notes.append(f"{mode.name}: the {run.features} encoder stays {enc_mode.name} (fixed features whose "
                             "histogram normalisation does not survive int8 rounding); the classifier is "
                             f"{mode.name}")
            variants[mode.name] = _convert_mode(mode, enc_saved, cls_saved, out, calibration, keras, test,
                                                encoder_as=enc_mode)
    if options.edgetpu and "int8" in variants:
        build, note = _edgetpu_variant(variants["int8"], out)
        notes.append(note)
        if build is not None:
            variants["edgetpu"] = build
    manifest = build_manifest(
        run, variants, keras_summary(keras, test),
        face_shape=tuple(int(s) for s in encoder.input_shape[1:3]), latent_size=int(keras.latents.shape[1]),
        latent_standardized=scaling is not None,
    )
    failed = tuple(name for name, v in variants.items() if v.parity is not None and not v.parity.passed)
    if failed and not options.allow_degraded:
        (out / MANIFEST_FILE).unlink(missing_ok=True)
        return ConversionResult(manifest, None, failed, tuple(notes))
    return ConversionResult(manifest, write_manifest(manifest, out), failed, tuple(notes))


@dataclass(frozen=True)
class _Calibration:
    faces: np.ndarray  # (n, H, W, 1) float32 in [0, 1]
    windows: np.ndarray  # (n, L, latent) float32

    def face_samples(self) -> Iterator[dict[str, np.ndarray]]:
        for face in self.faces:
            yield {FACE: face[None]}

    def window_samples(self) -> Iterator[dict[str, np.ndarray]]:
        for window in self.windows:
            yield {WINDOW: window[None]}


def _calibration(run: Any, options: ConvertOptions, scaling: LatentScaling | None) -> _Calibration:
    faces = calibration_faces(run, options.calibration_size, options.seed)
    windows = calibration_windows(run, options.calibration_size, options.seed)
    if scaling is not None:  # the exported classifier takes standardised latents
        windows = scaling.apply(windows)
    log.info("int8 calibration: %d training faces, %d training windows", len(faces), len(windows))
    return _Calibration((faces.astype(np.float32) * PIXEL_SCALE)[..., None], windows.astype(np.float32))


def encoder_mode(features: str, mode: QuantMode) -> QuantMode:
    """How the encoder of a feature option is converted in ``mode``: as asked, except the fixed ``hog``
    encoder, which stays float32 where the mode would make it full-integer (measured on real faces: its
    int8 build agreed with Keras on 88.7% of cry windows; it has no weights to shrink and runs in
    well under a millisecond in float)."""
    if features == "hog" and mode.needs_calibration:
        return MODES["float32"]
    return mode


def _convert_mode(mode: QuantMode, enc_saved: Path, cls_saved: Path, out: Path,
                  calibration: _Calibration | None, keras: Predictions, test: HeldOutWindows,
                  *, encoder_as: QuantMode | None = None) -> Variant:
    enc_mode = encoder_as or mode
    with _timed(f"{mode.name} encoder"):
        enc_path = write_bytes(
            out / mode.file_name("encoder"),
            convert_saved_model(enc_saved, enc_mode,
                                calibration.face_samples if calibration and enc_mode.needs_calibration else None),
        )
    with _timed(f"{mode.name} classifier"):
        cls_path = write_bytes(
            out / mode.file_name("classifier"),
            convert_saved_model(cls_saved, mode, calibration.window_samples if calibration else None),
        )
    enc_spec = describe_model(enc_path, (FACE,), (LATENT,))
    cls_spec = describe_model(cls_path, (WINDOW,), HEADS)
    log.info("%s: encoder %s bytes, classifier %s bytes", mode.name, enc_spec.size_bytes, cls_spec.size_bytes)
    with _timed(f"{mode.name} parity"):
        tflite = tflite_predictions(BoundModel.open(enc_path, enc_spec), BoundModel.open(cls_path, cls_spec), test, PIXEL_SCALE)
    return Variant(
        quantization=mode.name, accelerator=mode.accelerator, encoder=enc_spec, classifier=cls_spec,
        parity=compare(keras, tflite, test),
    )


def _edgetpu_variant(int8: Variant, out: Path) -> tuple[Variant | None, str]:
    """Compile the int8 pair; parity needs the hardware, so it is left to the device."""
    compiler = edgetpu.find_compiler()
    if compiler is None:
        return None, (
            f"edgetpu: {edgetpu.COMPILER} not found, no Edge TPU build "
            "(x86-64 only; install package edgetpu-compiler from Coral's apt repository, see docs/conversion.md)"
        )
    specs: dict[str, ModelFile] = {}
    ops: dict[str, dict[str, int]] = {}
    for name, spec, ins, outs in (("encoder", int8.encoder, (FACE,), (LATENT,)),
                                  ("classifier", int8.classifier, (WINDOW,), HEADS)):
        if not spec.inputs[0].quantized:  # a float model (the hog encoder) runs on the CPU beside the TPU
            specs[name], ops[name] = spec, {"(float model, all on the CPU)": 1}
            continue
        with _timed(f"edgetpu {name}"):
            build = edgetpu.compile_model(compiler, out / spec.file, out)
        specs[name] = describe_model(build.path, ins, outs, like=spec)
        ops[name] = build.ops_on_cpu
    on_cpu = "; ".join(f"{k}: {', '.join(f'{op} x{n}' for op, n in v.items()) or 'none'}" for k, v in ops.items())
    return Variant(
        quantization="int8", accelerator="edgetpu", encoder=specs["encoder"], classifier=specs["classifier"],
        ops_on_cpu=ops,
    ), f"edgetpu: compiled; operators left on the CPU: {on_cpu}"


@contextmanager
def _timed(what: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    except CribsideError:
        log.error("%s failed after %.1f s", what, time.perf_counter() - start)
        raise
    log.info("%s: %.1f s", what, time.perf_counter() - start)
