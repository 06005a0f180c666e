"""Every layer's backward pass against central differences, in float64."""
import numpy as np
import pytest

from nn.gradcheck import numerical_gradient, relative_error
from nn.layers import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh

TOL = 1e-7


def check_layer(make_layer, x, train=True, rng_seed=None):
    """Compare dx and every parameter gradient of a layer to numerical ones.

    The scalar is L = sum(out * w) for a fixed random w, so dL/dout = w (not all ones,
    which would hide mistakes that cancel). ``make_layer`` is called once; if the layer is
    random, its generator is re-seeded before every forward so the mask stays fixed.
    """
    layer = make_layer()
    w = np.random.default_rng(99).standard_normal(layer.forward(x, train).shape)

    def loss():
        if rng_seed is not None:
            layer.rng = np.random.default_rng(rng_seed)
        return float(np.sum(layer.forward(x, train) * w))

    loss()
    dout = w.copy()
    dx = layer.backward(dout)
    assert np.array_equal(dout, w), "backward must not mutate dout"
    assert dx.shape == x.shape
    assert relative_error(dx, numerical_gradient(loss, x)) < TOL
    for key, p in layer.params.items():
        analytic = layer.grads[key].copy()
        assert relative_error(analytic, numerical_gradient(loss, p)) < TOL, key
    return layer


def away_from_zero(rng, shape):
    """Inputs with |x| >= 0.1, so no finite-difference step crosses the ReLU kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, 0.5 * np.sign(x) + x, x)


def test_dense(rng):
    x = rng.standard_normal((6, 4))
    layer = check_layer(lambda: Dense(4, 3, np.random.default_rng(1), "xavier", dtype=np.float64), x)
    assert layer.params["W"].shape == (4, 3) and layer.params["b"].shape == (3,)


def test_dense_forward_is_affine(rng):
    layer = Dense(4, 3, rng, "he", dtype=np.float64)
    layer.params["b"][...] = [1.0, 2.0, 3.0]
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["W"] + layer.params["b"])


@pytest.mark.parametrize("make", [ReLU, lambda: LeakyReLU(0.1), Sigmoid, Tanh])
def test_activations(rng, make):
    check_layer(make, away_from_zero(rng, (5, 7)))


def test_activation_values():
    x = np.array([[-2.0, 0.5]])
    np.testing.assert_allclose(ReLU().forward(x), [[0.0, 0.5]])
    np.testing.assert_allclose(LeakyReLU(0.1).forward(x), [[-0.2, 0.5]])
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))


def test_sigmoid_is_stable_for_huge_inputs():
    out = Sigmoid().forward(np.array([[-1000.0, 1000.0]]))
    assert np.all(np.isfinite(out)) and out[0, 0] == 0.0 and out[0, 1] == 1.0


def test_dropout_with_fixed_mask(rng):
    x = rng.standard_normal((8, 10))
    check_layer(lambda: Dropout(0.4, np.random.default_rng(3)), x, rng_seed=3)


def test_dropout_is_inverted_and_off_at_inference(rng):
    x = np.ones((2000, 50))
    layer = Dropout(0.3, rng)
    out = layer.forward(x, train=True)
    assert set(np.unique(out)) <= {0.0, 1 / 0.7}
    assert abs(np.mean(out == 0) - 0.3) < 0.01
    assert abs(out.mean() - 1.0) < 0.02          # expectation preserved
    assert np.array_equal(layer.forward(x, train=False), x)


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm(rng, train):
    x = rng.standard_normal((6, 5)) * 3 + 2

    def make():
        bn = BatchNorm(5, dtype=np.float64)
        bn.params["gamma"][...] = rng.uniform(0.5, 2, 5)
        bn.params["beta"][...] = rng.standard_normal(5)
        bn.running_mean[...] = rng.standard_normal(5)
        bn.running_var[...] = rng.uniform(0.5, 2, 5)
        return bn

    check_layer(make, x, train=train)


def test_batchnorm_normalises_and_tracks_running_stats(rng):
    bn = BatchNorm(3, momentum=0.0, dtype=np.float64)
    x = rng.standard_normal((500, 3)) * [1, 5, 10] + [0, -3, 7]
    out = bn.forward(x, train=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean, x.mean(axis=0))
    # inference uses the running statistics: one sample gives the same result as in a batch
    single = bn.forward(x[:1], train=False)
    np.testing.assert_allclose(single, bn.forward(x, train=False)[:1])


def test_backward_before_forward_is_a_clear_error():
    for layer in (Dense(2, 2, np.random.default_rng(0)), ReLU(), Sigmoid(), Tanh(),
                  LeakyReLU(), Dropout(0.5, np.random.default_rng(0)), BatchNorm(2)):
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(np.ones((1, 2)))


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="dropout rate"):
        Dropout(1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="alpha"):
        LeakyReLU(-1)


def test_relu_is_max_of_x_and_0_without_touching_its_input(rng):
    x = rng.standard_normal((64, 33)).astype(np.float32)
    x[0, :3] = [0.0, -0.0, 1e-30]
    before = x.copy()
    out = ReLU().forward(x, train=True)
    assert out.dtype == np.float32 and np.array_equal(out, np.maximum(x, 0))
    assert np.array_equal(x, before)
