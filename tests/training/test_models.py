"""Model shapes: the paper's 8x8x10 latent, LSTM size, two named heads, Table I variants."""

import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cribside.training.config import TrainConfig  # noqa: E402
from cribside.training.nets.networks import build_autoencoder, build_classifier  # noqa: E402


@pytest.fixture(scope="module")
def paper_autoencoder():
    return build_autoencoder(TrainConfig.for_features("paper"))


def test_encoder_gives_the_papers_8x8x10_latent(paper_autoencoder):
    autoencoder, encoder = paper_autoencoder
    assert encoder.input_shape == (None, 64, 64, 1)
    assert encoder.output_shape == (None, 640)
    assert autoencoder.output_shape == (None, 64, 64, 1)
    convs = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 3
    for conv in convs:
        assert conv.kernel_size == (3, 3) and conv.strides == (2, 2) and conv.padding == "same" and conv.filters == 10
    assert convs[-1].output.shape[1:] == (8, 8, 10)
    assert not any("pool" in layer.__class__.__name__.lower() for layer in autoencoder.layers)
    leaky = [layer for layer in encoder.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(leaky) == 3 and all(layer.negative_slope == pytest.approx(0.2) for layer in leaky)
    deconvs = [layer for layer in autoencoder.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert len(deconvs) == 3


def test_reconstruction_is_in_pixel_range(paper_autoencoder):
    autoencoder, _ = paper_autoencoder
    out = autoencoder.predict(np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 1)).astype("float32"), verbose=0)
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("layers,side", [(2, 16), (4, 4)])
def test_table_i_layer_counts_are_parameters(layers, side):
    _, encoder = build_autoencoder(TrainConfig.for_features("paper", conv_layers=layers))
    assert encoder.output_shape == (None, side * side * 10)
    assert TrainConfig.for_features("paper", conv_layers=layers).latent_size == side * side * 10


def test_default_recipe_is_hog_features_a_small_lstm_and_mirrored_faces():
    config = TrainConfig()
    assert (config.features, config.units, config.mirror, config.latent_size) == ("hog", 64, True, 2788)
    paper = TrainConfig.for_features("paper")
    assert (paper.features, paper.units, paper.mirror, paper.int8_aware, paper.latent_size) == ("paper", 1024, False, True, 640)
    # A field given explicitly wins over the option's preset.
    assert TrainConfig.for_features("paper", units=8).units == 8


def test_features_come_from_flags_files_and_sets(tmp_path):
    from cribside.edge.errors import CribsideError
    from cribside.training.config import resolve_config

    assert resolve_config(flags={"features": "paper"}).units == 1024
    assert resolve_config(sets=["features=paper", "units=32"]).units == 32
    path = tmp_path / "c.json"
    path.write_text('{"features": "paper"}')
    assert resolve_config(path).features == "paper"
    with pytest.raises(CribsideError, match="features must be one of hog, paper"):
        resolve_config(sets=["features=lbp"])


def test_paper_classifier_has_1024_unit_unrolled_lstm_and_two_heads():
    config = TrainConfig.for_features("paper")
    model = build_classifier(config, 640, np.zeros(640), np.ones(640)).combined
    assert model.input_shape == (None, 4, 640)
    lstm = model.get_layer("lstm_shared")
    assert lstm.units == 1024 and lstm.unroll
    assert lstm.count_params() == 4 * (1024 * (640 + 1024) + 1024)
    assert [t.shape[-1] for t in model.outputs] == [2, 3]
    out = model.predict(np.zeros((3, 4, 640), "float32"), verbose=0)
    assert set(out) == {"cry", "pain"}
    assert np.allclose(out["cry"].sum(1), 1, atol=1e-5) and np.allclose(out["pain"].sum(1), 1, atol=1e-5)
    assert lstm.kernel_regularizer.l2 == pytest.approx(0.001)


