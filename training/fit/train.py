"""Training (``cribside train``): dataset -> aligned faces -> autoencoder -> cached latents -> LSTM -> RUN folder.

The stages, each a function:
1. :func:`~cribside.training.data.preprocess.resolve_dataset`: a raw dataset is aligned first
   (``RUN/aligned``, resumable, through the foundation face aligner); an aligned one is used as is.
2. windows over every video (training/data/windows.py) and the split (training/data/splits.py).
3. the per-frame encoder (:func:`make_encoder`): the fixed ``hog`` features, or for ``paper``
   :func:`train_autoencoder` on the training split's faces, SSIM loss, early stopping on
   validation loss with the best weights restored.
4. every face encoded once (training/fit/latents.py), plus the int8 encoder's view of it (and a
   mirrored one if asked: training/fit/latent_views.py).
5. :func:`train_classifier` on windows of cached latents, with class weights or
   balanced sampling, early stopping, best weights restored.
6. everything written to RUN (layout in training/fit/run.py).

Deterministic for a seed (Keras seeds + TensorFlow op determinism).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.config import TrainConfig
from cribside.training.data.dataset import read_faces
from cribside.training.data.layout import CRY_LABELS, PAIN_LABELS, Dataset
from cribside.training.data.preprocess import resolve_dataset
from cribside.training.data.splits import Split, kfold_split, random_split, subject_split
from cribside.training.data.windows import FrameTable, Windows, build_windows
from cribside.training.fit import run as runfiles
from cribside.training.fit.latent_views import ViewedWindows, latent_views
from cribside.training.fit.latents import encode_faces, faces_to_input, latents_for_table, save_latents
from cribside.training.nets.networks import Classifier, build_autoencoder, build_classifier
from cribside.training.nets.session import start_training_session

log = logging.getLogger(__name__)
VAL_DATA_LOSS = "val_data_loss"  # validation loss without weight penalties: what early stopping watches


def train(data: str | Path, out: str | Path, config: TrainConfig, *, overwrite: bool = False,
          workers: int | None = None, progress: bool = True) -> Path:
    """Train both models on DATA and write the run folder OUT.

    Raises:
        CribsideError: bad dataset, too few subjects for the split, or OUT already holds a run
            (unless ``overwrite``).
    """
    out = Path(out).resolve()
    if (out / runfiles.CLASSIFIER_FILE).exists() and not overwrite:
        raise CribsideError(f"{out} already holds a trained run: choose another --out or pass --overwrite")
    clock = _Stopwatch()
    # The dataset is checked before TensorFlow loads, so a bad path fails in a blink.
    dataset, source_kind = resolve_dataset(Path(data), out, workers=workers, progress=progress)
    clock.lap("preprocess_s")
    out.mkdir(parents=True, exist_ok=True)
    start_training_session(config.seed)
    config = config.replace(fps=float(dataset.fps))
    frames = [f for video in dataset.videos().values() for f in video]
    table = FrameTable.from_frames(frames)
    windows = build_windows(table, config.seq_len, config.label_rule)
    if len(windows) == 0:
        raise CribsideError(f"{dataset.root}: no video has {config.seq_len} consecutive frames with a face")
    split = make_split(config, table, windows)
    window_part = split.window_part(windows)
    _log_split(split, windows)
    faces = read_faces(dataset, [f for f in frames if f.face])
    face_part = split.frame_part(table, windows)[table.face]
    clock.lap("read_faces_s")
    autoencoder, encoder, ae_history = make_encoder(config, faces, face_part, progress=progress)
    clock.lap("autoencoder_s")
    face_latents = encode_faces(encoder, faces, progress=progress)
    latents = latents_for_table(table, face_latents)
    views = latent_views(config, encoder, faces, face_part, table, standardization(face_latents[face_part == 0]),
                         progress=progress)
    clock.lap("encode_s")
    classifier, clf_history = train_classifier(config, latents, windows, window_part, face_latents[face_part == 0],
                                               views=views, progress=progress)
    clock.lap("classifier_s")
    history = {
        "autoencoder": ae_history, "classifier": clf_history, "timings_s": clock.laps | {"total_s": clock.total()},
        "counts": split_counts(windows, window_part),
        "faces": {name: int((face_part == p).sum()) for p, name in enumerate(("train", "val", "test"))},
    }
    save_run(out, config, dataset, Path(data), source_kind, split, autoencoder, encoder, classifier,
             table, latents, history)
    log.info("run written to %s in %.0f s", out, clock.total())
    return out


class _Stopwatch:
    """Wall time per stage, for history.json (the training-time figures in benchmarks/RESULTS.md come from here)."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now

    def total(self) -> float:
        return round(time.perf_counter() - self.start, 3)


