"""Conversion: every mode from a small trained run, parity gates, output binding, Edge TPU step, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cribside.cli import main
from cribside.convert import parity
from cribside.convert.edgetpu import parse_ops_on_cpu
from cribside.convert.modes import parse_modes
from cribside.convert.parity import Predictions, compare
from cribside.convert.run_data import HeldOutWindows
from cribside.edge.errors import CribsideError
from cribside.edge.inference.manifest import MANIFEST_FILE, load_manifest
from cribside.edge.inference.runtime import ModelRuntime

# Issue 4's targets: class agreement with Keras per mode (int8 gated at 98%; the others
# are float or float-activation and must agree on at least 99%).
AGREEMENT_MIN = {"float32": 0.99, "float16": 0.99, "dynamic": 0.99, "int8": 0.98}
F1_DROP_MAX = 0.01  # one point, the conversion gate
INT8_ENCODER_MAX_BYTES = 10 * 1024  # issue 4: int8 encoder at most 10 KB
# A float32 classifier is 4 bytes per weight, int8 1 byte: allow overhead (per-channel scales).
INT8_CLASSIFIER_MAX_FRACTION_OF_FLOAT32 = 0.35


def test_parse_modes() -> None:
    assert [m.name for m in parse_modes("all")] == ["float32", "float16", "dynamic", "int8"]
    assert [m.name for m in parse_modes("int8,float32")] == ["float32", "int8"]
    with pytest.raises(CribsideError, match="unknown mode int4"):
        parse_modes("int4")


@pytest.mark.slow
def test_round_trip_every_mode_meets_parity(converted_models_result, converted_models: Path) -> None:
    manifest = load_manifest(converted_models)
    assert list(manifest.variants) == ["float32", "float16", "dynamic", "int8"]
    assert converted_models_result.failed == ()
    for name, variant in manifest.variants.items():
        p = variant.parity
        assert p is not None and p.windows > 0, name
        assert min(p.cry_agreement, p.pain_agreement) >= AGREEMENT_MIN[name], (name, p)
        assert p.keras_cry_f1 - p.cry_f1 <= F1_DROP_MAX, (name, p)
        assert p.keras_pain_weighted_f1 - p.pain_weighted_f1 <= F1_DROP_MAX, (name, p)
        assert p.passed, (name, p.problems)
    assert manifest.variants["float32"].parity.max_abs_prob_diff < 1e-4
    # The encoder outputs standardised latents (the classifier's Normalization moved into it).
    assert manifest.latent_standardized
    assert manifest.variants["float32"].parity.latent_rel_error < 1e-4
    # The Keras figures in the manifest are those of the parity comparison.
    assert manifest.keras_metrics["cry_f1"] == pytest.approx(manifest.variants["int8"].parity.keras_cry_f1)
    sizes = {n: v.classifier.size_bytes for n, v in manifest.variants.items()}
    assert manifest.variants["int8"].encoder.size_bytes <= INT8_ENCODER_MAX_BYTES
    assert sizes["int8"] <= INT8_CLASSIFIER_MAX_FRACTION_OF_FLOAT32 * sizes["float32"]
    assert sizes["float16"] < sizes["float32"]


def test_edgetpu_step_without_compiler_says_so_in_one_line(converted_models_result, monkeypatch) -> None:
    import shutil

    if shutil.which("edgetpu_compiler"):
        pytest.skip("edgetpu_compiler is installed here: the compiled build is tested instead")
    notes = [n for n in converted_models_result.notes if n.startswith("edgetpu")]
    assert len(notes) == 1 and "edgetpu_compiler not found" in notes[0] and "\n" not in notes[0]
    assert "edgetpu" not in load_manifest(converted_models_result.manifest_path.parent).variants


def test_parse_edgetpu_compiler_operation_table() -> None:
    # The shape of `edgetpu_compiler -s` output (Coral's documentation, "Edge TPU Compiler").
    report = """Edge TPU Compiler version 16.0.384591198
Input: classifier.int8.tflite
Output: classifier.int8_edgetpu.tflite

Operator                       Count      Status

