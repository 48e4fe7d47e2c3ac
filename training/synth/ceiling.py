"""How well pain could be read from the synthetic generator's own hidden cues: the ceiling of any model.

The generator draws each frame's pain cues (brow, furrow, eye squeeze, mouth stretch, ...) from
the scheduled label, with episode offsets, per-infant expressiveness and the face lagging the
label. A linear discriminant on those hidden values (each window: its 4-frame mean and last frame),
trained on some synthetic infants and scored on others, is what a model that read the face
perfectly could reach: no figure on synthetic faces can honestly be expected above it.

``python -m cribside.training.synth.ceiling`` prints the cue-ceiling figures the README and benchmarks/RESULTS.md quote.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from cribside.training.data.layout import PAIN_LABELS
from cribside.training.metrics import task_metrics
from cribside.training.synth.face import random_identity
from cribside.training.synth.schedule import build_schedule, random_episodes

FPS = 3.0


def cue_windows(seed: int, frames: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic infant's windows as its hidden cues (4-frame mean and last frame) and pain labels."""
    rng = np.random.default_rng(seed)
    identity = random_identity(rng)
    cry, pain = random_episodes(rng, frames, FPS)
    s = build_schedule(rng, cry, pain, FPS, identity.expressiveness)
    cues = np.stack([s.brow, s.furrow, s.squeeze, s.stretch, s.mouth_open, s.raise_, s.round_], axis=1)
    x = np.stack([np.concatenate([cues[t - 3 : t + 1].mean(0), cues[t]]) for t in range(3, frames)])
    return x, pain[3:]


def cue_ceiling(infants: int = 30, held_out: int = 6, frames: int = 360) -> dict[str, Any]:
    """Pain metrics of a linear discriminant on the hidden cues, trained on ``infants - held_out``
    synthetic infants (seeds held_out..infants-1) and scored on the first ``held_out``."""
    data = [cue_windows(seed, frames) for seed in range(infants)]
    x_train, y_train = (np.concatenate(a) for a in zip(*data[held_out:]))
    x_test, y_test = (np.concatenate(a) for a in zip(*data[:held_out]))
    classes = len(PAIN_LABELS)
    means = np.stack([x_train[y_train == k].mean(0) for k in range(classes)])
    cov = sum(np.cov(x_train[y_train == k].T) * (y_train == k).sum() for k in range(classes)) / len(y_train)
    inv = np.linalg.inv(cov + 1e-6 * np.eye(cov.shape[0]))
    prior = np.log(np.bincount(y_train, minlength=classes) / len(y_train))
    pred = (x_test @ inv @ means.T - 0.5 * np.sum(means @ inv * means, axis=1) + prior).argmax(1)
    zeros = np.zeros_like(y_test)
    m = task_metrics(zeros, zeros, y_test, pred, ["no", "yes"], list(PAIN_LABELS))
    return {"infants": infants, "held_out": held_out, "windows": int(len(y_test)),
            "pain_weighted_f1": m["pain_weighted_f1"], "pain_f1": m["pain_f1"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--infants", type=int, default=30, help="synthetic infants in all (default 30)")
    parser.add_argument("--held-out", type=int, default=6, help="infants scored, never trained on (default 6)")
    args = parser.parse_args(argv)
    r = cue_ceiling(args.infants, args.held_out)
    per_class = " / ".join(f"{label} {f1:.3f}" for label, f1 in r["pain_f1"].items())
    print(f"SYNTHETIC cue ceiling, {r['held_out']} held-out infants ({r['windows']} windows): "
          f"pain weighted F1 {r['pain_weighted_f1']:.3f} ({per_class})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
