"""nn.robustness: distortions of 28x28 digits and accuracy-versus-distortion curves."""
import numpy as np
import pytest

from nn.data import load_mnist_sample
from nn.model import MLP, ModelConfig
from nn.preprocess import normalise_digits
from nn.robustness import DISTORTIONS, distort, robustness_curve


def bar() -> np.ndarray:
    """A vertical bar, 1 px wide, rows 4-24 of column 14: (784,) float32."""
    img = np.zeros((28, 28), np.float32)
    img[4:25, 14] = 1.0
    return img.ravel()


def ink_centre(x: np.ndarray) -> np.ndarray:
    img = x.reshape(28, 28)
    rows, cols = np.mgrid[0:28, 0:28]
    return np.array([(rows * img).sum(), (cols * img).sum()]) / img.sum()


@pytest.mark.parametrize("kind", sorted(DISTORTIONS))
def test_the_neutral_amount_changes_nothing(rng, kind):
    x = rng.random((5, 784)).astype(np.float32)
    np.testing.assert_allclose(distort(x, kind, DISTORTIONS[kind].neutral), x, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(DISTORTIONS))
def test_shapes_range_and_input_untouched(rng, kind):
    x = rng.random((4, 784)).astype(np.float32)
    before = x.copy()
    amount = DISTORTIONS[kind].high
    out = distort(x, kind, amount)
    assert out.shape == (4, 784) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(x, before)
    single = distort(x[0], kind, amount)
    assert single.shape == (784,)
    np.testing.assert_allclose(single, out[0], atol=1e-6)


def test_rotation_turns_anticlockwise():
    turned = distort(bar(), "rotation", 45).reshape(28, 28)
    rows, cols = np.nonzero(turned > 0.3)
    top = rows.argmin()
    assert cols[top] < 14 - 4           # the top of the bar has moved left
    back = distort(distort(bar(), "rotation", 90), "rotation", -90)
    assert np.abs(back - bar()).sum() < 0.2 * bar().sum()


def test_shift_moves_right_and_scale_shrinks_about_the_centre():
    np.testing.assert_allclose(ink_centre(distort(bar(), "shift", 3)), ink_centre(bar()) + [0, 3], atol=1e-4)
    np.testing.assert_allclose(ink_centre(distort(bar(), "shift", -2.5)), ink_centre(bar()) + [0, -2.5], atol=1e-3)
    small = distort(bar(), "scale", 0.5).reshape(28, 28)
    rows = np.nonzero(small[:, 14] > 0.3)[0]
    assert 9 <= len(rows) <= 12 and abs(rows.mean() - 14) < 1


def test_thickness_grows_and_thins_strokes():
    x = np.zeros((28, 28), np.float32)
    x[8:20, 12:15] = 1.0                                       # a 3 px wide stroke
    x = x.ravel()
    assert distort(x, "thickness", 1).reshape(28, 28)[10].sum() == pytest.approx(5)
    assert distort(x, "thickness", -1).reshape(28, 28)[10].sum() == pytest.approx(1)
    half = distort(x, "thickness", 0.5).sum()
    assert x.sum() < half < distort(x, "thickness", 1).sum()


def test_noise_is_reproducible_and_grows_with_the_amount():
    x = np.full((3, 784), 0.5, np.float32)
    a, b = distort(x, "noise", 0.2), distort(x, "noise", 0.2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, distort(x, "noise", 0.2, np.random.default_rng(1)))
    assert np.std(distort(x, "noise", 0.1) - x) < np.std(distort(x, "noise", 0.3) - x)


@pytest.mark.parametrize("kind, amount, match", [
    ("blur", 1, "unknown distortion"), ("rotation", float("nan"), "finite"), ("rotation", "5", "finite"),
    ("scale", 0, "scale must be > 0"), ("noise", -0.1, "noise must be >= 0"),
])
def test_bad_arguments_are_named(kind, amount, match):
    with pytest.raises(ValueError, match=match):
        distort(bar(), kind, amount)
    with pytest.raises(ValueError, match="784"):
        distort(np.zeros((2, 10)), "shift", 1)


def test_every_distortion_has_a_curve_starting_from_no_change():
    for name, d in DISTORTIONS.items():
        assert d.name == name and d.low <= d.neutral <= d.high
        assert d.neutral in d.curve and list(d.curve) == sorted(d.curve)
        assert d.unit and d.help


@pytest.fixture(scope="module")
def trained():
    """A small MLP fitted to 3,000 bundled digits (well over 90% on the bundled test digits)."""
    ds = load_mnist_sample()
    x, xt = normalise_digits(ds.x_train[:3000]), normalise_digits(ds.x_val[:400])
    model = MLP(ModelConfig(784, (64,), 10), seed=0)
    from nn.optim import Adam
    opt = Adam(0.003)
    order = np.random.default_rng(0).permutation(3000)
    for _ in range(4):
        for i in range(0, 3000, 64):
            idx = order[i:i + 64]
            model.train_step(x[idx], ds.y_train[:3000][idx])
            opt.step(model.params(), model.grads())
    return model, xt, ds.y_val[:400]


def test_robustness_curve_falls_as_the_distortion_grows(trained):
    model, x, y = trained
    accs = robustness_curve(model, x, y, "rotation", [0, 30, 60, 90])
    assert accs.shape == (4,) and accs.dtype == np.float64
    assert accs[0] == pytest.approx(np.mean(model.predict(x) == y))
    assert accs[0] > 0.85 and accs[-1] < accs[0] - 0.3
    assert np.all(np.diff(accs) <= 0.02)              # (almost) monotone
    noise = robustness_curve(model, x, y, "noise")
    assert noise.shape == (len(DISTORTIONS["noise"].curve),) and noise[0] > noise[-1]


def test_normalising_again_undoes_a_shift(trained):
    model, x, y = trained
    raw = robustness_curve(model, x, y, "shift", [6])[0]
    recentred = robustness_curve(model, x, y, "shift", [6], normalise=True)[0]
    assert recentred > raw + 0.3
    with pytest.raises(ValueError, match="one label per digit"):
        robustness_curve(model, x, y[:-1], "shift", [1])
