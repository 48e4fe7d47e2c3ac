"""PNG figures for ``cribside eval``: training curves, confusion matrices, reconstructions (paper Fig. 7).

matplotlib is imported inside each function, with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(history: dict[str, Any], path: Path) -> Path:
    """Loss per epoch (train and validation) of the autoencoder and of each classifier fit."""
    plt = _pyplot()
    fits = {"autoencoder (1 - SSIM)": history["autoencoder"]} if history.get("autoencoder") else {}
    fits.update({f"classifier ({name})": h for name, h in history.get("classifier", {}).items()})
    fig, axes = plt.subplots(1, len(fits), figsize=(5 * len(fits), 3.6), squeeze=False)
    for ax, (title, h) in zip(axes[0], fits.items()):
        for key in ("loss", "val_loss"):
            if key in h:
                ax.plot(np.arange(1, len(h[key]) + 1), h[key], label=key.replace("val_", "validation "))
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion_matrices(tasks: Sequence[tuple[str, list[list[int]], Sequence[str]]], path: Path) -> Path:
    """One panel per task: counts, colour by row share (rows truth, columns prediction, as Tables IV-V)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 4.0), squeeze=False)
    for ax, (title, cm, labels) in zip(axes[0], tasks):
        counts = np.asarray(cm, dtype=np.float64)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(counts.shape[0]):
            for j in range(counts.shape[1]):
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center",
                        color="white" if share[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("truth")
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reconstructions(faces: np.ndarray, reconstructed: np.ndarray, losses: np.ndarray, path: Path,
                    title: str) -> Path:
    """Inputs (top row) over their reconstructions (bottom row), each with its SSIM loss."""
    plt = _pyplot()
    n = len(faces)
    fig, axes = plt.subplots(2, n, figsize=(1.4 * n, 3.3), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(faces[i], cmap="gray", vmin=0, vmax=255)
        axes[1, i].imshow(reconstructed[i], cmap="gray", vmin=0, vmax=255)
        axes[1, i].set_title(f"{losses[i]:.3f}", fontsize=8)
        for row in (0, 1):
            axes[row, i].axis("off")
    axes[0, 0].set_title("input", fontsize=8, loc="left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
