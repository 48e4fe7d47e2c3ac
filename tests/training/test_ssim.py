"""The SSIM loss against references: tf.image.ssim, an independent numpy implementation, closed forms."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from cribside.training.nets.ssim import ssim, ssim_loss  # noqa: E402

FLOAT_TOL = 1e-4  # float32 accumulation over 64x64 images, against float64 numpy
# tf.image.ssim computes E[x^2] - E[x]^2 in float32 with a 121-tap kernel; on flat regions its own
# cancellation error reaches ~1e-4 (it is further from the float64 reference than ours on "face_darker").
TF_REF_TOL = 3e-4
C1, C2 = (0.01 * 1.0) ** 2, (0.03 * 1.0) ** 2  # paper eq. (4)-(5) with L = 1 (pixels in [0, 1])


def _known_images() -> dict[str, np.ndarray]:
    """Deterministic 64x64 test images in [0, 1]: structure the loss must see."""
    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    checker = ((np.arange(64)[:, None] // 8 + np.arange(64)[None, :] // 8) % 2).astype(np.float64)
    face_like = np.clip(0.6 - 0.5 * ((xx - 0.5) ** 2 / 0.16 + (yy - 0.55) ** 2 / 0.25 > 1), 0, 1)
    face_like[20:26, 14:26] = 0.1  # an eye
    face_like[20:26, 38:50] = 0.1
    face_like[44:50, 24:40] = 0.2  # a mouth
    return {
        "gradient": xx * 0.8 + 0.1,
        "checker": checker * 0.8 + 0.1,
        "face_like": face_like,
        "noise": rng.uniform(0, 1, (64, 64)),
    }


def _pairs():
    images = _known_images()
    rng = np.random.default_rng(0)
    return [
        ("face_like", images["face_like"], np.clip(images["face_like"] + rng.normal(0, 0.1, (64, 64)), 0, 1)),
        ("checker_vs_gradient", images["checker"], images["gradient"]),
        ("noise_vs_face", images["noise"], images["face_like"]),
        ("face_darker", images["face_like"], images["face_like"] * 0.7),
    ]


def _numpy_gaussian_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. (2004): 11x11 Gaussian window, sigma 1.5, valid positions, mean of the map."""
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    px = np.lib.stride_tricks.sliding_window_view(x, (11, 11))
    py = np.lib.stride_tricks.sliding_window_view(y, (11, 11))
    mx, my = (px * w).sum((-1, -2)), (py * w).sum((-1, -2))
    vx = (px**2 * w).sum((-1, -2)) - mx**2
    vy = (py**2 * w).sum((-1, -2)) - my**2
    cxy = (px * py * w).sum((-1, -2)) - mx * my
    m = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx**2 + my**2 + C1) * (vx + vy + C2))
    return float(m.mean())


def _numpy_global_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """The paper's eq. (3) taken over the whole image."""
    mx, my = x.mean(), y.mean()
    vx, vy, cxy = x.var(), y.var(), ((x - mx) * (y - my)).mean()
    return float(((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx**2 + my**2 + C1) * (vx + vy + C2)))


def _batch(img: np.ndarray) -> np.ndarray:
    return img[None, :, :, None].astype(np.float32)


@pytest.mark.parametrize("name,x,y", _pairs(), ids=[p[0] for p in _pairs()])
def test_gaussian_ssim_matches_tf_image_ssim_and_numpy(name, x, y):
    ours = float(ssim(_batch(x), _batch(y), window="gaussian")[0])
    reference = float(tf.image.ssim(_batch(x), _batch(y), max_val=1.0)[0])
    assert ours == pytest.approx(reference, abs=TF_REF_TOL)
    assert ours == pytest.approx(_numpy_gaussian_ssim(x, y), abs=FLOAT_TOL)


@pytest.mark.parametrize("name,x,y", _pairs(), ids=[p[0] for p in _pairs()])
def test_global_ssim_matches_the_papers_equation(name, x, y):
    ours = float(ssim(_batch(x), _batch(y), window="global")[0])
    assert ours == pytest.approx(_numpy_global_ssim(x, y), abs=FLOAT_TOL)


def test_closed_forms():
    x = _known_images()["face_like"]
    for window in ("gaussian", "global"):
        assert float(ssim(_batch(x), _batch(x), window=window)[0]) == pytest.approx(1.0, abs=FLOAT_TOL)
    # Two flat images a and b: SSIM = (2ab + c1) / (a^2 + b^2 + c1) (the structure term is c2/c2).
    a, b = 0.3, 0.6
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    flat_a, flat_b = np.full((64, 64), a), np.full((64, 64), b)
    for window in ("gaussian", "global"):
        assert float(ssim(_batch(flat_a), _batch(flat_b), window=window)[0]) == pytest.approx(expected, abs=FLOAT_TOL)


def test_loss_is_one_minus_ssim_per_image_and_orders_damage():
    images = _known_images()
    x = np.stack([images["face_like"]] * 3)[..., None].astype(np.float32)
    rng = np.random.default_rng(1)
    y = np.stack([
        images["face_like"],
        np.clip(images["face_like"] + rng.normal(0, 0.05, (64, 64)), 0, 1),
        np.clip(images["face_like"] + rng.normal(0, 0.3, (64, 64)), 0, 1),
    ])[..., None].astype(np.float32)
    loss = np.asarray(ssim_loss("gaussian")(x, y))
    assert loss.shape == (3,)
    assert loss[0] == pytest.approx(0.0, abs=FLOAT_TOL)
    assert loss[0] < loss[1] < loss[2]
