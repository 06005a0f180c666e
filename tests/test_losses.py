"""Every loss against central differences, and against its textbook definition."""
import numpy as np
import pytest

from nn.gradcheck import numerical_gradient, relative_error
from nn.losses import MSE, SigmoidBCE, SoftmaxCrossEntropy, softmax


def check_loss(loss, scores, y):
    f = lambda: loss.forward(scores, y)  # noqa: E731
    f()
    analytic = loss.backward()
    assert analytic.shape == scores.shape
    assert relative_error(analytic, numerical_gradient(f, scores)) < 1e-7


def test_softmax_ce_gradient(rng):
    check_loss(SoftmaxCrossEntropy(), rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6))


def test_softmax_ce_value_is_a_mean(rng):
    scores = rng.standard_normal((5, 3))
    y = rng.integers(0, 3, 5)
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(5), y]))
    assert SoftmaxCrossEntropy().forward(scores, y) == pytest.approx(expected)
    # doubling the batch with the same rows leaves a mean unchanged
    assert SoftmaxCrossEntropy().forward(np.vstack([scores, scores]), np.concatenate([y, y])) \
        == pytest.approx(expected)


def test_softmax_ce_is_stable_for_huge_scores():
    loss = SoftmaxCrossEntropy()
    value = loss.forward(np.array([[1000.0, 0.0, -1000.0]]), np.array([1]))
    assert value == pytest.approx(1000.0)
    assert np.all(np.isfinite(loss.backward()))
    np.testing.assert_allclose(softmax(np.array([[1000.0, 1000.0]])), [[0.5, 0.5]])


@pytest.mark.parametrize("k", [1, 3])
def test_mse_gradient(rng, k):
    check_loss(MSE(), rng.standard_normal((5, k)), rng.integers(0, max(k, 2), 5))


def test_mse_value(rng):
    scores = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    t = np.eye(3)[y]
    assert MSE().forward(scores, y) == pytest.approx(np.mean((scores - t) ** 2))


def test_sigmoid_bce_gradient(rng):
    check_loss(SigmoidBCE(), rng.standard_normal((7, 1)) * 4, rng.integers(0, 2, 7))


def test_sigmoid_bce_value_and_stability():
    z = np.array([[0.3], [-2.0], [800.0], [-800.0]])
    y = np.array([1, 0, 0, 1])
    p = 1 / (1 + np.exp(-z[:2, 0]))
    expected_first_two = -(np.log(p[0]) + np.log(1 - p[1]))
    value = SigmoidBCE().forward(z, y)
    assert value == pytest.approx((expected_first_two + 800 + 800) / 4)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        SoftmaxCrossEntropy().backward()