def make_split(config: TrainConfig, table: FrameTable, windows: Windows) -> Split:
    """The split the config asks for, over the subjects (or windows) present."""
    subjects = sorted(set(table.subject.tolist()))
    if config.split == "subject":
        return subject_split(subjects, config.test_fraction, config.val_fraction, config.seed,
                             classes=labels_by_subject(windows))
    if config.split == "kfold":
        return kfold_split(subjects, config.folds, config.fold, config.val_fraction, config.seed)
    return random_split(windows.ids.tolist(), config.test_fraction, config.val_fraction, config.seed)


def labels_by_subject(windows: Windows) -> dict[str, set[tuple[str, int]]]:
    """Subject -> the (task, class) labels its windows show, for a split that shows every class."""
    out: dict[str, set[tuple[str, int]]] = {}
    for subject, cry, pain in zip(windows.subject.tolist(), windows.cry.tolist(), windows.pain.tolist()):
        out.setdefault(subject, set()).update({("cry", cry), ("pain", pain)})
    return out


def make_encoder(config: TrainConfig, faces: np.ndarray, part: np.ndarray, *,
                 progress: bool = True) -> tuple[Any, Any, dict[str, list[float]]]:
    """The per-frame feature encoder of ``config.features``: ``(autoencoder or None, encoder, history)``.

    ``paper`` trains the autoencoder (:func:`train_autoencoder`); ``hog`` is fixed and needs no training.
    """
    if config.features == "paper":
        return train_autoencoder(config, faces, part, progress=progress)
    from cribside.training.nets.gradients import build_hog_encoder

    return None, build_hog_encoder(), {}


def train_autoencoder(config: TrainConfig, faces: np.ndarray, part: np.ndarray, *,
                      progress: bool = True) -> tuple[Any, Any, dict[str, list[float]]]:
    """Fit the autoencoder on faces of part 0, early-stopping on part 1.

    Returns:
        ``(autoencoder, encoder, history)`` with the best validation weights restored.
    """
    autoencoder, encoder = build_autoencoder(config)
    x_train, x_val = faces_to_input(faces[part == 0]), faces_to_input(faces[part == 1])
    if len(x_train) == 0 or len(x_val) == 0:
        raise CribsideError("the split left no training or no validation faces for the autoencoder")
    fit = autoencoder.fit(
        x_train, x_train, validation_data=(x_val, x_val), epochs=config.ae_epochs,
        batch_size=config.ae_batch_size, shuffle=True, callbacks=_callbacks(config.ae_patience),
        verbose=_verbosity(progress),
    )
    return autoencoder, encoder, _history(fit)


