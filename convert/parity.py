"""Parity of a converted variant with the Keras models, on the run's held-out test windows.

The converted side runs the device's own path: the TFLite encoder on every test
face (through :class:`BoundModel`, with the same quantization at the boundary as
on the device), then the TFLite classifier on windows of those latents. The Keras
side runs the Keras encoder and classifier on the same faces. So the figures
include the int8 encoder's error, not only the classifier's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cribside.convert.export import LatentScaling
from cribside.convert.run_data import HeldOutWindows
from cribside.edge.inference.manifest import Parity
from cribside.edge.inference.model_io import BoundModel
from cribside.training.data.layout import CRY_LABELS, PAIN_LABELS
from cribside.training.metrics import task_metrics

# Issue 4's gates: a mode fails when its class agreement with Keras is below 98%
# or its cry F1 / pain weighted F1 drops by more than 1 point.
AGREEMENT_GATE = 0.98
F1_DROP_GATE = 0.01
# Issue 4's targets (reported, not gated): float16 and dynamic agree on >= 99%.
AGREEMENT_TARGET = {"float32": 0.99, "float16": 0.99, "dynamic": 0.99, "int8": 0.98}
_KERAS_BATCH = 256


@dataclass(frozen=True)
class Predictions:
    """Latents of the test faces and class probabilities of the test windows."""

    latents: np.ndarray  # (F, latent) float32
    cry: np.ndarray  # (n, 2)
    pain: np.ndarray  # (n, 3)


def keras_predictions(encoder: Any, classifier: Any, test: HeldOutWindows, pixel_scale: float,
                      scaling: LatentScaling | None = None) -> Predictions:
    """The Keras models' latents and probabilities on the test set.

    The classifier runs on the raw latents as trained; the returned latents are in the
    exported encoder's output space (standardised when ``scaling`` is given), so they
    compare with the TFLite encoder's.
    """
    faces = test.faces.astype(np.float32)[..., None] * pixel_scale
    latents = np.concatenate(
        [np.asarray(encoder(faces[i : i + _KERAS_BATCH], training=False)) for i in range(0, len(faces), _KERAS_BATCH)]
    ).reshape(len(faces), -1)
    windows = latents[test.windows]
    names = list(classifier.output_names)
    cry, pain = [], []
    for i in range(0, len(windows), _KERAS_BATCH):
        out = classifier(windows[i : i + _KERAS_BATCH], training=False)
        by_name = out if isinstance(out, dict) else dict(zip(names, out))
        cry.append(np.asarray(by_name["cry"]))
        pain.append(np.asarray(by_name["pain"]))
    exported = scaling.apply(latents) if scaling is not None else latents.astype(np.float32)
    return Predictions(exported, np.concatenate(cry), np.concatenate(pain))


def tflite_predictions(encoder: BoundModel, classifier: BoundModel, test: HeldOutWindows, pixel_scale: float) -> Predictions:
    """The converted models' latents and probabilities, one call per face and per window as on the device."""
    faces = test.faces.astype(np.float32)[:, None, :, :, None] * pixel_scale
    latents = np.stack([encoder.run({"face": face})["latent"].reshape(-1) for face in faces])
    cry, pain = [], []
    for window in latents[test.windows]:
        out = classifier.run({"window": window[None]})
        cry.append(out["cry"][0])
        pain.append(out["pain"][0])
    return Predictions(latents, np.stack(cry), np.stack(pain))


def compare(keras: Predictions, tflite: Predictions, test: HeldOutWindows) -> Parity:
    """Agreement, probability and latent differences, and F1 next to Keras, with the gate verdict."""
    k = _metrics(keras, test)
    t = _metrics(tflite, test)
    cry_agree = float(np.mean(keras.cry.argmax(1) == tflite.cry.argmax(1)))
    pain_agree = float(np.mean(keras.pain.argmax(1) == tflite.pain.argmax(1)))
    problems = []
    for head, agree in (("cry", cry_agree), ("pain", pain_agree)):
        if agree < AGREEMENT_GATE:
            problems.append(f"{head} class agreement {agree:.1%} < {AGREEMENT_GATE:.0%}")
    for name in ("cry_f1", "pain_weighted_f1"):
        drop = k[name] - t[name]
        if drop > F1_DROP_GATE:
            problems.append(f"{name} dropped {drop * 100:.1f} points ({k[name]:.3f} -> {t[name]:.3f})")
    err = tflite.latents - keras.latents
    rms_keras = float(np.sqrt(np.mean(keras.latents**2)))
    return Parity(
        windows=len(test.windows),
        cry_agreement=cry_agree,
        pain_agreement=pain_agree,
        max_abs_prob_diff=float(max(np.abs(keras.cry - tflite.cry).max(), np.abs(keras.pain - tflite.pain).max())),
        cry_f1=t["cry_f1"],
        pain_weighted_f1=t["pain_weighted_f1"],
        keras_cry_f1=k["cry_f1"],
        keras_pain_weighted_f1=k["pain_weighted_f1"],
        latent_max_abs_diff=float(np.abs(err).max()),
        latent_rel_error=float(np.sqrt(np.mean(err**2)) / rms_keras) if rms_keras > 0 else 0.0,
        passed=not problems,
        problems=tuple(problems),
    )


def keras_summary(keras: Predictions, test: HeldOutWindows) -> dict[str, Any]:
    """The Keras models' metrics on the test windows (the manifest's ``keras_metrics``)."""
    m = task_metrics(test.cry, keras.cry.argmax(1), test.pain, keras.pain.argmax(1), CRY_LABELS, PAIN_LABELS)
    return {k: v for k, v in m.items() if k not in ("cry", "pain")}


def _metrics(pred: Predictions, test: HeldOutWindows) -> dict[str, float]:
    m = task_metrics(test.cry, pred.cry.argmax(1), test.pain, pred.pain.argmax(1), CRY_LABELS, PAIN_LABELS)
    return {"cry_f1": float(m["cry_f1"]), "pain_weighted_f1": float(m["pain_weighted_f1"])}