def test_separate_heads_are_two_lstms_with_their_own_dropout():
    config = TrainConfig(units=32, heads="separate", dropout=0.5, pain_dropout=0.25)
    clf = build_classifier(config, 640)
    assert clf.combined.get_layer("dropout_cry").rate == 0.5
    assert clf.combined.get_layer("dropout_pain").rate == 0.25
    assert clf.combined.get_layer("lstm_cry") is not clf.combined.get_layer("lstm_pain")
    x = np.random.default_rng(0).normal(size=(2, 4, 640)).astype("float32")
    both = clf.combined.predict(x, verbose=0)
    assert np.allclose(both["cry"], clf.cry_model.predict(x, verbose=0)["cry"], atol=1e-6)
    assert np.allclose(both["pain"], clf.pain_model.predict(x, verbose=0)["pain"], atol=1e-6)


def test_raw_latent_noise_sits_before_standardisation_and_only_acts_in_training():
    config = TrainConfig(units=16)
    model = build_classifier(config, 640, np.zeros(640), np.ones(640), raw_noise_std=0.5).combined
    names = [layer.name for layer in model.layers]
    assert names.index("raw_latent_noise") < names.index("standardize")
    assert model.get_layer("raw_latent_noise").stddev == pytest.approx(0.5)
    x = np.random.default_rng(0).normal(size=(2, 4, 640)).astype("float32")
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    assert np.array_equal(first["pain"], second["pain"])  # inference is deterministic: the noise is off
    noisy = model(x, training=True)["pain"].numpy()
    assert not np.allclose(noisy, first["pain"], atol=1e-6)
    assert "raw_latent_noise" not in [layer.name for layer in build_classifier(config, 640).combined.layers]


def test_raw_latent_noise_std_is_counted_in_int8_steps_of_the_latent_range():
    from cribside.training.fit.train import raw_noise_std

    latents = np.array([[-1.0, 0.0], [2.0, 1.5]], "float32")  # range 3.0 -> one int8 step = 3/255
    assert raw_noise_std(TrainConfig(raw_latent_noise_steps=2.0), latents) == pytest.approx(2 * 3.0 / 255)
    assert raw_noise_std(TrainConfig(raw_latent_noise_steps=0.0), latents) == 0.0


@pytest.mark.slow
def test_unrolled_lstm_converts_to_tflite():
    tf = pytest.importorskip("tensorflow")
    model = build_classifier(TrainConfig(units=16), 640, np.zeros(640), np.ones(640)).combined
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    flat = converter.convert()
    assert len(flat) > 1000


def _small_lstm_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4, 16)), keras.layers.LSTM(8, unroll=True),
                             keras.layers.Dense(3, activation="softmax")])


def _fit_weights(optimizer, tmp_path=None):
    """Weights of a small LSTM model after three epochs with ``optimizer`` and a learning-rate drop."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4, 16)).astype("float32")
    y = rng.integers(0, 3, 256)
    model = _small_lstm_model()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=32, verbose=0,
              callbacks=[keras.callbacks.ReduceLROnPlateau("loss", patience=0, factor=0.5)])
    if tmp_path is not None:
        model.save(tmp_path / "fused.keras")
    return model.get_weights()


def test_fused_adam_follows_keras_adam_and_survives_save_and_load(tmp_path):
    from cribside.training.nets.fused_adam import FusedAdam

    reference = _fit_weights(keras.optimizers.Adam(0.01))
    fused = _fit_weights(FusedAdam(0.01), tmp_path)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(reference, _small_lstm_model().get_weights()))
    assert moved > 0.05  # training changed the weights, so agreeing below means the same updates
    assert max(float(np.abs(a - b).max()) for a, b in zip(reference, fused)) < 1e-4
    loaded = keras.models.load_model(tmp_path / "fused.keras")
    assert type(loaded.optimizer).__name__ == "FusedAdam"


def test_prepare_tensorflow_opts_into_onednn_unless_the_user_chose(monkeypatch):
    from cribside.training.nets.session import prepare_tensorflow

    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    prepare_tensorflow()
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    prepare_tensorflow()
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
