"""The SYNTHETIC data generator: determinism, balance, layout, temporal cues, real-aligner acceptance."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from cribside.cli import main
from cribside.edge.errors import CribsideError
from cribside.training.data.dataset import PAIN_LABELS, load_dataset, read_faces
from cribside.training.synth.dataset import generate
from cribside.training.synth.schedule import build_schedule, random_episodes, scripted_episodes
from cribside.training.synth.video import DEMO_SCRIPT, labels_path

MIN_CLASS_SHARE = 0.15  # every pain class and both cry classes get at least this share of frames
CRY_SHARE = (0.25, 0.60)  # crying share of frames (the brief asks for about 40%)
MIN_DETECTION_RATE = 0.95  # raw frames the real aligner must find a face in
MAX_ANGLE_ERR_DEG = 5.0  # aligner's eye-line angle vs the drawn head tilt (95th percentile)
MAX_CROP_DIFF = 16.0  # median mean-absolute grey-level difference, aligner crop vs drawn crop
# Ceiling of pain weighted F1 for held-out infants, read from the generator's hidden cue values (no
# pixels): high enough for the 0.90 target to be reachable, low enough that the task is not trivial.
CUE_CEILING = (0.92, 0.99)
DEMO = Path(__file__).parents[2] / "edge" / "samples" / "synthetic_infant_demo.mp4"
DEMO_MAX_BYTES = 2_000_000


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The same tiny set made with one and with two workers, and one with another seed."""
    base = tmp_path_factory.mktemp("tiny")
    args = dict(subjects=2, minutes=0.25, fps=3.0)
    generate(base / "a", seed=5, workers=1, **args)
    generate(base / "b", seed=5, workers=2, **args)
    generate(base / "c", seed=6, workers=2, **args)
    return base / "a", base / "b", base / "c"


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tiny_twice):
    a, b, _ = tiny_twice
    digests = _digests(a)
    assert len(digests) > 40  # raw + aligned images, labels, dataset.json, README
    assert digests == _digests(b)


def test_another_seed_gives_other_images(tiny_twice):
    a, _, c = tiny_twice
    da, dc = _digests(a), _digests(c)
    images = [k for k in da if k.endswith((".png", ".jpg"))]
    assert sum(da[k] != dc.get(k) for k in images) == len(images)


def test_layout_validates_and_is_labelled_synthetic(synth_small: Path, synth_small_summary):
    dataset = load_dataset(synth_small)
    assert dataset.kind == "aligned" and dataset.synthetic is True and dataset.aligner is None
    assert len(dataset.subjects()) == 6 and len(dataset.videos()) == 12
    assert len(dataset.frames) == synth_small_summary.frames == 6 * 60 * 3
    faces = read_faces(dataset)
    assert faces.shape == (len(dataset.frames), 64, 64) and faces.dtype == np.uint8
    assert faces.std() > 20  # real pictures, not blank tiles
    assert "SYNTHETIC" in (synth_small.parent / "README.txt").read_text()
    assert not (synth_small.parent / "raw").exists()  # raw=False
    summary = synth_small_summary.describe()
    assert f"dataset of aligned crops: {synth_small}" in summary  # the folder to train on, not OUT
    assert f"cribside train {synth_small} --out RUN" in summary


def test_every_class_is_well_represented(synth_small: Path):
    frames = load_dataset(synth_small).frames
    n = len(frames)
    for k, label in enumerate(PAIN_LABELS):
        assert sum(f.pain == k for f in frames) / n >= MIN_CLASS_SHARE, label
    cry_share = sum(f.cry for f in frames) / n
    assert CRY_SHARE[0] <= cry_share <= CRY_SHARE[1]


