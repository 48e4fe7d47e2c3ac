"""``cribside bench train``: time training epochs on an IFPaLD-sized SYNTHETIC set.

Generates (or reuses, with ``--data``) about 15,000 aligned synthetic crops (28
infants x 3 minutes at 3 fps = 15,120 frames, IFPaLD has 15,105), then times
one epoch of the autoencoder, the encoding of every frame, and one epoch of the
classifier at the paper's size (1,024 units, windows of 4), on this machine.
Prints a table and, with ``--json``, writes the figures. The full ``cribside
train`` wall time (early stopping decides the epoch count) is in a run's
``history.json`` under ``timings_s``.
TensorFlow is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

IFPALD_SUBJECTS = 28
IFPALD_MINUTES = 3.0  # 28 x 3 min x 60 s x 3 fps = 15,120 frames


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("--data", type=Path, help="an aligned dataset to time on (default: generate a synthetic one)")
    parser.add_argument("--subjects", type=int, default=IFPALD_SUBJECTS, help="synthetic infants to generate")
    parser.add_argument("--minutes", type=float, default=IFPALD_MINUTES, help="minutes per synthetic infant")
    parser.add_argument("--units", type=int, default=1024, help="LSTM units (paper: 1024)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")


def run(args: argparse.Namespace) -> int:
    """Generate or load the data, time one epoch of each model, print the table."""
    from cribside.training.nets.session import prepare_tensorflow

    prepare_tensorflow()
    with tempfile.TemporaryDirectory(prefix="cribside-bench-") as tmp:
        data = args.data
        if data is None:
            from cribside.training.synth.dataset import generate

            print(f"generating SYNTHETIC data: {args.subjects} infants x {args.minutes} min ...", flush=True)
            data = generate(Path(tmp), args.subjects, args.minutes, seed=args.seed, raw=False, aligned=True).aligned
        result = time_epochs(Path(data), units=args.units, seed=args.seed)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def time_epochs(data: Path, *, units: int, seed: int) -> dict[str, Any]:
    """One autoencoder epoch, one encoding pass and one classifier epoch on every frame/window of ``data``."""
    from cribside.training.config import TrainConfig
    from cribside.training.data.dataset import load_dataset, read_faces
    from cribside.training.data.windows import FrameTable, build_windows
    from cribside.training.fit.latents import encode_faces, faces_to_input, latents_for_table
    from cribside.training.nets.networks import build_autoencoder, build_classifier
    from cribside.training.nets.session import start_training_session

    config = TrainConfig(units=units, seed=seed)
    start_training_session(seed)
    dataset = load_dataset(data)
    frames = [f for video in dataset.videos().values() for f in video]
    table = FrameTable.from_frames(frames)
    faces = read_faces(dataset, [f for f in frames if f.face])
    autoencoder, encoder = build_autoencoder(config)
    x = faces_to_input(faces)
    ae_s = _timed(lambda: autoencoder.fit(x, x, epochs=1, batch_size=config.ae_batch_size, verbose=0))
    encode_s = _timed(lambda: encode_faces(encoder, faces, progress=False))
    latents = latents_for_table(table, encode_faces(encoder, faces, progress=False))
    windows = build_windows(table, config.seq_len)
    clf = build_classifier(config, latents.shape[1], latents.mean(0), latents.var(0) + 1e-6).combined
    xw = latents[windows.rows]
    y = {"cry": windows.cry, "pain": windows.pain}
    clf_s = _timed(lambda: clf.fit(xw, y, epochs=1, batch_size=config.lstm_batch_size, verbose=0))
    return {
        "frames": int(len(faces)), "windows": int(len(windows)), "units": units,
        "autoencoder_epoch_s": ae_s, "encode_all_s": encode_s, "classifier_epoch_s": clf_s,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "note": "first epochs include graph tracing; timings on a shared machine are noisy",
    }


def format_table(result: dict[str, Any]) -> str:
    """The figures as a small Markdown table."""
    return "\n".join([
        f"{result['frames']} frames, {result['windows']} windows, LSTM {result['units']} units; {result['machine']}",
        "",
        "| stage | seconds |",
        "|---|---|",
        f"| autoencoder, one epoch | {result['autoencoder_epoch_s']:.1f} |",
        f"| encode every frame once | {result['encode_all_s']:.1f} |",
        f"| classifier, one epoch | {result['classifier_epoch_s']:.1f} |",
    ])


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return round(time.perf_counter() - started, 2)
