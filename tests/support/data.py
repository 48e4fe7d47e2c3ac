"""Fixtures: data (see conftest.py): small SYNTHETIC datasets made by the project's own generator.

Session-scoped and written under pytest's tmp folder, so each is generated once per test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SYNTH_SMALL = dict(subjects=6, minutes=1.0, seed=11)  # 6 x 2 videos x 90 frames = 1,080 crops
SYNTH_SMALL_RAW = dict(subjects=3, minutes=0.5, seed=12)  # 3 x 2 videos x 45 frames = 270 frames


@pytest.fixture(scope="session")
def synth_small_summary(tmp_path_factory: pytest.TempPathFactory):
    """The SynthSummary of ``synth_small`` (class counts, paths)."""
    from cribside.training.synth.dataset import generate

    return generate(tmp_path_factory.mktemp("synth_small"), raw=False, **SYNTH_SMALL)


@pytest.fixture(scope="session")
def synth_small(synth_small_summary) -> Path:
    """Root of a SYNTHETIC aligned dataset: 6 subjects x 1 min at 3 fps, 64x64 crops only
    (``aligner: null``), 2 videos per subject. Fast: a few seconds."""
    return synth_small_summary.aligned


@pytest.fixture(scope="session")
def synth_small_raw_summary(tmp_path_factory: pytest.TempPathFactory):
    """The SynthSummary of ``synth_small_raw`` (raw and aligned roots with the same labels)."""
    from cribside.training.synth.dataset import generate

    return generate(tmp_path_factory.mktemp("synth_small_raw"), **SYNTH_SMALL_RAW)


@pytest.fixture(scope="session")
def synth_small_raw(synth_small_raw_summary) -> Path:
    """Root of a SYNTHETIC raw dataset (320x240 JPEG frames): 3 subjects x 30 s at 3 fps,
    for ``preprocess``; its directly drawn crops are in the sibling ``aligned`` folder."""
    return synth_small_raw_summary.raw
