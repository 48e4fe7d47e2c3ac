"""Build and write ``manifest.json`` (the device reads it with :mod:`cribside.edge.inference.manifest`)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from cribside.edge.inference.manifest import FORMAT_VERSION, MANIFEST_FILE, Labels, Manifest, Variant
from cribside.training.data.layout import CRY_LABELS, PAIN_LABELS

# Faces are uint8 crops; the models take them scaled to [0, 1] (training/fit/latents.py: faces_to_input).
PIXEL_SCALE = 1.0 / 255.0
_VERSIONED = ("cribside", "tensorflow-cpu", "tensorflow", "keras", "numpy", "ai-edge-litert")


def build_manifest(run: Any, variants: dict[str, Variant], keras_metrics: dict[str, Any], *,
                   face_shape: tuple[int, int], latent_size: int, latent_standardized: bool = False) -> Manifest:
    """The manifest of a converted run (``variants`` in the order they were converted)."""
    return Manifest(
        format_version=FORMAT_VERSION,
        model_version=model_version(run),
        created_utc=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        synthetic=run.synthetic,
        versions=package_versions(),
        source={
            "run": str(run.root),
            "data": run.data.get("data"),
            "split": run.split.get("protocol"),
            "seed": run.config.get("seed"),
            "label_rule": run.config.get("label_rule", "last"),
        },
        labels=Labels(cry=tuple(CRY_LABELS), pain=tuple(PAIN_LABELS)),
        window_length=run.seq_len,
        fps=run.fps,
        face_shape=face_shape,
        latent_size=latent_size,
        latent_standardized=latent_standardized,
        pixel_scale=PIXEL_SCALE,
        aligner=run.aligner,
        keras_metrics=keras_metrics,
        variants=variants,
    )


def write_manifest(manifest: Manifest, out_dir: Path) -> Path:
    """Write ``out_dir/manifest.json`` atomically (a half-written manifest must never be read)."""
    path = out_dir / MANIFEST_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    """Write a model file atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def model_version(run: Any) -> str:
    """``<run folder name>-<12 hex of the Keras models' sha256>``: changes whenever the weights do."""
    digest = hashlib.sha256()
    for name in ("encoder.keras", "classifier.keras"):
        path = Path(run.root) / name
        if path.is_file():
            digest.update(path.read_bytes())
    return f"{Path(run.root).name}-{digest.hexdigest()[:12]}"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shaped the models."""
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
