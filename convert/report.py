"""The parity report as printed by ``cribside convert`` (the same figures are in the manifest)."""

from __future__ import annotations

from cribside.convert.parity import AGREEMENT_TARGET
from cribside.edge.inference.manifest import Manifest

_HEADER = (
    f"{'variant':<8} {'encoder':>9} {'classifier':>10} {'cry agree':>9} {'pain agree':>10} {'max|dp|':>7} "
    f"{'cry F1':>13} {'pain wF1':>13} {'latent err':>10}  verdict"
)


def format_report(manifest: Manifest) -> str:
    """One line per variant: sizes, agreement with Keras, F1 next to the Keras figure, verdict."""
    lines = [
        f"models {manifest.model_version} ({'SYNTHETIC training data' if manifest.synthetic else 'real data'}); "
        f"window {manifest.window_length} frames at {manifest.fps:g} fps",
        _HEADER,
    ]
    for name, v in manifest.variants.items():
        sizes = f"{_size(v.encoder.size_bytes):>9} {_size(v.classifier.size_bytes):>10}"
        p = v.parity
        if p is None:
            lines.append(f"{name:<8} {sizes} {'(parity needs the hardware; not measured)':>66}")
            continue
        target = AGREEMENT_TARGET.get(name, 0.0)
        below = "" if min(p.cry_agreement, p.pain_agreement) >= target else f" (below target {target:.0%})"
        verdict = "ok" + below if p.passed else "FAILED: " + "; ".join(p.problems)
        lines.append(
            f"{name:<8} {sizes} {p.cry_agreement:>9.1%} {p.pain_agreement:>10.1%} {p.max_abs_prob_diff:>7.4f} "
            f"{p.cry_f1:>5.3f} ({p.keras_cry_f1:.3f}) {p.pain_weighted_f1:>5.3f} ({p.keras_pain_weighted_f1:.3f}) "
            f"{p.latent_rel_error:>10.4f}  {verdict}"
        )
    windows = next((v.parity.windows for v in manifest.variants.values() if v.parity), 0)
    lines.append(f"parity on {windows} held-out test windows; F1 in brackets: the Keras models on the same windows")
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit, div in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"
