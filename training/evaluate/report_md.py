"""Render an evaluation report (the dict of report.json) as Markdown (report.md)."""

from __future__ import annotations

from typing import Any


def render(report: dict[str, Any]) -> str:
    """The report as Markdown: headline figures, baseline, confusion matrices, autoencoder loss."""
    m = report["metrics"]
    base = report["baseline_majority"]
    split = report["split"]
    lines = [
        "# cribside evaluation report",
        "",
    ]
    if report.get("synthetic"):
        lines += [
            "**SYNTHETIC DATA.** These figures come from faces drawn by `cribside synth`; they say the pipeline",
            "works, not how it does on real infants. They cannot be compared with the paper's IFPaLD figures.",
            "",
        ]
    lines += [
        f"- split protocol: **{split['protocol']}** (seed {split.get('seed')}); test: {split['test']}",
        f"- data: `{report['data']}`",
        f"- windows evaluated: {m['n_windows']}; config: " + ", ".join(f"{k}={v}" for k, v in report["config"].items()),
        "",
        "| metric | model | majority-class baseline | paper (IFPaLD, random split) |",
        "|---|---|---|---|",
        f"| cry accuracy | {m['cry_accuracy']:.3f} | {base['cry_accuracy']:.3f} | 0.94 |",
        f"| cry F1 (crying) | {m['cry_f1']:.3f} | {base['cry_f1']:.3f} | {report['paper_reference']['cry_f1']} |",
        f"| pain accuracy | {m['pain_accuracy']:.3f} | {base['pain_accuracy']:.3f} | 0.94-0.95 |",
        f"| pain mean F1 | {m['pain_mean_f1']:.3f} | | 0.876 |",
        f"| pain weighted F1 | {m['pain_weighted_f1']:.3f} | {base['pain_weighted_f1']:.3f} | "
        f"{report['paper_reference']['pain_weighted_f1']} |",
    ]
    for label, f1 in m["pain_f1"].items():
        lines.append(f"| pain F1 {label} | {f1:.3f} | | |")
    lines += [
        f"| severe pain precision | {m['severe_precision']:.3f} | | |",
        f"| severe pain recall | {m['severe_recall']:.3f} | | |",
        "",
        *_hog(report),
        "## Cry confusion (paper Table IV layout: rows truth, columns prediction)",
        "",
        *_confusion(m["cry"]),
        "",
        "## Pain confusion (paper Table V layout: rows truth, columns prediction)",
        "",
        *_confusion(m["pain"]),
        "",
    ]
    ae = report.get("autoencoder")
    if ae:
        lines += [
            "## Autoencoder",
            "",
            f"SSIM loss (1 - SSIM) on {ae['faces']} held-out faces: **{ae['ssim_loss']:.3f}** (local 11x11 Gaussian "
            f"SSIM), {ae['ssim_loss_global']:.3f} (global SSIM, eq. 3 over the whole image); trained on "
            f"{ae['ssim_loss_trained_on']}. The paper's best: {report['paper_reference']['ssim_loss']}.",
            "",
        ]
    for fig in report.get("figures", []):
        lines.append(f"![{fig}]({fig})")
    return "\n".join(lines) + "\n"


def _hog(report: dict[str, Any]) -> list[str]:
    hog = report.get("baseline_hog")
    if not hog:
        return []
    m, beats = report["metrics"], report["beats_hog_baseline"]
    auc = "n/a" if hog["cry_roc_auc"] is None else f"{hog['cry_roc_auc']:.3f}"
    return [
        "## Simple-feature baseline (HOG + logistic regression, same split, crops and windows)",
        "",
        f"Fitted on {hog['n_train_windows']} training windows, scored on the {hog['n_windows']} test windows above.",
        "",
        "| metric | model | HOG baseline | model beats it |",
        "|---|---|---|---|",
        f"| cry F1 (crying) | {m['cry_f1']:.3f} | {hog['cry_f1']:.3f} | {'yes' if beats['cry_f1'] else 'no'} |",
        f"| cry ROC AUC | | {auc} | |",
        f"| pain weighted F1 | {m['pain_weighted_f1']:.3f} | {hog['pain_weighted_f1']:.3f} | "
        f"{'yes' if beats['pain_weighted_f1'] else 'no'} |",
        "",
    ]


def _confusion(summary: dict[str, Any]) -> list[str]:
    labels = summary["labels"]
    rows = ["| truth \\ predicted | " + " | ".join(labels) + " | recall |", "|---" * (len(labels) + 2) + "|"]
    for label, counts in zip(labels, summary["confusion"]):
        recall = summary["per_class"][label]["recall"]
        rows.append(f"| {label} | " + " | ".join(str(c) for c in counts) + f" | {recall:.3f} |")
    precision = " | ".join(f"{summary['per_class'][label]['precision']:.3f}" for label in labels)
    rows.append(f"| precision | {precision} | |")
    return rows
