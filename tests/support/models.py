"""Fixtures: models (see conftest.py): TFLite models converted by the project's own ``convert`` pipeline.

- ``converted_models``: the ``trained_run`` fixture converted in every mode (float32,
  float16, dynamic, int8) with its manifest. That run's crops were drawn directly
  (no aligner settings), so a device that passes its aligner fingerprint refuses it.
- ``converted_models_aligned``: ``trained_run_aligned`` (crops made by the real aligner)
  converted to int8 and float32: the models a device test can run with the aligner.

Both are converted with ``allow_degraded=True``, so a small test-sized run whose int8
build misses a parity gate still yields a manifest; the parity figures themselves are
asserted in tests/test_convert.py. Session-scoped: converted once per test run.
Tests that alter files must copy the folder first (``copy_models``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ALL_MODES = ("float32", "float16", "dynamic", "int8")


def convert_for_tests(run: Path, out: Path, modes: tuple[str, ...]):
    """Convert ``run`` into ``out`` in ``modes``; returns the ConversionResult."""
    from cribside.convert.modes import parse_modes
    from cribside.convert.pipeline import ConvertOptions, convert_run

    options = ConvertOptions(modes=tuple(parse_modes(",".join(modes))), calibration_size=300, allow_degraded=True)
    return convert_run(run, out, options)


def copy_models(models: Path, dest: Path) -> Path:
    """A private copy of a models folder that a test may damage."""
    return Path(shutil.copytree(models, dest / "models"))


@pytest.fixture(scope="session")
def converted_models_result(trained_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """The ConversionResult of ``converted_models`` (parity figures, notes)."""
    return convert_for_tests(trained_run, tmp_path_factory.mktemp("models") / "models", ALL_MODES)


@pytest.fixture(scope="session")
def converted_models(converted_models_result) -> Path:
    """A MODELS folder (manifest.json + *.tflite) converted from ``trained_run`` in every mode."""
    return converted_models_result.manifest_path.parent


@pytest.fixture(scope="session")
def converted_models_aligned(trained_run_aligned: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MODELS folder (int8, float32) from ``trained_run_aligned``, with real aligner settings."""
    result = convert_for_tests(trained_run_aligned, tmp_path_factory.mktemp("models_aligned") / "models", ("int8", "float32"))
    return result.manifest_path.parent