def train_classifier(config: TrainConfig, latents: np.ndarray, windows: Windows, part: np.ndarray,
                     train_latents: np.ndarray, *, views: tuple[np.ndarray, ...] = (),
                     progress: bool = True) -> tuple[Classifier, dict[str, Any]]:
    """Fit the LSTM classifier on windows of part 0, early-stopping on part 1.

    Args:
        latents: (N, latent) per table frame. windows/part: all windows and their part.
        train_latents: the training faces' latents, for the input standardisation statistics.
        views: other latents of the same frames, like ``latents`` (mirrored faces, the int8
            encoder's: training/fit/latent_views.py); every epoch each training window takes its
            latents from one of ``latents`` and the views, at random. Validation uses ``latents`` only.
    """
    train_idx, val_idx = np.flatnonzero(part == 0), np.flatnonzero(part == 1)
    if train_idx.size == 0 or val_idx.size == 0:
        raise CribsideError("the split left no training or no validation windows for the classifier")
    if config.balance == "sample":
        train_idx = balanced_indices(windows.pain, train_idx, config.seed)
    mean, std = standardization(train_latents)
    classifier = build_classifier(
        config, latents.shape[1], mean, std**2,
        raw_noise_std=raw_noise_std(config, train_latents),
    )
    weights = {"cry": class_weights(windows.cry[train_idx], len(CRY_LABELS)),
               "pain": class_weights(windows.pain[train_idx], len(PAIN_LABELS))}
    if config.balance != "class_weight":
        weights = {head: np.ones_like(w) for head, w in weights.items()}
    # Validation windows weigh like training ones, so early stopping watches the loss being optimised.
    train_set = _window_arrays(latents, windows, train_idx, weights)
    if views:
        train_set = ViewedWindows(train_set, [v[windows.rows[train_idx]] for v in views], config.lstm_batch_size,
                                   config.seed)
    val_set = _window_arrays(latents, windows, val_idx, weights)
    if config.heads == "shared":
        return classifier, {"shared": _fit_classifier(config, classifier.combined, ("cry", "pain"),
                                                      train_set, val_set, progress)}
    history = {head: _fit_classifier(config, model, (head,), train_set, val_set, progress)
               for head, model in (("cry", classifier.cry_model), ("pain", classifier.pain_model))}
    return classifier, history


