"""Re-run the paper's LSTM grids, Tables II and III (``cribside sweep DATA --out DIR``).

The autoencoder is trained once (a full ``cribside train`` into ``DIR/base``);
every grid point then trains only the classifier on the same cached latents and
the same subjects split, and is scored on the same held-out windows. The table
has the paper's columns (sequence length, hidden units, dropout, cry accuracy,
pain accuracy, cry F1, pain weighted F1) plus pain mean F1, moderate-pain F1 and
the classifier's training time, and names the split protocol.

Grids: ``--preset table2`` (the paper's five (seq, units) rows, dropout 0.5),
``--preset table3`` (seq 4, 1,024 units, dropout 0.6/0.5/0.4/0.25/0.0), or
``--grid seq_len=3,4,5 --grid units=512,1024`` (every combination).
TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cribside.edge.errors import CribsideError

PRESETS: dict[str, list[dict[str, Any]]] = {
    "table2": [dict(seq_len=s, units=u, dropout=0.5) for s, u in ((3, 512), (4, 512), (4, 1024), (4, 2048), (5, 1024))],
    "table3": [dict(seq_len=4, units=1024, dropout=d) for d in (0.6, 0.5, 0.4, 0.25, 0.0)],
}
GRID_KEYS = {"seq_len": int, "units": int, "dropout": float, "pain_dropout": float, "l2": float,
             "lstm_learning_rate": float, "heads": str, "balance": str}
COLUMNS = ("seq_len", "units", "dropout", "cry_accuracy", "pain_accuracy", "cry_f1", "pain_weighted_f1",
           "pain_mean_f1", "moderate_f1", "epochs", "train_s")


def grid_points(preset: str | None, axes: list[str]) -> list[dict[str, Any]]:
    """The grid as a list of TrainConfig overrides.

    Raises:
        CribsideError: an unknown key, a bad value, or no grid at all.
    """
    points = list(PRESETS[preset]) if preset else []
    if axes:
        parsed = []
        for axis in axes:
            key, sep, values = axis.partition("=")
            if not sep or key not in GRID_KEYS or not values:
                raise CribsideError(f"--grid {axis!r}: expected KEY=V1,V2 with KEY one of {', '.join(GRID_KEYS)}")
            try:
                parsed.append([(key, GRID_KEYS[key](v)) for v in values.split(",")])
            except ValueError:
                raise CribsideError(f"--grid {axis!r}: bad value for {key}") from None
        points += [dict(combo) for combo in itertools.product(*parsed)]
    if not points:
        raise CribsideError("no grid: give --preset table2|table3 or --grid KEY=V1,V2")
    return points


def run_sweep(data: str | Path, out: str | Path, points: list[dict[str, Any]], *, sets: Sequence[str] = (),
              split: str = "subject", seed: int = 0, progress: bool = True) -> Path:
    """Train the base run once (``OUT/base``, kept when it exists), then one classifier per grid point;
    write the table. The base config is the defaults with ``sets`` (``KEY=VALUE``, JSON values), ``split``
    and ``seed``; each point overrides it.

    Returns:
        The path of ``sweep.md``.
    """
    from cribside.training.config import TrainConfig, resolve_config
    from cribside.training.fit.run import load_run
    from cribside.training.fit.train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base_config = resolve_config(sets=sets).replace(split=split, seed=seed)
    base_dir = out / "base"
    if not (base_dir / "config.json").is_file():
        train(data, base_dir, base_config, progress=progress)
    rows = [sweep_point(base_dir, TrainConfig.from_dict({**base_config.to_dict(), **point}), progress=progress)
            for point in points]
    write_table(out, rows, protocol=split, synthetic=load_run(base_dir).synthetic)
    return out / "sweep.md"


def sweep_point(base_dir: Path, config: Any, *, progress: bool) -> dict[str, Any]:
    """Train and score one classifier on the base run's latents and split."""
    import numpy as np

    from cribside.training.data.splits import Split, random_split
    from cribside.training.data.windows import build_windows
    from cribside.training.fit.run import load_run
    from cribside.training.fit.train import train_classifier
    from cribside.training.metrics import window_metrics
    from cribside.training.nets.networks import predict_windows
    from cribside.training.nets.session import start_training_session

    base = load_run(base_dir)
    table, latents = base.frames()
    windows = build_windows(table, config.seq_len, config.label_rule)
    split = Split.from_dict(base.split)
    if split.protocol == "random":  # window ids depend on the sequence length
        split = random_split(windows.ids.tolist(), config.test_fraction, config.val_fraction, config.seed)
    part = split.window_part(windows)
    frame_part = split.frame_part(table, windows)
    start_training_session(config.seed)
    views = _views(base, config, table, latents, frame_part, progress)
    started = time.perf_counter()
    classifier, history = train_classifier(config, latents, windows, part, latents[(frame_part == 0) & table.face],
                                           views=views, progress=progress)
    seconds = time.perf_counter() - started
    test = windows.select(part == 2)
    cry_p, pain_p = predict_windows(classifier.combined, latents[test.rows])
    m = window_metrics(test.cry, test.pain, cry_p.argmax(1), pain_p.argmax(1))
    epochs = max(len(h.get("loss", [])) for h in history.values())
    return {
        "seq_len": config.seq_len, "units": config.units, "dropout": config.dropout,
        "cry_accuracy": m["cry_accuracy"], "pain_accuracy": m["pain_accuracy"], "cry_f1": m["cry_f1"],
        "pain_weighted_f1": m["pain_weighted_f1"], "pain_mean_f1": m["pain_mean_f1"],
        "moderate_f1": m["pain_f1"]["moderate"], "epochs": epochs, "train_s": round(seconds, 1),
        "test_windows": int(np.asarray(len(test))), "config": {k: v for k, v in config.to_dict().items() if k != "notes"},
    }


