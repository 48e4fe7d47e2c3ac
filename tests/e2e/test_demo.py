"""The README's first command: the shipped demo models watch the bundled synthetic video.

The demo models in edge/samples/models were made by the project's own pipeline
(cribside synth -> preprocess -> train -> convert) on SYNTHETIC faces; this test runs them
through the device loop exactly as the README's main command does, without TensorFlow.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "edge" / "samples"
DEMO_CONFIG = ROOT / "deploy" / "configs" / "demo.yaml"
MIN_CRY_AGREEMENT = 0.6  # synthetic demo models on a held-out synthetic face: well above chance, not clinical


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory, face_models_dir):
    out = tmp_path_factory.mktemp("demo")
    results = out / "demo.jsonl"
    video = out / "demo.mp4"
    env_code = (
        "import sys, cribside.cli; "
        "rc = cribside.cli.main(sys.argv[1:]); "
        "assert 'tensorflow' not in sys.modules, 'the device loop imported TensorFlow'; "
        "raise SystemExit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", env_code, "run", "--config", str(DEMO_CONFIG),
         "--annotate", str(video), "--results", str(results)],
        capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "CRIBSIDE_FACE_MODELS": str(face_models_dir)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    return rows, video, proc.stdout


def test_demo_models_are_marked_synthetic():
    manifest = json.loads((SAMPLES / "models" / "manifest.json").read_text())
    assert manifest["synthetic"] is True
    assert manifest["window_length"] == 4 and manifest["fps"] == 3.0


def test_demo_run_labels_the_sample_and_never_calls_a_hidden_face_calm(demo_results):
    rows, video, stdout = demo_results
    truth = list(csv.DictReader((SAMPLES / "synthetic_infant_demo.labels.csv").open()))
    assert len(rows) == pytest.approx(len(truth), abs=3), "one result per sampled frame at the model's 3 fps"
    by_t = {round(float(r["t_s"]), 1): r for r in truth}
    hidden = [r for r in rows if by_t.get(round(r["t_s"], 1), {}).get("face") == "0"]
    assert hidden, "the sample has a stretch with the face covered"
    assert all(not r["face"] for r in hidden[2:])  # allow the first frames of the covering motion
    assert all(r["cry"]["label"] == "unknown" and r["pain"]["label"] == "unknown" for r in rows if not r["face"])
    classified = [r for r in rows if r["cry"]["label"] != "unknown"]
    agree = [r for r in classified
             if round(r["t_s"], 1) in by_t and r["cry"]["label"] == ("yes" if by_t[round(r["t_s"], 1)]["cry"] == "1" else "no")]
    assert len(agree) / len(classified) >= MIN_CRY_AGREEMENT
    assert "ALERT START" in stdout
    assert video.stat().st_size > 100_000
