"""Fixtures: run (see conftest.py): small training runs made by the project's own pipeline.

- ``trained_run``: SYNTHETIC aligned crops from ``cribside synth`` (8 infants x 1 minute),
  trained with the paper's features (its autoencoder) and a small config (64 LSTM units, few epochs) in well under a minute, with the
  paper's random window split: with so few infants a subject-independent pain head stays
  near chance, and near-chance probabilities flip under int8 quantization, which would make
  the conversion parity tests measure the data, not the converter. Its ``aligner.json`` is
  null (crops drawn directly, no aligner): the device refuses its models.
- ``trained_run_aligned``: the default recipe (``hog`` features), on SYNTHETIC raw frames aligned by the real FaceAligner
  (``cribside preprocess``, MediaPipe models from the ``face_models`` fixture), subject
  split (4 infants: 2 train, 1 validation, 1 test), so ``aligner.json`` holds real settings
  and a fingerprint the device accepts, and the test infant's videos are held out.

Both are full RUN folders (training/fit/run.py): models, config, split, latents, history.
Session-scoped: built once, shared by the training, conversion and device tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_CONFIG = dict(
    seed=0, units=64, ae_epochs=10, ae_patience=3, lstm_epochs=25, lstm_patience=5,
    lstm_learning_rate=0.003, lstm_batch_size=32,
)
SYNTH_SUBJECTS = 8
SYNTH_MINUTES = 1.0
RAW_SUBJECTS = 4  # the raw set goes through the aligner (~5 ms per frame): keep it smaller


def _train_small(data: Path, out: Path, **overrides) -> Path:
    pytest.importorskip("tensorflow", reason="training needs the train extra (a device venv has only edge + dev)")
    from cribside.training.config import TrainConfig
    from cribside.training.fit.train import train

    values = {**SMALL_CONFIG, **overrides}
    config = TrainConfig.for_features(values.pop("features", "hog"), **values)
    return train(data, out, config, progress=False, workers=2)


@pytest.fixture(scope="session")
def small_synth_aligned(tmp_path_factory) -> Path:
    """A SYNTHETIC aligned dataset root (8 infants x 1 min at 3 fps: 1,440 crops)."""
    from cribside.training.synth.dataset import generate

    out = tmp_path_factory.mktemp("synth_for_run")
    summary = generate(out, SYNTH_SUBJECTS, SYNTH_MINUTES, seed=0, raw=False, aligned=True)
    return Path(summary.aligned)


@pytest.fixture(scope="session")
def trained_run(small_synth_aligned: Path, tmp_path_factory) -> Path:
    """A small trained RUN folder on SYNTHETIC crops (no aligner settings); see module docstring."""
    return _train_small(small_synth_aligned, tmp_path_factory.mktemp("run") / "run", split="random", features="paper")


@pytest.fixture(scope="session")
def trained_run_aligned(face_models, tmp_path_factory) -> Path:
    """A small trained RUN folder on SYNTHETIC raw frames aligned by the real FaceAligner."""
    from cribside.training.synth.dataset import generate

    out = tmp_path_factory.mktemp("synth_raw_for_run")
    summary = generate(out, RAW_SUBJECTS, SYNTH_MINUTES, seed=1, raw=True, aligned=False)
    return _train_small(Path(summary.raw), tmp_path_factory.mktemp("run_aligned") / "run", val_fraction=0.34)