def write_table(out: Path, rows: list[dict[str, Any]], *, protocol: str, synthetic: bool) -> None:
    """sweep.csv, sweep.json and sweep.md (the paper's columns plus time)."""
    with open(out / "sweep.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    summary = {"protocol": protocol, "synthetic": synthetic, "rows": rows}
    (out / "sweep.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    head = ("| seq length | hidden units | dropout | cry acc | pain acc | cry F1 | pain weighted F1 "
            "| pain mean F1 | moderate F1 | epochs | train time (s) |")
    tag = "**SYNTHETIC data** (not comparable with the paper's IFPaLD figures). " if synthetic else ""
    lines = [f"{tag}Split protocol: **{protocol}**; test windows: {rows[0]['test_windows']}.", "", head,
             "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['seq_len']} | {r['units']} | {r['dropout']} | {r['cry_accuracy']:.3f} | {r['pain_accuracy']:.3f} "
            f"| {r['cry_f1']:.3f} | {r['pain_weighted_f1']:.3f} | {r['pain_mean_f1']:.3f} | {r['moderate_f1']:.3f} "
            f"| {r['epochs']} | {r['train_s']:.0f} |"
        )
    (out / "sweep.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _views(base: Any, config: Any, table: Any, latents: Any, frame_part: Any, progress: bool) -> tuple:
    """Mirrored / int8 latents for the grid point (training/fit/latent_views.py), from the base
    run's encoder and the faces of its dataset; none when the config asks for neither."""
    if not (config.mirror or config.int8_aware):
        return ()
    import numpy as np

    from cribside.training.fit.latent_views import latent_views
    from cribside.training.fit.train import standardization

    face_part = frame_part[table.face]
    faces = base.faces_of(np.flatnonzero(table.face))
    return latent_views(config, base.encoder(), faces, face_part, table,
                        standardization(latents[table.face][face_part == 0]), progress=progress)
