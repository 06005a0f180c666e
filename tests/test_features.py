"""Input features of 2-D points: values, order, dtype, names, and a feature that replaces a hidden layer."""
import numpy as np
import pytest

from nn.features import DEFAULT_FEATURES, FEATURES, LABELS, check_features, expand
from nn.model import MLP, ModelConfig
from nn.optim import make_optimizer


def test_every_feature_has_its_value():
    x = np.array([[2.0, -3.0], [0.5, 0.25]], dtype=np.float32)
    got = expand(x, FEATURES)
    expected = [[2, -3, 4, 9, -6, np.sin(2), np.sin(-3)],
                [0.5, 0.25, 0.25, 0.0625, 0.125, np.sin(0.5), np.sin(0.25)]]
    assert FEATURES == ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin x1", "sin x2")
    assert got.dtype == np.float32 and got.shape == (2, 7)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_columns_follow_the_order_given(rng):
    x = rng.normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_array_equal(expand(x), x)
    assert DEFAULT_FEATURES == ("x1", "x2")
    np.testing.assert_array_equal(expand(x, ["x2", "x1"]), x[:, ::-1])
    np.testing.assert_array_equal(expand(x, ("x1*x2", "x1"))[:, 1], x[:, 0])
    assert expand(np.zeros((0, 2)), ("sin x1",)).shape == (0, 1)


def test_every_feature_has_a_label():
    assert set(LABELS) == set(FEATURES)
    assert LABELS["x1^2"] == "x₁²" and LABELS["sin x2"] == "sin(x₂)"


@pytest.mark.parametrize("names, message", [
    ((), "choose at least one input feature"),
    (("x1", "x3"), "unknown feature 'x3': choose from x1, x2, x1\\^2"),
    (("x1", "x1"), "feature 'x1' is chosen twice"),
    ("x1", "a list of names"),
])
def test_bad_feature_names_are_explained(names, message):
    with pytest.raises(ValueError, match=message):
        check_features(names)
    with pytest.raises(ValueError, match=message):
        expand(np.zeros((3, 2)), names)


@pytest.mark.parametrize("shape", [(3,), (3, 3), (2, 1, 2)])
def test_points_must_be_2d(shape):
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        expand(np.zeros(shape))


def test_a_good_feature_replaces_a_hidden_layer():
    # XOR's quadrants: no line separates them in (x1, x2), but the sign of x1*x2 does
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(200, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)

    def accuracy(names) -> float:
        inputs = expand(x, names)
        model = MLP(ModelConfig(input_dim=len(names), hidden=(), output_dim=2), seed=0)
        optimizer = make_optimizer("adam", 0.1)
        for _ in range(300):
            model.train_step(inputs, y)
            optimizer.step(model.params(), model.grads())
        return model.evaluate(inputs, y)[1]

    assert accuracy(("x1", "x2")) < 0.75
    assert accuracy(("x1", "x2", "x1*x2")) > 0.95
