"""The models manifest: schema, sha256 checks, shape checks and the aligner refusal."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from support.models import copy_models

from cribside.edge.errors import CribsideError
from cribside.edge.inference.manifest import (
    MANIFEST_FILE,
    check_aligner,
    load_manifest,
    manifest_json_schema,
    parse_manifest,
    sha256_file,
    verify_files,
)
from cribside.edge.inference.runtime import ModelRuntime

SCHEMA_FILE = Path(__file__).parents[2] / "edge" / "schemas" / "manifest.schema.json"


def _edit_manifest(models: Path, edit) -> None:
    path = models / MANIFEST_FILE
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_written_manifest_validates_against_the_schema(converted_models: Path) -> None:
    data = json.loads((converted_models / MANIFEST_FILE).read_text())
    jsonschema.validate(data, manifest_json_schema())
    assert set(data["variants"]) == {"float32", "float16", "dynamic", "int8"}


def test_committed_schema_file_matches_the_manifest_model() -> None:
    # The schema file is generated from the pydantic model; it must not drift from it.
    assert json.loads(SCHEMA_FILE.read_text()) == manifest_json_schema()


def test_manifest_records_what_the_device_needs(converted_models: Path, trained_run: Path) -> None:
    manifest = load_manifest(converted_models)
    config = json.loads((trained_run / "config.json").read_text())
    assert manifest.window_length == config["seq_len"]
    assert manifest.fps == pytest.approx(config["fps"])
    assert manifest.labels.cry == ("no", "yes")
    assert manifest.labels.pain == ("none", "moderate", "severe")
    assert manifest.synthetic is True
    assert manifest.sha256 == sha256_file(converted_models / MANIFEST_FILE)
    for name, variant in manifest.variants.items():
        for model in (variant.encoder, variant.classifier):
            path = converted_models / model.file
            assert model.sha256 == sha256_file(path), name
            assert model.size_bytes == path.stat().st_size, name
        assert [o.name for o in variant.classifier.outputs] == ["cry", "pain"]
        assert variant.classifier.output("cry").shape == (1, 2)
        assert variant.classifier.output("pain").shape == (1, 3)
    int8 = manifest.variants["int8"]
    assert int8.encoder.input("face").dtype == "int8" and int8.encoder.input("face").scale > 0
    assert int8.classifier.output("pain").dtype == "int8"
    assert manifest.variants["float32"].classifier.input("window").dtype == "float32"


def test_a_corrupted_byte_in_a_model_file_is_caught(converted_models: Path, tmp_path: Path) -> None:
    models = copy_models(converted_models, tmp_path)
    target = models / load_manifest(models).variants["int8"].classifier.file
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the weights
    target.write_bytes(bytes(data))
    with pytest.raises(CribsideError, match=r"classifier\.int8\.tflite does not match manifest\.json"):
        verify_files(load_manifest(models), models)
    with pytest.raises(CribsideError, match="does not match"):
        ModelRuntime.load(models, variant="int8", delegate="cpu")
    # The other variants' files are intact and still load.
    ModelRuntime.load(models, variant="float32", delegate="cpu")


def test_a_missing_model_file_is_caught(converted_models: Path, tmp_path: Path) -> None:
    models = copy_models(converted_models, tmp_path)
    (models / "encoder.int8.tflite").unlink()
    with pytest.raises(CribsideError, match=r"model file missing: .*encoder\.int8\.tflite"):
        ModelRuntime.load(models, variant="int8", delegate="cpu")


def test_missing_manifest_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CribsideError, match="models folder not found"):
        load_manifest(tmp_path / "nope")
    with pytest.raises(CribsideError, match="no manifest.json"):
        load_manifest(tmp_path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"format_version": 99}', "format_version 99 is not supported"),
        (b'{"format_version": 1}', "field 'model_version'"),
    ],
)
def test_broken_manifests_name_the_problem(raw: bytes, message: str) -> None:
    with pytest.raises(CribsideError, match=message):
        parse_manifest(raw)


def test_a_wrong_field_type_names_its_path(converted_models: Path, tmp_path: Path) -> None:
    models = copy_models(converted_models, tmp_path)
    _edit_manifest(models, lambda d: d["variants"]["int8"]["encoder"].__setitem__("sha256", "xyz"))
    with pytest.raises(CribsideError, match=r"field 'variants\.int8\.encoder\.sha256'"):
        load_manifest(models)


def test_a_model_whose_input_shape_disagrees_with_the_manifest_is_refused(converted_models: Path, tmp_path: Path) -> None:
    models = copy_models(converted_models, tmp_path)
    length = load_manifest(models).window_length
    _edit_manifest(models, lambda d: d.__setitem__("window_length", length + 1))
    with pytest.raises(CribsideError, match=r"classifier 'window' has shape \(1, %d, 640\), expected \(1, %d, 640\)"
                       % (length, length + 1)):
        ModelRuntime.load(models, variant="int8", delegate="cpu")


def test_a_binding_shape_that_disagrees_with_the_model_is_refused(converted_models: Path, tmp_path: Path) -> None:
    models = copy_models(converted_models, tmp_path)

    def edit(d):
        d["variants"]["float32"]["encoder"]["inputs"][0]["shape"] = [1, 32, 32, 1]

    _edit_manifest(models, edit)
    with pytest.raises(CribsideError, match=r"'face' has shape \(1, 64, 64, 1\) but the manifest says \(1, 32, 32, 1\)"):
        ModelRuntime.load(models, variant="float32", delegate="cpu")


def test_models_without_aligner_settings_are_refused_when_the_device_aligns(converted_models: Path) -> None:
    manifest = load_manifest(converted_models)
    assert manifest.aligner is None  # trained_run's crops were drawn directly
    with pytest.raises(CribsideError, match="not made by the aligner"):
        ModelRuntime.load(converted_models, aligner_fingerprint="0123abcd")
    # Without a fingerprint (e.g. evaluating on stored crops) the models load.
    ModelRuntime.load(converted_models, variant="int8", delegate="cpu")


def test_other_aligner_settings_are_refused(converted_models: Path, tmp_path: Path) -> None:
    models = copy_models(converted_models, tmp_path)
    _edit_manifest(models, lambda d: d.__setitem__("aligner", {"margin": 1.5, "fingerprint": "aaaa"}))
    manifest = load_manifest(models)
    check_aligner(manifest, "aaaa")
    with pytest.raises(CribsideError, match=r"other aligner settings \(fingerprint aaaa\).*\(bbbb\)"):
        ModelRuntime.load(models, aligner_fingerprint="bbbb")


@pytest.mark.slow
def test_models_from_an_aligned_run_load_with_the_devices_aligner_settings(converted_models_aligned: Path) -> None:
    from cribside.edge.face import AlignerSettings

    manifest = load_manifest(converted_models_aligned)
    assert manifest.aligner is not None and set(manifest.variants) == {"int8", "float32"}
    runtime = ModelRuntime.load(converted_models_aligned, aligner_fingerprint=AlignerSettings().fingerprint())
    assert runtime.manifest.aligner_fingerprint == AlignerSettings().fingerprint()
