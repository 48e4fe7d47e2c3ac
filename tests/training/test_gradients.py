"""The default ``hog`` features (training/nets/gradients.py): what they compute, and that training and the
device compute the same numbers for the same real face crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.face import LONDON_24

pytest.importorskip("tensorflow", reason="the Keras encoder needs the train extra")

LONDON = LONDON_24


@pytest.fixture(scope="module")
def real_crops(face_models) -> np.ndarray:
    """Aligned 64x64 crops of 6 real faces (3 people, neutral and smiling), by the device's aligner."""
    import cv2

    from cribside.edge.face.aligner import FaceAligner

    crops = []
    with FaceAligner() as aligner:
        for person in ("001", "002", "003"):
            for expression in ("neutral", "smiling"):
                face = aligner.align(cv2.imread(str(LONDON / expression / f"{person}.jpg")))
                assert face is not None, (person, expression)
                crops.append(face.crop)
    return np.stack(crops)


def _encode(crops: np.ndarray) -> np.ndarray:
    from cribside.training.nets.gradients import build_hog_encoder

    return build_hog_encoder().predict(crops[..., None].astype(np.float32) / 255.0, verbose=0)


def test_layout_is_hog_blocks_then_a_thumbnail(real_crops: np.ndarray):
    from cribside.training.nets.gradients import feature_size

    features = _encode(real_crops)
    assert features.shape == (len(real_crops), feature_size(64)) == (len(real_crops), 2788)
    blocks = features[:, :1764].reshape(len(real_crops), 49, 36)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), 1.0, atol=1e-3)  # each block L2-Hys normalised
    thumb = features[:, 1764:].reshape(-1, 32, 32)
    want = real_crops.reshape(-1, 32, 2, 32, 2).mean(axis=(2, 4)) / 255.0
    np.testing.assert_allclose(thumb, want, atol=1e-5)


def test_orientation_histograms_follow_the_numpy_hog(real_crops: np.ndarray):
    # The smooth vote of the encoder and the baseline's linear vote describe the same gradients.
    from cribside.training.evaluate.baseline import hog

    ours = _encode(real_crops)[:, :1764]
    theirs = hog(real_crops)
    for a, b in zip(ours, theirs):
        assert np.corrcoef(a, b)[0, 1] > 0.9


def test_a_vertical_edge_votes_into_the_horizontal_gradient_bins():
    image = np.zeros((1, 64, 64), np.uint8)
    image[:, :, 32:] = 200  # dark left half, bright right half: gradients point along +x
    blocks = _encode(image)[0, :1764].reshape(7, 7, 4, 9)
    cells = blocks[:, 3].sum(axis=(0, 1))  # the blocks across the edge, every cell
    # 0 degrees sits between bins 0 (10 degrees) and 8 (170 degrees): they take the votes.
    assert cells[[0, 8]].sum() > 0.95 * cells.sum()


def test_training_and_device_compute_the_same_features(real_crops: np.ndarray, tmp_path: Path):
    from cribside.convert.describe import describe_model
    from cribside.convert.export import FACE, LATENT, convert_saved_model, export_encoder
    from cribside.convert.modes import MODES
    from cribside.edge.inference.model_io import BoundModel
    from cribside.training.nets.gradients import build_hog_encoder

    encoder = build_hog_encoder()
    keras_features = encoder.predict(real_crops[..., None].astype(np.float32) / 255.0, verbose=0)
    saved = export_encoder(encoder, tmp_path / "saved")
    path = tmp_path / "encoder.float32.tflite"
    path.write_bytes(convert_saved_model(saved, MODES["float32"]))
    device = BoundModel.open(path, describe_model(path, (FACE,), (LATENT,)))
    for crop, want in zip(real_crops, keras_features):
        got = device.run({FACE: crop[None, ..., None].astype(np.float32) / 255.0})[LATENT][0]
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_a_saved_hog_encoder_loads_back(tmp_path: Path, real_crops: np.ndarray):
    import keras

    from cribside.training.nets.gradients import build_hog_encoder, orientation_histograms

    encoder = build_hog_encoder()
    encoder.save(tmp_path / "encoder.keras")
    orientation_histograms()
    loaded = keras.models.load_model(tmp_path / "encoder.keras", compile=False)
    x = real_crops[..., None].astype(np.float32) / 255.0
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), encoder.predict(x, verbose=0))