def test_raw_and_aligned_roots_share_labels(synth_small_raw: Path):
    raw = load_dataset(synth_small_raw)
    aligned = load_dataset(synth_small_raw.parent / "aligned")
    assert raw.kind == "raw" and aligned.kind == "aligned"
    strip = lambda d: [(f.subject, f.video, f.frame, f.cry, f.pain) for f in d.frames]  # noqa: E731
    assert strip(raw) == strip(aligned)
    first = cv2.imread(str(raw.frames[0].path))
    assert first.shape == (240, 320, 3)


def test_pain_cues_rise_with_level_and_moderate_overlaps_both_neighbours():
    rng = np.random.default_rng(0)
    cry, pain = random_episodes(rng, 20000, 3.0)
    s = build_schedule(rng, cry, pain, 3.0)
    calm = cry == 0
    brow = [s.brow[(pain == k) & calm] for k in range(3)]
    assert brow[0].mean() < brow[1].mean() < brow[2].mean()
    # overlap: some moderate frames look like their neighbours' typical frames (how much is
    # bounded by the learnability test below)
    assert (brow[1] < np.median(brow[0]) + 0.1).mean() > 0.005
    assert (brow[1] > np.median(brow[2]) - 0.1).mean() > 0.005


def test_pain_is_learnable_across_infants_from_the_cues_and_moderate_is_hardest():
    # Linear discriminant on the hidden cue values of 24 infants, scored on 6 others: what a model
    # that read the face perfectly could reach. Episode offsets, expressiveness and the face's lag
    # behind the label keep it below 1; moderate, overlapping both neighbours, is the hardest.
    from cribside.training.synth.ceiling import cue_ceiling

    m = cue_ceiling(infants=30, held_out=6)
    assert CUE_CEILING[0] <= m["pain_weighted_f1"] <= CUE_CEILING[1], m["pain_f1"]
    assert m["pain_f1"]["moderate"] < min(m["pain_f1"]["none"], m["pain_f1"]["severe"])


def test_crying_is_a_rhythm_and_one_open_mouth_is_ambiguous():
    rng = np.random.default_rng(1)
    cry, pain = random_episodes(rng, 20000, 3.0)
    s = build_schedule(rng, cry, pain, 3.0)
    open_ = s.mouth_open > 0.5
    # a crying stretch of 4 frames almost always holds a closing (the in-breath)
    windows = [i for i in range(3, len(cry)) if cry[i - 3:i + 1].all() and cry[max(0, i - 8):i + 1].all()]
    closes = np.mean([not open_[i - 3:i + 1].all() for i in windows])
    assert closes > 0.95
    # but open mouths also happen without crying (yawns, babble)
    assert open_[cry == 0].sum() > 20


def test_scripted_episodes_follow_the_script():
    cry, pain, face = scripted_episodes([(2.0, 0, 0, True), (1.0, 2, 1, False)], 3.0)
    assert pain.tolist() == [0] * 6 + [2] * 3 and cry.tolist() == [0] * 6 + [1] * 3
    assert face.tolist() == [True] * 6 + [False] * 3


@pytest.mark.slow
def test_raw_frames_are_faces_to_the_real_aligner(synth_small_raw_summary, aligner):
    raw = load_dataset(synth_small_raw_summary.raw)
    drawn = read_faces(load_dataset(synth_small_raw_summary.aligned))
    found, diffs = 0, []
    for frame, crop in zip(raw.frames, drawn):
        face = aligner.align(cv2.imread(str(frame.path)))
        if face is not None:
            found += 1
            diffs.append(np.abs(face.crop.astype(np.int16) - crop).mean())
    assert found / len(raw.frames) >= MIN_DETECTION_RATE
    assert np.median(diffs) <= MAX_CROP_DIFF


