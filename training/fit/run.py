"""A training run folder (RUN): its layout, and reading it back.

Layout (written by ``cribside train``, read by ``eval``, ``convert`` and the device evaluation)::

    RUN/
      config.json        resolved TrainConfig (hyperparameters, seed, split protocol, balance, heads, fps)
      data.json          {"data": aligned dataset used (abs), "source": path given (abs), "synthetic": bool,
                          "fps": float, "source_kind": "raw"|"aligned"}
      aligner.json       the aligner settings that made the crops + "fingerprint"; null for crops drawn
                         directly by ``cribside synth`` (the device refuses such models)
      split.json         {"protocol", "seed", "train", "val", "test"} subjects (window ids for "random")
      autoencoder.keras  (64,64,1) float32 [0,1] -> reconstruction (features "paper" only)
      encoder.keras      (64,64,1) float32 [0,1] -> (F,) float32 per-frame features: 2,788 for "hog",
                         640 (the flattened 8x8x10 latent) for "paper"
      classifier.keras   (seq_len, F) float32 -> {"cry": (2,) softmax, "pain": (3,) softmax}
      classifier_cry.keras, classifier_pain.keras   only when the heads were trained as separate LSTMs
      latents.npz        per-frame latents and labels (see training/fit/latents.py)
      history.json       training histories of both models, timings and class counts
      aligned/           the preprocessed dataset, when training started from raw frames
      report.json, report.md, figures/*.png   written by ``cribside eval``

Keras is imported inside the methods that load models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cribside.edge.errors import CribsideError
from cribside.training.data.splits import Split
from cribside.training.data.windows import FrameTable, Windows, build_windows
from cribside.training.fit.latents import LATENTS_FILE, load_latents

CONFIG_FILE = "config.json"
DATA_FILE = "data.json"
ALIGNER_FILE = "aligner.json"
SPLIT_FILE = "split.json"
HISTORY_FILE = "history.json"
AUTOENCODER_FILE = "autoencoder.keras"
ENCODER_FILE = "encoder.keras"
CLASSIFIER_FILE = "classifier.keras"
HEAD_FILES = {"cry": "classifier_cry.keras", "pain": "classifier_pain.keras"}
REQUIRED = (CONFIG_FILE, DATA_FILE, ALIGNER_FILE, SPLIT_FILE, ENCODER_FILE, CLASSIFIER_FILE, LATENTS_FILE)
TEST = 2  # index of the test part in Split.window_part / frame_part
TRAIN = 0


@dataclass
class Run:
    """A finished training run, read from its folder. Models load lazily, once."""

    root: Path
    config: dict[str, Any]
    data: dict[str, Any]
    aligner: dict[str, Any] | None
    split: dict[str, Any]

    def encoder(self) -> Any:
        """The Keras encoder: (batch, 64, 64, 1) float32 in [0, 1] -> (batch, 640) float32."""
        return self._model(ENCODER_FILE)

    @property
    def features(self) -> str:
        """The per-frame feature option the run was trained with (runs before the option: "paper")."""
        return str(self.config.get("features", "paper"))

    def autoencoder(self) -> Any | None:
        """The Keras autoencoder: (batch, 64, 64, 1) -> (batch, 64, 64, 1), both in [0, 1];
        None for features without one (``hog``)."""
        if self.features != "paper":
            return None
        return self._model(AUTOENCODER_FILE)

    def classifier(self) -> Any:
        """The Keras classifier: (batch, seq_len, 640) float32 -> dict {"cry": (batch, 2), "pain": (batch, 3)}.

        ``predict`` returns a dict keyed "cry" and "pain"; ``model.outputs`` lists them
        in the order cry, pain. Probabilities follow CRY_LABELS and PAIN_LABELS.
        """
        return self._model(CLASSIFIER_FILE)

    @property
    def seq_len(self) -> int:
        """Frames per window."""
        return int(self.config["seq_len"])

    @property
    def fps(self) -> float:
        """The frame rate the model was trained at (the device samples at this rate)."""
        return float(self.config.get("fps", self.data.get("fps", 3.0)))

    @property
    def synthetic(self) -> bool:
        """True when the training data was synthetic."""
        return bool(self.data.get("synthetic", False))

    def frames(self) -> tuple[FrameTable, np.ndarray]:
        """The per-frame table and cached latents (N, 640) float32."""
        if getattr(self, "_frames", None) is None:
            self._frames = load_latents(self.root / LATENTS_FILE)
        return self._frames

    def windows(self) -> tuple[Windows, np.ndarray]:
        """All windows of the run's dataset and their part (0 train, 1 val, 2 test)."""
        table, _ = self.frames()
        windows = build_windows(table, self.seq_len, self.config.get("label_rule", "last"))
        return windows, Split.from_dict(self.split).window_part(windows)

    def test_windows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Held-out test windows: latents (n, seq_len, 640) float32, cry (n,), pain (n,) int64."""
        _, latents = self.frames()
        windows, part = self.windows()
        test = windows.select(part == TEST)
        return latents[test.rows], test.cry, test.pain

    def test_faces(self, limit: int | None = None) -> np.ndarray:
        """Held-out faces (n, 64, 64) uint8, in dataset order (first ``limit`` if given)."""
        return self._faces(TEST, limit=limit)

    def representative_faces(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` faces (n, 64, 64) uint8 drawn from the training split, for int8 calibration."""
        return self._faces(TRAIN, limit=n, seed=seed)

    def keras_metrics(self) -> dict[str, Any]:
        """The paper's metrics of the Keras classifier on the test windows (see training/metrics.py)."""
        from cribside.training.metrics import window_metrics
        from cribside.training.nets.networks import predict_windows

        latents, cry, pain = self.test_windows()
        cry_p, pain_p = predict_windows(self.classifier(), latents)
        return window_metrics(cry, pain, cry_p.argmax(1), pain_p.argmax(1))

    def _faces(self, part_wanted: int, limit: int | None, seed: int | None = None) -> np.ndarray:
        table, _ = self.frames()
        windows, _ = self.windows()
        part = Split.from_dict(self.split).frame_part(table, windows)
        rows = np.flatnonzero((part == part_wanted) & table.face)
        if seed is not None and limit is not None and limit < rows.size:
            rows = np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))
        elif limit is not None:
            rows = rows[:limit]
        return self.faces_of(rows)

    def faces_of(self, rows: np.ndarray) -> np.ndarray:
        """The face crops (n, 64, 64) uint8 of frame-table ``rows``, read from the run's dataset.

        Raises:
            CribsideError: the dataset no longer holds one of those frames.
        """
        from cribside.training.data.dataset import load_dataset, read_faces

        table, _ = self.frames()
        dataset = load_dataset(self.data["data"])
        by_key = {(f.subject, f.video, f.frame): f for f in dataset.frames}
        try:
            chosen = [by_key[(str(table.subject[i]), str(table.video[i]), int(table.frame[i]))] for i in rows]
        except KeyError as exc:
            raise CribsideError(f"{self.data['data']} no longer holds frame {exc.args[0]} of this run") from None
        return read_faces(dataset, chosen)

    def _model(self, name: str) -> Any:
        cache = self.__dict__.setdefault("_models", {})
        if name not in cache:
            import keras

            from cribside.training.nets.gradients import orientation_histograms

            orientation_histograms()  # registers the hog encoder's layer, so its encoder loads
            path = self.root / name
            if not path.is_file():
                raise CribsideError(f"{path} is missing: not a complete training run")
            cache[name] = keras.models.load_model(path, compile=False)
        return cache[name]