def standardization(train_latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (mean, std) of the training latents: the classifier's input standardisation."""
    return train_latents.mean(axis=0), np.sqrt(train_latents.var(axis=0) + 1e-6)


def raw_noise_std(config: TrainConfig, train_latents: np.ndarray) -> float:
    """Absolute std of the raw-latent training noise: ``raw_latent_noise_steps`` int8 steps of the
    training latents' overall range (the int8 encoder output shares one scale across all 640 values)."""
    if config.raw_latent_noise_steps <= 0 or train_latents.size == 0:
        return 0.0
    step = float(train_latents.max() - train_latents.min()) / 255.0
    return config.raw_latent_noise_steps * step


def _fit_classifier(config: TrainConfig, model: Any, heads: tuple[str, ...], train_set: tuple | ViewedWindows,
                    val_set: tuple, progress: bool) -> dict[str, list[float]]:
    (xv, yv, wv) = val_set
    pick = lambda d: {h: d[h] for h in heads}  # noqa: E731 - the model has only these outputs
    if isinstance(train_set, ViewedWindows):
        inputs = dict(x=train_set.for_heads(heads), shuffle=False)  # the pipeline shuffles itself, per epoch
    else:
        x, y, w = train_set
        inputs = dict(x=x, y=pick(y), sample_weight=pick(w), batch_size=config.lstm_batch_size, shuffle=True)
    fit = model.fit(
        **inputs, validation_data=(xv, pick(yv), pick(wv)), epochs=config.lstm_epochs,
        callbacks=_callbacks(config.lstm_patience),
        verbose=_verbosity(progress),
    )
    return _history(fit)


def _window_arrays(latents: np.ndarray, windows: Windows, idx: np.ndarray,
                   weights: dict[str, np.ndarray]) -> tuple:
    """(x, labels, sample weights) for the windows ``idx``, given a weight per class and head."""
    labels = {"cry": windows.cry[idx], "pain": windows.pain[idx]}
    return latents[windows.rows[idx]], labels, {head: weights[head][y] for head, y in labels.items()}


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Weight per class, n / (k * count): every present class then carries the same total weight."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes, dtype=np.float32)
    weights[present] = labels.size / (present.sum() * counts[present])
    return weights


def balanced_indices(pain: np.ndarray, idx: np.ndarray, seed: int) -> np.ndarray:
    """Oversample ``idx`` so every present pain class has as many windows as the largest."""
    rng = np.random.default_rng(seed)
    groups = [idx[pain[idx] == c] for c in range(len(PAIN_LABELS))]
    target = max(g.size for g in groups)
    parts = [g if g.size == target else np.concatenate([g, rng.choice(g, target - g.size)]) for g in groups if g.size]
    return rng.permutation(np.concatenate(parts))


def split_counts(windows: Windows, part: np.ndarray) -> dict[str, Any]:
    """Windows per part and class, for the history and the report."""
    out: dict[str, Any] = {}
    for p, name in enumerate(("train", "val", "test")):
        sel = part == p
        out[name] = {
            "windows": int(sel.sum()),
            "cry": {label: int((windows.cry[sel] == i).sum()) for i, label in enumerate(CRY_LABELS)},
            "pain": {label: int((windows.pain[sel] == i).sum()) for i, label in enumerate(PAIN_LABELS)},
        }
    return out


def save_run(out: Path, config: TrainConfig, dataset: Dataset, source: Path, source_kind: str, split: Split,
             autoencoder: Any | None, encoder: Any, classifier: Classifier, table: FrameTable, latents: np.ndarray,
             history: dict[str, Any]) -> None:
    """Write every file of the run layout (training/fit/run.py). Models first, config.json last."""
    if autoencoder is not None:  # the fixed "hog" encoder has none
        autoencoder.save(out / runfiles.AUTOENCODER_FILE)
    encoder.save(out / runfiles.ENCODER_FILE)
    classifier.combined.save(out / runfiles.CLASSIFIER_FILE)
    if config.heads == "separate":
        classifier.cry_model.save(out / runfiles.HEAD_FILES["cry"])
        classifier.pain_model.save(out / runfiles.HEAD_FILES["pain"])
    save_latents(out / runfiles.LATENTS_FILE, table, latents)
    runfiles.write_json(out / runfiles.HISTORY_FILE, history)
    runfiles.write_json(out / runfiles.SPLIT_FILE, split.to_dict())
    recorded = _read_meta(dataset.root).get("aligner_fingerprint")
    runfiles.write_json(out / runfiles.ALIGNER_FILE, runfiles.aligner_record(dataset.aligner, recorded))
    runfiles.write_json(out / runfiles.DATA_FILE, {
        "data": str(dataset.root.resolve()), "source": str(source.resolve()), "synthetic": dataset.synthetic,
        "fps": float(dataset.fps), "source_kind": source_kind,
    })
    runfiles.write_json(out / runfiles.CONFIG_FILE, config.to_dict())


def _read_meta(root: Path) -> dict[str, Any]:
    path = root / "dataset.json"
    return runfiles.read_json(path) if path.is_file() else {}


def _log_split(split: Split, windows: Windows) -> None:
    counts = split_counts(windows, split.window_part(windows))
    log.info(
        "split %s (seed %d): windows train %d, val %d, test %d; test subjects: %s", split.protocol, split.seed,
        counts["train"]["windows"], counts["val"]["windows"], counts["test"]["windows"],
        "(random windows)" if split.protocol == "random" else ", ".join(split.test),
    )


def _callbacks(patience: int) -> list[Any]:
    """Early stopping on the validation data loss with the best weights restored; the learning rate
    halves when it stalls for half the patience (the paper's 0.01 is a start).

    The data loss is Keras' ``val_loss`` without the weight penalties (the LSTM's L2 term): that
    term only shrinks as training goes on, so watching the total would keep training while the
    validation predictions get worse.
    """
    import keras

    class DataLoss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if logs is not None and "val_loss" in logs:
                penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in self.model.losses)
                logs[VAL_DATA_LOSS] = float(logs["val_loss"]) - penalty

    return [
        DataLoss(),  # first: the callbacks below read what it adds to the epoch's logs
        keras.callbacks.EarlyStopping(VAL_DATA_LOSS, mode="min", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(VAL_DATA_LOSS, mode="min", factor=0.5, patience=max(1, patience // 2), min_lr=1e-5),
    ]


def _history(fit: Any) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in fit.history.items()}


def _verbosity(progress: bool) -> int:
    """Keras progress: a live bar on a terminal, one line per epoch in logs, nothing when quiet."""
    if not progress:
        return 0
    return 1 if sys.stdout.isatty() else 2
