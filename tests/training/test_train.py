"""End to end: synth -> train -> RUN layout -> eval, on SYNTHETIC data (small, CI-sized)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from cribside.edge.errors import CribsideError  # noqa: E402
from cribside.training.config import TrainConfig  # noqa: E402
from cribside.training.fit.run import REQUIRED, load_run  # noqa: E402

ABOVE_CHANCE = 0.10  # accuracy points a learning model must clear over the majority-class baseline
LATENT_TOL = 1e-5  # cached latents vs re-encoding the same faces


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cribside", *args], capture_output=True, text=True, timeout=600)


def test_run_has_the_documented_layout(trained_run: Path):
    for name in REQUIRED + ("autoencoder.keras", "history.json"):
        assert (trained_run / name).is_file(), name
    run = load_run(trained_run)
    assert run.config["split"] == "random" and run.split["protocol"] == "random"
    assert TrainConfig.from_dict(run.config).units == 64  # resolved config round-trips
    assert run.aligner is None  # directly drawn synthetic crops: no aligner settings
    assert run.synthetic is True and run.data["synthetic"] is True
    assert run.fps == 3.0
    history = json.loads((trained_run / "history.json").read_text())
    assert history["autoencoder"]["val_loss"] and history["classifier"]["shared"]["val_loss"]


@pytest.mark.slow
def test_split_holds_out_whole_subjects(trained_run_aligned: Path):
    run = load_run(trained_run_aligned)
    assert run.split["protocol"] == "subject"
    train, val, test = (set(run.split[k]) for k in ("train", "val", "test"))
    assert test and val and train
    assert not (train & test) and not (train & val) and not (val & test)
    windows, part = run.windows()
    assert set(windows.subject[part == 2]) == test
    assert not set(windows.subject[part == 0]) & test


def test_models_and_test_data_have_the_contract_shapes(trained_run: Path):
    run = load_run(trained_run)
    latents, cry, pain = run.test_windows()
    assert latents.dtype == np.float32 and latents.shape[1:] == (4, 640) and len(latents) == len(cry) == len(pain)
    faces = run.test_faces(limit=7)
    assert faces.shape == (7, 64, 64) and faces.dtype == np.uint8
    calib = run.representative_faces(16, seed=3)
    assert calib.shape == (16, 64, 64) and calib.dtype == np.uint8
    assert np.array_equal(calib, run.representative_faces(16, seed=3))
    out = run.classifier().predict(latents[:5], verbose=0)
    assert out["cry"].shape == (5, 2) and out["pain"].shape == (5, 3)
    assert run.encoder().predict(faces[:1, :, :, None] / 255.0, verbose=0).shape == (1, 640)


def test_latents_are_cached_once_per_frame_and_match_the_encoder(trained_run: Path):
    run = load_run(trained_run)
    table, latents = run.frames()
    assert latents.shape == (len(table), 640)
    assert np.all(latents[~table.face] == 0)
    faces = run.test_faces(limit=8)
    fresh = run.encoder().predict(faces[..., None].astype("float32") / 255.0, verbose=0)
    _, test_rows = _test_face_rows(run, 8)
    assert np.allclose(latents[test_rows], fresh, atol=LATENT_TOL)


def _test_face_rows(run, n):
    from cribside.training.data.splits import Split

    table, _ = run.frames()
    windows, _ = run.windows()
    part = Split.from_dict(run.split).frame_part(table, windows)
    rows = np.flatnonzero((part == 2) & table.face)[:n]
    return table, rows


def test_small_training_learns_above_chance(trained_run: Path):
    from cribside.training.evaluate.report import baseline

    run = load_run(trained_run)
    metrics = run.keras_metrics()
    _, cry, pain = run.test_windows()
    floor = baseline(cry, pain)
    assert metrics["cry_accuracy"] >= floor["cry_accuracy"] + ABOVE_CHANCE
    assert metrics["pain_accuracy"] >= floor["pain_accuracy"] + ABOVE_CHANCE


@pytest.mark.slow
def test_small_subject_independent_training_learns_crying(trained_run_aligned: Path):
    # A held-out infant, faces through the real aligner: crying is learned even from 2 training
    # infants; pain on unseen infants needs far more subjects than CI affords (see README).
    from cribside.training.evaluate.report import baseline

    run = load_run(trained_run_aligned)
    metrics = run.keras_metrics()
    _, cry, pain = run.test_windows()
    assert metrics["cry_accuracy"] >= baseline(cry, pain)["cry_accuracy"] + ABOVE_CHANCE


def test_eval_cli_writes_the_report(trained_run: Path, tmp_path: Path):
    result = _cli("eval", str(trained_run), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["synthetic"] is True and report["split"]["protocol"] == "random"
    m = report["metrics"]
    for key in ("cry_accuracy", "cry_f1", "pain_accuracy", "pain_mean_f1", "pain_weighted_f1",
                "severe_precision", "severe_recall"):
        assert 0.0 <= m[key] <= 1.0
    assert np.array(m["pain"]["confusion"]).shape == (3, 3) and np.array(m["cry"]["confusion"]).shape == (2, 2)
    assert np.array(m["pain"]["confusion"]).sum() == m["n_windows"]
    assert 0.0 <= report["autoencoder"]["ssim_loss"] < 1.0
    md = (tmp_path / "report.md").read_text()
    assert "SYNTHETIC" in md and "Table V" in md
    for fig in ("confusion.png", "training_curves.png", "reconstructions.png"):
        assert (tmp_path / "figures" / fig).stat().st_size > 1000
    assert "cry acc" in result.stdout


def test_train_cli_rejects_a_bad_dataset_in_one_line(tmp_path: Path):
    bad = tmp_path / "not_a_dataset"
    bad.mkdir()
    result = _cli("train", str(bad), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("cribside train: error:")
    assert "Traceback" not in result.stderr


def test_train_cli_rejects_unknown_config_field(tmp_path: Path, small_synth_aligned: Path):
    result = _cli("train", str(small_synth_aligned), "--out", str(tmp_path / "run"), "--set", "unitz=3")
    assert result.returncode == 2 and "unitz" in result.stderr


def test_existing_run_is_not_overwritten_silently(trained_run: Path, small_synth_aligned: Path):
    from cribside.training.fit.train import train

    with pytest.raises(CribsideError, match="--overwrite"):
        train(small_synth_aligned, trained_run, TrainConfig(), progress=False)


def test_load_run_refuses_a_folder_that_is_not_a_run(tmp_path: Path):
    with pytest.raises(CribsideError, match="not a finished training run"):
        load_run(tmp_path)


@pytest.mark.slow
def test_training_is_deterministic_for_a_seed(small_synth_aligned: Path, tmp_path: Path):
    from cribside.training.fit.train import train

    tiny = TrainConfig.for_features("paper", seed=5, units=8, ae_epochs=2, lstm_epochs=2, heads="separate",
                                    split="random")
    runs = [load_run(train(small_synth_aligned, tmp_path / f"r{i}", tiny, progress=False)) for i in range(2)]
    assert runs[0].split == runs[1].split
    for a, b in zip(runs[0].classifier().get_weights(), runs[1].classifier().get_weights()):
        assert np.array_equal(a, b)
    assert np.array_equal(runs[0].frames()[1], runs[1].frames()[1])
    # separate heads: the per-head models are saved beside the combined one
    assert (tmp_path / "r0" / "classifier_cry.keras").is_file() and (tmp_path / "r0" / "classifier_pain.keras").is_file()
    assert runs[0].split["protocol"] == "random"


@pytest.mark.slow
def test_training_from_raw_frames_records_the_aligner(trained_run_aligned: Path):
    from cribside.edge.face.settings import AlignerSettings

    run = load_run(trained_run_aligned)
    assert run.aligner is not None
    assert run.aligner["fingerprint"] == AlignerSettings.from_dict(
        {k: v for k, v in run.aligner.items() if k != "fingerprint"}).fingerprint()
    assert run.data["source_kind"] == "raw"
    assert Path(run.data["data"]) == trained_run_aligned / "aligned"
    latents, cry, _ = run.test_windows()
    assert len(latents) > 0 and latents.shape[1:] == (4, 2788)  # the default hog features
    assert run.features == "hog" and not (trained_run_aligned / "autoencoder.keras").exists()


def test_sweep_grid_parsing_and_presets():
    from cribside.training.evaluate.sweep import PRESETS, grid_points

    assert [(p["seq_len"], p["units"]) for p in grid_points("table2", [])] == [
        (3, 512), (4, 512), (4, 1024), (4, 2048), (5, 1024)]
    assert [p["dropout"] for p in grid_points("table3", [])] == [0.6, 0.5, 0.4, 0.25, 0.0]
    assert len(grid_points(None, ["seq_len=3,4", "units=8,16,32"])) == 6
    for bad in (["unitz=3"], ["units="], ["units=abc"]):
        with pytest.raises(CribsideError):
            grid_points(None, bad)
    with pytest.raises(CribsideError):
        grid_points(None, [])
    assert set(PRESETS) == {"table2", "table3"}


def test_sweep_points_reuse_the_base_run_and_write_the_table(trained_run: Path, tmp_path: Path):
    from cribside.training.evaluate.sweep import sweep_point, write_table

    base = TrainConfig.from_dict(load_run(trained_run).config)
    rows = [sweep_point(trained_run, base.replace(seq_len=s, units=8, lstm_epochs=2), progress=False)
            for s in (3, 4)]
    assert [r["seq_len"] for r in rows] == [3, 4]
    # shorter windows: more of them (test is a fixed share of all windows)
    assert rows[0]["test_windows"] > rows[1]["test_windows"] > 0
    write_table(tmp_path, rows, protocol="random", synthetic=True)
    md = (tmp_path / "sweep.md").read_text()
    assert "SYNTHETIC" in md and "| seq length | hidden units | dropout | cry acc | pain acc |" in md
    assert md.count("\n| 3 | 8 |") == 1 and md.count("\n| 4 | 8 |") == 1
    assert (tmp_path / "sweep.csv").read_text().startswith("seq_len,units,dropout")


def test_latent_views_mirror_and_simulate_int8(trained_run: Path):
    from cribside.training.data.dataset import load_dataset, read_faces
    from cribside.training.fit.latent_views import latent_views
    from cribside.training.fit.train import standardization

    run = load_run(trained_run)
    table, latents = run.frames()
    dataset = load_dataset(run.data["data"])
    frames = [f for video in dataset.videos().values() for f in video]  # the run's table order
    faces = read_faces(dataset, [f for f in frames if f.face])
    part = np.zeros(len(faces), dtype=np.int64)
    config = TrainConfig(mirror=True, int8_aware=True)
    stats = standardization(latents[table.face])
    mirrored, int8, int8_mirrored = latent_views(config, run.encoder(), faces, part, table, stats)
    face = table.face
    for view in (mirrored, int8, int8_mirrored):
        assert view.shape == latents.shape and not view[~face].any()  # no-face rows stay zero
    rel = lambda a, b: np.sqrt(np.mean((a - b) ** 2) / np.mean(b**2))  # noqa: E731
    assert rel(mirrored[face], latents[face]) > 0.1  # a mirrored face is another input
    assert 1e-3 < rel(int8[face], latents[face]) < 0.2  # int8 rounding: close, not equal
    assert 1e-3 < rel(int8_mirrored[face], mirrored[face]) < 0.2
    assert latent_views(TrainConfig(mirror=False, int8_aware=False), run.encoder(), faces, part, table, stats) == ()


def test_viewed_windows_pick_one_view_per_window_afresh_each_epoch():
    from cribside.training.fit.latent_views import ViewedWindows

    n = 300
    original = np.repeat(np.arange(n, dtype=np.float32)[:, None, None], 4, axis=1).repeat(3, axis=2)  # (n, 4, 3)
    view = original + 0.5  # the other view of window i holds i + 0.5
    labels = {"cry": np.arange(n) % 2, "pain": np.arange(n) % 3}
    weights = {"cry": np.arange(n, dtype=np.float32), "pain": np.ones(n, np.float32)}

    def epochs(seed: int) -> list[np.ndarray]:
        batches = ViewedWindows((original, labels, weights), [view], 64, seed).for_heads(("cry", "pain"))
        out = []
        for _ in range(2):
            rows = []
            for x, y, w in batches:
                x = x.numpy()
                assert (x == x[:, :1, :1]).all()  # one view for the whole window
                index = np.floor(x[:, 0, 0]).astype(int)
                assert (y["cry"].numpy() == labels["cry"][index]).all()  # labels and weights follow the window
                assert (y["pain"].numpy() == labels["pain"][index]).all()
                assert (w["cry"].numpy() == weights["cry"][index]).all()
                rows.append(x[:, 0, 0])
            out.append(np.concatenate(rows))
        return out

    first, second = epochs(seed=0)
    for values in (first, second):
        assert sorted(np.floor(values).astype(int)) == list(range(n))  # every window once per epoch
        assert 0.35 < np.mean(values % 1 == 0.5) < 0.65  # about half from the other view
    assert not np.array_equal(first, second)  # order and picks drawn again
    again = epochs(seed=0)
    assert np.array_equal(first, again[0]) and np.array_equal(second, again[1])  # deterministic for a seed


def test_sweep_point_trains_on_the_views(trained_run: Path):
    from cribside.training.evaluate.sweep import sweep_point

    base = TrainConfig.from_dict(load_run(trained_run).config)
    row = sweep_point(trained_run, base.replace(units=8, lstm_epochs=2, mirror=True, int8_aware=True), progress=False)
    assert row["config"]["mirror"] and row["config"]["int8_aware"] and row["test_windows"] > 0


def test_class_weights_give_every_present_class_the_same_total_weight():
    from cribside.training.fit.train import class_weights

    labels = np.array([0] * 60 + [1] * 10 + [2] * 30)
    w = class_weights(labels, 3)
    totals = [w[c] * (labels == c).sum() for c in range(3)]
    assert np.allclose(totals, totals[0])
    assert w[labels].sum() == pytest.approx(len(labels))  # mean weight 1
    assert class_weights(np.array([0, 0, 2]), 3)[1] == 0.0  # an absent class gets no weight


def test_balanced_sampling_equalises_pain_classes_deterministically():
    from cribside.training.fit.train import balanced_indices

    pain = np.array([0] * 50 + [1] * 5 + [2] * 20)
    idx = np.arange(len(pain))
    chosen = balanced_indices(pain, idx, seed=0)
    assert np.bincount(pain[chosen]).tolist() == [50, 50, 50]
    assert set(np.flatnonzero(pain == 1)) <= set(chosen)  # every rare window kept
    assert np.array_equal(chosen, balanced_indices(pain, idx, seed=0))


def test_bench_train_times_each_stage(small_synth_aligned: Path):
    from cribside.bench.train import format_table, time_epochs

    result = time_epochs(small_synth_aligned, units=8, seed=0)
    assert result["frames"] > 0 and result["windows"] > 0
    for key in ("autoencoder_epoch_s", "encode_all_s", "classifier_epoch_s"):
        assert result[key] > 0
    assert "classifier, one epoch" in format_table(result)