def load_run(root: str | Path) -> Run:
    """Open a run folder written by ``cribside train``.

    Raises:
        CribsideError: the folder is missing or lacks a file of the layout.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise CribsideError(f"run folder not found: {root}")
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        raise CribsideError(f"{root} is not a finished training run: missing {', '.join(missing)}")
    return Run(
        root=root,
        config=read_json(root / CONFIG_FILE),
        data=read_json(root / DATA_FILE),
        aligner=read_json(root / ALIGNER_FILE),
        split=read_json(root / SPLIT_FILE),
    )


def read_json(path: Path) -> Any:
    """Parse one JSON file of the run, as a CribsideError when broken."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CribsideError(f"cannot read {path}: {exc}") from None


def write_json(path: Path, value: Any) -> None:
    """Write one JSON file of the run atomically (write then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def aligner_record(settings: dict[str, Any] | None, recorded_fingerprint: str | None = None) -> dict[str, Any] | None:
    """The content of ``aligner.json``: the settings plus their fingerprint, or None without settings.

    The fingerprint is recomputed with the device's own :class:`AlignerSettings`, so
    training and device agree by construction; the dataset's recorded one is the
    fallback when the settings come from another version.
    """
    if settings is None:
        return None
    from cribside.edge.face.settings import AlignerSettings

    try:
        fingerprint = AlignerSettings.from_dict(settings).fingerprint()
    except CribsideError:
        if recorded_fingerprint is None:
            raise
        fingerprint = recorded_fingerprint
    return {**settings, "fingerprint": fingerprint}
