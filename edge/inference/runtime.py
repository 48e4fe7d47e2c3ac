"""The device's model runtime: the encoder and the classifier of one variant, on one delegate.

Everything about the models comes from the manifest (window length, labels and their
order, tensor bindings, quantization); files are checked against their sha256 before
anything is loaded. The rest of the device sees floats and label names only.

No TensorFlow here: LiteRT (``ai_edge_litert``) runs the models.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cribside.edge.errors import CribsideError
from cribside.edge.inference.delegates import AUTO_LADDER, DelegateChoice, choose_delegate
from cribside.edge.inference.manifest import VARIANT_NAMES, Manifest, Variant, check_aligner, load_manifest, verify_files
from cribside.edge.inference.model_io import BoundModel
from cribside.edge.types import Prediction

log = logging.getLogger(__name__)

VARIANTS = ("auto",) + VARIANT_NAMES
# Variant preference per delegate when variant="auto": int8 is the smallest and fastest on
# CPUs (XNNPACK runs it natively); GPU delegates compute in float16 anyway.
_PREFERENCE = {
    "edgetpu": ("edgetpu",),
    "gpu": ("float16", "float32", "dynamic", "int8"),
    "cpu": ("int8", "dynamic", "float32", "float16"),
}


class ModelRuntime:
    """Encodes aligned faces to latents and classifies windows of latents."""

    def __init__(
        self, manifest: Manifest, variant: str, encoder: BoundModel, classifier: BoundModel, choice: DelegateChoice
    ) -> None:
        self.manifest = manifest
        self.variant = variant
        self.delegate = choice.name
        self.delegate_reason = choice.reason
        self._encoder = encoder
        self._classifier = classifier
        self._face_shape = tuple(manifest.face_shape)
        self._window_shape = (manifest.window_length, manifest.latent_size)

    @classmethod
    def load(
        cls,
        models_dir: str | Path,
        *,
        variant: str = "auto",
        delegate: str = "auto",
        threads: int = 1,
        aligner_fingerprint: str | None = None,
        delegate_libraries: Mapping[str, str] | None = None,
    ) -> ModelRuntime:
        """Load and verify the models of ``models_dir``.

        Args:
            variant: auto | float32 | float16 | dynamic | int8 | edgetpu (auto: edgetpu on an
                Edge TPU, float16 on a GPU, int8 on CPU, else the best the manifest has).
            delegate: auto | cpu | gpu | edgetpu.
            threads: CPU threads per interpreter.
            aligner_fingerprint: the device aligner's settings fingerprint; when given, models
                trained on other crops are refused.
            delegate_libraries: delegate name -> shared library, overriding the defaults.

        Raises:
            CribsideError: missing or damaged files (sha256), a manifest that does not match
                the models, other aligner settings, an unknown or absent variant, or an
                explicit delegate that cannot load.
        """
        manifest = load_manifest(models_dir)
        if aligner_fingerprint is not None:
            check_aligner(manifest, aligner_fingerprint)
        if threads < 1:
            raise CribsideError(f"threads must be at least 1 (got {threads})")
        _check_request(manifest, variant, delegate)
        choice = choose_delegate(delegate, candidates=_candidates(manifest, variant), libraries=delegate_libraries)
        name = _pick_variant(manifest, variant, choice)
        verify_files(manifest, models_dir, name)
        spec = manifest.variants[name]
        delegates = [choice.delegate] if choice.delegate is not None else None
        encoder = BoundModel.open(Path(models_dir) / spec.encoder.file, spec.encoder, threads=threads, delegates=delegates)
        classifier = BoundModel.open(
            Path(models_dir) / spec.classifier.file, spec.classifier, threads=threads, delegates=delegates
        )
        _check_shapes(manifest, spec)
        log.info("models %s: variant %s on %s (%s)", manifest.model_version, name, choice.name, choice.reason)
        return cls(manifest, name, encoder, classifier, choice)

    @property
    def models(self) -> dict[str, BoundModel]:
        """The bound ``encoder`` and ``classifier`` (benchmarks time them alone)."""
        return {"encoder": self._encoder, "classifier": self._classifier}

    def encode(self, crop: np.ndarray) -> np.ndarray:
        """One aligned face (H, W) uint8 -> its latent (latent_size,) float32."""
        crop = np.asarray(crop)
        if crop.ndim == 3 and crop.shape[-1] == 1:
            crop = crop[..., 0]
        if crop.shape != self._face_shape or crop.dtype != np.uint8:
            raise ValueError(f"encode expects a {self._face_shape} uint8 face, got {crop.shape} {crop.dtype}")
        face = (crop.astype(np.float32) * self.manifest.pixel_scale)[None, :, :, None]
        return self._encoder.run({"face": face})["latent"].reshape(-1)

    def classify(self, window: np.ndarray) -> Prediction:
        """A window (window_length, latent_size) float32 of consecutive latents -> class probabilities."""
        window = np.asarray(window, dtype=np.float32)
        if window.shape != self._window_shape:
            raise ValueError(f"classify expects a {self._window_shape} window, got {window.shape}")
        out = self._classifier.run({"window": window[None]})
        labels = self.manifest.labels
        return Prediction(
            cry={label: float(p) for label, p in zip(labels.cry, out["cry"][0])},
            pain={label: float(p) for label, p in zip(labels.pain, out["pain"][0])},
        )


def _check_request(manifest: Manifest, variant: str, delegate: str) -> None:
    if variant not in VARIANTS:
        raise CribsideError(f"unknown model variant '{variant}' (choose from {', '.join(VARIANTS)})")
    if variant != "auto" and variant not in manifest.variants:
        raise CribsideError(
            f"variant '{variant}' is not in the models folder (it has: {', '.join(manifest.variants)})"
        )
    if delegate == "edgetpu" and "edgetpu" not in manifest.variants:
        raise CribsideError(
            "delegate edgetpu needs an Edge TPU build of the models; convert on a machine with "
            "edgetpu_compiler (see docs/conversion.md, 'Edge TPU')"
        )
    if variant == "edgetpu" and delegate in ("cpu", "gpu"):
        raise CribsideError(f"variant edgetpu runs only on the edgetpu delegate, not on {delegate}")


def _candidates(manifest: Manifest, variant: str) -> tuple[str, ...]:
    """Accelerators ``auto`` may try for this manifest and variant request."""
    if variant == "edgetpu":
        return ("edgetpu",)
    usable = {"edgetpu": variant == "auto" and "edgetpu" in manifest.variants, "gpu": True}
    return tuple(name for name in AUTO_LADDER if usable[name])


def _pick_variant(manifest: Manifest, variant: str, choice: DelegateChoice) -> str:
    if variant == "edgetpu" and choice.name != "edgetpu":
        raise CribsideError(f"variant edgetpu needs the Edge TPU delegate, which is not available ({choice.reason})")
    if variant != "auto":
        return variant
    for name in _PREFERENCE[choice.name]:
        if name in manifest.variants:
            return name
    # The CPU cannot run an Edge TPU-only folder; nothing else to choose.
    raise CribsideError(f"no variant in the models folder runs on {choice.name} (it has: {', '.join(manifest.variants)})")


def _check_shapes(manifest: Manifest, spec: Variant) -> None:
    """The tensors must have the shapes the manifest's own figures imply."""
    h, w = manifest.face_shape
    expected = {
        ("encoder", "face"): (spec.encoder.input("face").shape, (1, h, w, 1)),
        ("encoder", "latent"): (spec.encoder.output("latent").shape, (1, manifest.latent_size)),
        ("classifier", "window"): (
            spec.classifier.input("window").shape,
            (1, manifest.window_length, manifest.latent_size),
        ),
        ("classifier", "cry"): (spec.classifier.output("cry").shape, (1, len(manifest.labels.cry))),
        ("classifier", "pain"): (spec.classifier.output("pain").shape, (1, len(manifest.labels.pain))),
    }
    for (model, tensor), (actual, want) in expected.items():
        if tuple(actual) != want:
            raise CribsideError(f"manifest: {model} '{tensor}' has shape {tuple(actual)}, expected {want}")