FULLY_CONNECTED                8          Mapped to Edge TPU
LOGISTIC                       11         Mapped to Edge TPU
SPLIT                          4          Operation not supported
TANH                           3          Mapped to Edge TPU
TANH                           5          More than one subgraph is not supported
"""
    assert parse_ops_on_cpu(report) == {"SPLIT": 4, "TANH": 5}


def _predictions(cry_classes: np.ndarray, pain_classes: np.ndarray) -> Predictions:
    cry = np.eye(2)[cry_classes] * 0.8 + 0.1
    pain = np.eye(3)[pain_classes] * 0.7 + 0.1
    return Predictions(np.ones((4, 640), np.float32), cry, pain)


def test_parity_gate_fails_on_low_agreement() -> None:
    n = 100
    truth_cry = np.arange(n) % 2
    truth_pain = np.arange(n) % 3
    test = HeldOutWindows(np.zeros((4, 64, 64), np.uint8), np.zeros((n, 4), np.int64), truth_cry, truth_pain)
    keras = _predictions(truth_cry, truth_pain)
    same = compare(keras, _predictions(truth_cry, truth_pain), test)
    assert same.passed and same.cry_agreement == 1.0 and same.max_abs_prob_diff == 0.0
    pain_off = truth_pain.copy()
    pain_off[:3] = (pain_off[:3] + 1) % 3  # 97% agreement, below the 98% gate
    degraded = compare(keras, _predictions(truth_cry, pain_off), test)
    assert not degraded.passed
    assert degraded.pain_agreement == pytest.approx(0.97)
    assert any("pain class agreement 97.0% < 98%" in p for p in degraded.problems)
    assert any("pain_weighted_f1 dropped" in p for p in degraded.problems)


@pytest.mark.slow
def test_cli_fails_the_conversion_below_the_gate_unless_allowed(trained_run: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    # An impossible gate makes even float32 "fail": the exit code and the missing manifest are what is tested.
    monkeypatch.setattr(parity, "AGREEMENT_GATE", 1.01)
    out = tmp_path / "models"
    assert main(["convert", str(trained_run), "--out", str(out), "--quant", "float32"]) == 1
    captured = capsys.readouterr()
    assert "failed the parity gates" in captured.err and "--allow-degraded" in captured.err
    assert not (out / MANIFEST_FILE).exists()
    assert main(["convert", str(trained_run), "--out", str(out), "--quant", "float32", "--allow-degraded"]) == 0
    manifest = load_manifest(out)
    assert list(manifest.variants) == ["float32"] and manifest.variants["float32"].parity.passed is False


def test_cli_bad_run_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["convert", str(tmp_path / "nope"), "--out", str(tmp_path / "m")]) == 2
    assert "cribside convert: error: run folder not found" in capsys.readouterr().err


def test_cli_unknown_mode(tmp_path: Path, capsys) -> None:
    assert main(["convert", str(tmp_path), "--out", str(tmp_path / "m"), "--quant", "int4"]) == 2
    assert "unknown mode int4" in capsys.readouterr().err


# --- output binding -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swapped_heads_models(tmp_path_factory):
    """A classifier whose Keras outputs are listed pain first, with both heads 3 wide so a swap
    cannot be caught by shape: only the signature binding keeps them apart."""
    import keras

    from cribside.convert.describe import describe_model
    from cribside.convert.export import HEADS, WINDOW, convert_saved_model, export_classifier
    from cribside.convert.modes import MODES

    keras.utils.set_random_seed(3)
    window = keras.Input((4, 640), name="latents")
    hidden = keras.layers.LSTM(16, unroll=True)(window)
    pain = keras.layers.Dense(3, activation="softmax", name="pain")(hidden)
    cry = keras.layers.Dense(3, activation="softmax", name="cry")(keras.layers.Dense(8)(hidden))
    model = keras.Model(window, [pain, cry])
    assert model.output_names == ["pain", "cry"]
    tmp = tmp_path_factory.mktemp("binding")
    saved = export_classifier(model, tmp / "saved")
    path = tmp / "classifier.float32.tflite"
    path.write_bytes(convert_saved_model(saved, MODES["float32"]))
    return model, path, describe_model(path, (WINDOW,), HEADS)


def test_heads_are_bound_by_name_not_position(swapped_heads_models) -> None:
    from cribside.edge.inference.model_io import BoundModel

    model, path, spec = swapped_heads_models
    x = np.random.default_rng(0).normal(size=(1, 4, 640)).astype(np.float32)
    pain_keras, cry_keras = (np.asarray(o) for o in model(x))
    assert np.abs(pain_keras - cry_keras).max() > 0.01  # the heads really differ
    out = BoundModel.open(path, spec).run({"window": x})
    np.testing.assert_allclose(out["cry"], cry_keras, atol=1e-5)
    np.testing.assert_allclose(out["pain"], pain_keras, atol=1e-5)


def test_a_manifest_with_swapped_bindings_is_refused(converted_models: Path, tmp_path: Path) -> None:
    from support.models import copy_models

    models = copy_models(converted_models, tmp_path)
    path = models / MANIFEST_FILE
    data = json.loads(path.read_text())
    outputs = data["variants"]["int8"]["classifier"]["outputs"]
    outputs[0]["index"], outputs[1]["index"] = outputs[1]["index"], outputs[0]["index"]
    path.write_text(json.dumps(data))
    with pytest.raises(CribsideError, match="the manifest binds output 'cry' to tensor"):
        ModelRuntime.load(models, variant="int8", delegate="cpu")


@pytest.mark.slow
def test_bench_models_prints_latency_and_memory(converted_models: Path, capsys) -> None:
    assert main(["bench", "models", str(converted_models), "--variants", "int8", "--threads", "1", "--iterations", "5"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("int8"))
    numbers = [float(x) for x in row.replace("/", " ").split()[1:]]
    assert numbers[0] == 1 and all(v > 0 for v in numbers[1:])


def test_standardisation_moves_from_the_classifier_to_the_encoder_output() -> None:
    # The exported classifier starts after its Normalization layer; the encoder applies it instead.
    from cribside.convert.export import split_standardization
    from cribside.training.config import TrainConfig
    from cribside.training.nets.networks import build_classifier

    rng = np.random.default_rng(0)
    mean = rng.normal(size=640).astype(np.float32)
    var = rng.uniform(1e-4, 2.0, size=640).astype(np.float32)
    classifier = build_classifier(TrainConfig(units=16), 640, mean, var, raw_noise_std=0.01).combined
    scaling, core = split_standardization(classifier)
    assert scaling is not None and "standardize" not in [layer.name for layer in core.layers]
    x = rng.normal(mean, np.sqrt(var), size=(5, 4, 640)).astype(np.float32)
    np.testing.assert_allclose(scaling.apply(x), (x - mean) / np.sqrt(var), rtol=1e-5, atol=1e-5)
    full, split = classifier(x, training=False), core(scaling.apply(x), training=False)
    for head in ("cry", "pain"):
        np.testing.assert_allclose(np.asarray(split[head]), np.asarray(full[head]), atol=1e-6)
    plain = build_classifier(TrainConfig(units=16, normalize_latents=False), 640).combined
    assert split_standardization(plain) == (None, plain)


@pytest.mark.slow
def test_simulated_int8_latents_err_like_the_real_int8_encoder(trained_run: Path, converted_models: Path) -> None:
    # int8-aware training (training/nets/int8_view.py) simulates the int8 encoder; its error must look
    # like the converted encoder's: similar size, same direction (both measured in the exported,
    # standardised latent space, where the classifier reads them).
    from cribside.convert.describe import describe_model
    from cribside.convert.export import split_standardization
    from cribside.convert.run_data import calibration_faces, held_out_windows
    from cribside.edge.inference.model_io import BoundModel
    from cribside.training.fit.run import load_run
    from cribside.training.nets.int8_view import Int8Encoder

    run = load_run(trained_run)
    encoder = run.encoder()
    scaling, _ = split_standardization(run.classifier())
    faces = held_out_windows(run).faces[:200]
    float_z = scaling.apply(np.asarray(encoder(faces[..., None].astype(np.float32) / 255.0)))
    simulated = Int8Encoder(encoder, calibration_faces(run, 300, 0), (scaling.mean, scaling.std)).latents(faces)
    sim_err = scaling.apply(simulated) - float_z
    path = converted_models / "encoder.int8.tflite"
    model = BoundModel.open(path, describe_model(path, ("face",), ("latent",)))
    real = np.stack([model.run({"face": f[None, :, :, None].astype(np.float32) / 255.0})["latent"].reshape(-1)
                     for f in faces])
    real_err = real - float_z
    ratio = np.sqrt(np.mean(sim_err**2) / np.mean(real_err**2))
    assert 0.5 < ratio < 2.0, ratio
    assert np.corrcoef(sim_err.ravel(), real_err.ravel())[0, 1] > 0.2
