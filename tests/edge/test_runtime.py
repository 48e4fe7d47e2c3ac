"""The device's model runtime: floats in and out, labels from the manifest, delegate selection."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.models import copy_models

from cribside.convert.export import split_standardization
from cribside.edge.errors import CribsideError
from cribside.edge.inference.delegates import choose_delegate, load_delegate
from cribside.edge.inference.manifest import MANIFEST_FILE, TensorBinding
from cribside.edge.inference.model_io import dequantize, quantize
from cribside.edge.inference.runtime import ModelRuntime, Prediction

# Latent difference allowed between the TFLite encoder and the Keras encoder, relative to the
# latents' RMS: float32 is exact up to float rounding; int8 rounds three conv layers and the
# standardisation to steps of ~1/256 of their range. The latents are standardised (each feature in
# units of its own spread), so features with a small spread count fully: 8-15% measured (a paper-size
# run, this small one). What must hold end to end is the conversion's parity gate.
LATENT_RTOL = {"float32": 1e-4, "float16": 5e-3, "dynamic": 1e-4, "int8": 0.20}
# Probability difference allowed between TFLite and Keras for one window.
PROB_ATOL = {"float32": 1e-4, "float16": 5e-3, "dynamic": 0.05, "int8": 0.25}
# Softmax outputs dequantized from int8 sum to 1 within a few 1/256 steps.
PROB_SUM_ATOL = 0.02
MISSING_EDGETPU = "libedgetpu.so.1"  # not installed on CI machines
NOT_A_DELEGATE = "libc.so.6"  # loads, but has no TFLite delegate entry point


@pytest.fixture(scope="module")
def keras_side(trained_run: Path):
    """The Keras models and a few held-out faces and windows of the run."""
    from cribside.training.fit.run import load_run

    run = load_run(trained_run)
    latents, _, _ = run.test_windows()
    return run.encoder(), run.classifier(), run.test_faces(limit=8), latents[:8]


@pytest.mark.parametrize("variant", ["float32", "float16", "dynamic", "int8"])
def test_encode_and_classify_match_keras(converted_models: Path, keras_side, variant: str) -> None:
    encoder, classifier, faces, windows = keras_side
    runtime = ModelRuntime.load(converted_models, variant=variant, delegate="cpu")
    assert runtime.variant == variant and runtime.delegate == "cpu"
    keras_latents = np.asarray(encoder(faces[..., None].astype(np.float32) / 255.0)).reshape(len(faces), -1)
    # The exported encoder ends with the classifier's standardisation (convert/export.py); the
    # runtime's latents and windows live in that space.
    scaling, _ = split_standardization(classifier)
    assert runtime.manifest.latent_standardized == (scaling is not None)
    if scaling is not None:
        keras_latents = scaling.apply(keras_latents)
    latents = np.stack([runtime.encode(face) for face in faces])
    assert latents.dtype == np.float32 and latents.shape == keras_latents.shape
    rms = float(np.sqrt(np.mean(keras_latents**2)))
    assert np.sqrt(np.mean((latents - keras_latents) ** 2)) <= LATENT_RTOL[variant] * rms
    keras_out = classifier(windows, training=False)
    for i, window in enumerate(windows):
        prediction = runtime.classify(scaling.apply(window) if scaling is not None else window)
        assert list(prediction.cry) == ["no", "yes"] and list(prediction.pain) == ["none", "moderate", "severe"]
        assert sum(prediction.cry.values()) == pytest.approx(1.0, abs=PROB_SUM_ATOL)
        assert sum(prediction.pain.values()) == pytest.approx(1.0, abs=PROB_SUM_ATOL)
        np.testing.assert_allclose(list(prediction.cry.values()), np.asarray(keras_out["cry"][i]), atol=PROB_ATOL[variant])
        np.testing.assert_allclose(list(prediction.pain.values()), np.asarray(keras_out["pain"][i]), atol=PROB_ATOL[variant])


def test_prediction_labels_are_the_argmax() -> None:
    p = Prediction(cry={"no": 0.3, "yes": 0.7}, pain={"none": 0.2, "moderate": 0.5, "severe": 0.3})
    assert p.cry_label == "yes" and p.pain_label == "moderate"


def test_auto_variant_on_cpu_is_int8_and_two_threads_work(converted_models: Path) -> None:
    runtime = ModelRuntime.load(converted_models, delegate="cpu", threads=2)
    assert runtime.variant == "int8"
    latent = runtime.encode(np.full((64, 64), 128, np.uint8))
    assert latent.shape == (runtime.manifest.latent_size,)
    window = np.stack([latent] * runtime.manifest.window_length)
    assert runtime.classify(window).cry_label in ("no", "yes")


def test_auto_variant_falls_back_to_the_best_available(converted_models: Path, tmp_path: Path) -> None:
    models = copy_models(converted_models, tmp_path)
    path = models / MANIFEST_FILE
    data = json.loads(path.read_text())
    del data["variants"]["int8"]
    path.write_text(json.dumps(data))
    assert ModelRuntime.load(models, delegate="cpu").variant == "dynamic"


def test_unknown_and_absent_variants_are_errors(converted_models: Path) -> None:
    with pytest.raises(CribsideError, match="unknown model variant 'int4'"):
        ModelRuntime.load(converted_models, variant="int4")
    with pytest.raises(CribsideError, match="variant 'edgetpu' is not in the models folder"):
        ModelRuntime.load(converted_models, variant="edgetpu")


def test_wrong_inputs_are_rejected(converted_models: Path) -> None:
    runtime = ModelRuntime.load(converted_models, variant="int8", delegate="cpu")
    with pytest.raises(ValueError, match="uint8 face"):
        runtime.encode(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="uint8 face"):
        runtime.encode(np.zeros((64, 64), np.float32))
    with pytest.raises(ValueError, match="window"):
        runtime.classify(np.zeros((runtime.manifest.window_length + 1, 640), np.float32))


def test_quantize_round_trip_and_clipping() -> None:
    binding = TensorBinding(name="x", index=0, shape=(1, 3), dtype="int8", scale=0.5, zero_point=-10)
    q = quantize(np.array([[0.0, 1.0, 1000.0]]), binding)
    assert q.dtype == np.int8 and q.tolist() == [[-10, -8, 127]]
    assert dequantize(q, binding).tolist() == [[0.0, 1.0, 68.5]]


# --- delegates -------------------------------------------------------------------------------


def test_explicit_delegate_with_a_missing_library_names_it() -> None:
    with pytest.raises(CribsideError, match=r"edgetpu delegate: cannot load libedgetpu\.so\.1 .*libedgetpu1-std"):
        choose_delegate("edgetpu", libraries={"edgetpu": MISSING_EDGETPU})


def test_a_library_without_the_delegate_symbol_is_named() -> None:
    with pytest.raises(CribsideError, match=r"libc\.so\.6 is not a TFLite delegate library"):
        load_delegate("gpu", NOT_A_DELEGATE)


def test_auto_logs_the_ladder_and_falls_back_to_cpu(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cribside.edge.inference.delegates"):
        choice = choose_delegate("auto", candidates=("edgetpu", "gpu"), libraries={"edgetpu": MISSING_EDGETPU})
    assert choice.name == "cpu" and choice.delegate is None
    assert MISSING_EDGETPU in choice.reason and "libtensorflowlite_gpu_delegate.so" in choice.reason
    assert "skipping edgetpu" in caplog.text and "using cpu" in caplog.text


def _with_edgetpu_variant(models: Path) -> Path:
    """Pretend the folder has an Edge TPU build (the int8 files stand in; only the delegate is tested)."""
    path = models / MANIFEST_FILE
    data = json.loads(path.read_text())
    data["variants"]["edgetpu"] = {**data["variants"]["int8"], "accelerator": "edgetpu", "parity": None}
    path.write_text(json.dumps(data))
    return models


def test_runtime_explicit_edgetpu_without_the_library_is_a_clear_error(converted_models: Path, tmp_path: Path) -> None:
    models = _with_edgetpu_variant(copy_models(converted_models, tmp_path))
    with pytest.raises(CribsideError, match=r"cannot load libedgetpu\.so\.1"):
        ModelRuntime.load(models, delegate="edgetpu", delegate_libraries={"edgetpu": MISSING_EDGETPU})
    with pytest.raises(CribsideError, match="variant edgetpu needs the Edge TPU delegate"):
        ModelRuntime.load(models, variant="edgetpu", delegate_libraries={"edgetpu": MISSING_EDGETPU})


def test_runtime_auto_without_edgetpu_library_runs_int8_on_cpu(converted_models: Path, tmp_path: Path) -> None:
    models = _with_edgetpu_variant(copy_models(converted_models, tmp_path))
    runtime = ModelRuntime.load(models, delegate_libraries={"edgetpu": MISSING_EDGETPU})
    assert (runtime.delegate, runtime.variant) == ("cpu", "int8")
    assert MISSING_EDGETPU in runtime.delegate_reason


def test_explicit_edgetpu_without_an_edgetpu_build_says_so(converted_models: Path) -> None:
    with pytest.raises(CribsideError, match="needs an Edge TPU build"):
        ModelRuntime.load(converted_models, delegate="edgetpu")


def test_explicit_gpu_without_the_library_names_it(converted_models: Path) -> None:
    with pytest.raises(CribsideError, match=r"gpu delegate: cannot load libtensorflowlite_gpu_delegate\.so"):
        ModelRuntime.load(converted_models, delegate="gpu")


@pytest.mark.hardware
def test_edgetpu_build_runs_on_a_coral() -> None:
    models = os.environ.get("CRIBSIDE_EDGETPU_MODELS")
    if not models:
        pytest.skip("needs a Coral Edge TPU and CRIBSIDE_EDGETPU_MODELS=<models folder with an Edge TPU build>")
    runtime = ModelRuntime.load(models, variant="edgetpu", delegate="edgetpu")
    latent = runtime.encode(np.full(runtime.manifest.face_shape, 128, np.uint8))
    prediction = runtime.classify(np.stack([latent] * runtime.manifest.window_length))
    assert sum(prediction.pain.values()) == pytest.approx(1.0, abs=PROB_SUM_ATOL)


def test_the_runtime_never_imports_tensorflow(converted_models: Path) -> None:
    code = (
        "import sys\n"
        "from cribside.edge.inference.runtime import ModelRuntime\n"
        f"r = ModelRuntime.load({str(converted_models)!r}, delegate='cpu')\n"
        "import numpy as np\n"
        "r.classify(np.stack([r.encode(np.zeros((64, 64), np.uint8))] * r.manifest.window_length))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'cribside') "
        "and (m.split('.')[0] != 'cribside' or m.startswith(('cribside.training', 'cribside.convert')))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_bench_models_times_calls_and_invokes_in_a_child(converted_models: Path) -> None:
    from cribside.bench.models import bench_case, format_table

    case = bench_case(converted_models, "int8", 1, iterations=5)
    for key in ("encoder_ms", "encoder_invoke_ms", "classifier_ms", "classifier_invoke_ms"):
        assert 0 < case[key]["median"] <= case[key]["p95"], key
    assert case["peak_rss_mb"] >= case["baseline_rss_mb"] > 0
    missing = bench_case(converted_models, "edgetpu", 1, iterations=5)  # no Edge TPU build here
    assert "error" in missing
    table = format_table([case, missing])
    assert "int8" in table and "not run" in table and "invoke" in table