@pytest.mark.slow
def test_head_tilt_is_recovered_by_the_real_aligner(aligner):
    from cribside.training.synth.face import FaceRenderer, random_identity
    from cribside.training.synth.scene import random_scene, render_frame

    errors = []
    for k, tilt in enumerate((-40, -20, 0, 20, 40) * 3):
        rng = np.random.default_rng([77, k])
        identity = random_identity(rng)
        scene = random_scene(rng, identity, (320, 240))
        e = dict(brow=0.2, raise_=0, squeeze=0.1, furrow=0.2, mouth_open=0.0, stretch=0.1, round_=0,
                 tilt_deg=tilt, dx=0.0, dy=0.0, scale=1.0)
        frame, _ = render_frame(FaceRenderer(identity), scene, e, True, rng)
        face = aligner.align(frame)
        assert face is not None, f"no face at tilt {tilt}"
        errors.append(abs(face.eye_angle_deg + tilt))  # OpenCV's positive tilt is counter-clockwise
    assert np.percentile(errors, 95) <= MAX_ANGLE_ERR_DEG


def test_video_output_has_matching_ground_truth(tmp_path: Path):
    summary = generate(tmp_path, subjects=1, minutes=0.2, seed=3, raw=False, video=True, video_fps=9.0,
                       videos_per_subject=1)
    (path,) = summary.video_files
    capture = cv2.VideoCapture(str(path))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    labelled = 36  # 0.2 min x 60 s x 3 fps
    assert size == (320, 240)
    assert frames == (labelled - 1) * 3 + 1  # 9 fps: two in-between frames per labelled frame
    with open(labels_path(path), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == labelled and float(rows[-1]["t_s"]) == pytest.approx((labelled - 1) / 3, abs=1e-3)
    aligned = load_dataset(summary.aligned)
    assert [int(r["cry"]) for r in rows] == [f.cry for f in aligned.frames]


def test_bundled_demo_video_is_small_and_covers_every_state():
    assert DEMO.is_file(), "make it with: cribside synth --demo-video edge/samples/synthetic_infant_demo.mp4"
    assert DEMO.stat().st_size < DEMO_MAX_BYTES
    capture = cv2.VideoCapture(str(DEMO))
    seconds = capture.get(cv2.CAP_PROP_FRAME_COUNT) / capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    assert 60 <= seconds <= 90
    with open(labels_path(DEMO), newline="") as handle:
        rows = list(csv.DictReader(handle))
    cry, pain, face = scripted_episodes(DEMO_SCRIPT, 3.0)
    assert [int(r["cry"]) for r in rows] == cry.tolist()
    assert [r["pain"] for r in rows] == [PAIN_LABELS[p] for p in pain]
    assert [r["face"] == "1" for r in rows] == face.tolist()
    assert set(pain.tolist()) == {0, 1, 2} and cry.any() and not face.all()
    assert "SYNTHETIC" in (DEMO.parent / "README.md").read_text()


def test_cli_writes_a_synthetic_set(tmp_path: Path, capsys: pytest.CaptureFixture):
    out = tmp_path / "s"
    assert main(["synth", str(out), "--subjects", "1", "--minutes", "0.1", "--no-raw", "--seed", "2"]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    assert load_dataset(out / "aligned").synthetic
    assert main(["synth", str(out), "--subjects", "0"]) == 2
    assert "error" in capsys.readouterr().err


def test_rerun_replaces_an_earlier_output_but_never_foreign_folders(tmp_path: Path):
    out = tmp_path / "s"
    generate(out, subjects=2, minutes=0.1, seed=1, raw=False)
    generate(out, subjects=1, minutes=0.1, seed=1, raw=False)  # smaller: stale frames must go
    dataset = load_dataset(out / "aligned")
    assert dataset.warnings == () and len(dataset.subjects()) == 1
    foreign = tmp_path / "mine"
    (foreign / "aligned").mkdir(parents=True)
    (foreign / "aligned" / "precious.txt").write_text("keep")
    with pytest.raises(CribsideError, match="not written by 'cribside synth'"):
        generate(foreign, subjects=1, minutes=0.1, seed=1, raw=False)
    assert (foreign / "aligned" / "precious.txt").is_file()
