"""Optimisers drive a quadratic to its minimum; each update matches its formula."""
import numpy as np
import pytest

from nn.optim import OPTIMIZERS, Adam, Momentum, Schedule, make_optimizer

SETTINGS = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5, "rmsprop": 0.02, "adam": 0.05}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_minimises_an_ill_conditioned_quadratic(name):
    # f(p) = 0.5 * sum(a * (p - target)^2), minimum at target
    a = np.array([1.0, 4.0, 0.5])
    target = np.array([1.0, -2.0, 3.0])
    p = np.zeros(3)
    params = {"p": p}
    opt = make_optimizer(name, SETTINGS[name])
    for _ in range(2000):
        opt.step(params, {"p": a * (p - target)})
    assert params["p"] is p, "updates must happen in place"
    np.testing.assert_allclose(p, target, atol=1e-2)


def test_momentum_formula():
    opt = Momentum(lr=0.1, momentum=0.9)
    p = np.array([1.0])
    opt.step({"p": p}, {"p": np.array([2.0])})       # v = -0.2
    opt.step({"p": p}, {"p": np.array([2.0])})       # v = 0.9 * -0.2 - 0.2 = -0.38
    assert p[0] == pytest.approx(1.0 - 0.2 - 0.38)


def test_adam_first_step_is_lr_times_sign():
    # with bias correction, m_hat = g and v_hat = g^2 at t = 1, so the step is lr * g/|g|
    opt = Adam(lr=0.01)
    p = np.array([0.0, 0.0])
    opt.step({"p": p}, {"p": np.array([5.0, -0.001])})
    np.testing.assert_allclose(p, [-0.01, 0.01], rtol=1e-4)


def test_learning_rate_can_change_between_steps():
    opt = make_optimizer("sgd", 0.1)
    p = np.array([0.0])
    opt.step({"p": p}, {"p": np.array([1.0])})
    opt.lr = 0.5
    opt.step({"p": p}, {"p": np.array([1.0])})
    assert p[0] == pytest.approx(-0.6)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_bad_learning_rate_is_rejected(bad):
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        make_optimizer("adam", bad)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="momentum"):
        make_optimizer("momentum", 0.1, momentum=1.5)
    with pytest.raises(ValueError, match="beta2"):
        make_optimizer("adam", 0.1, beta2=1.0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("lbfgs", 0.1)


def test_schedules():
    assert Schedule("constant").factor(7.3) == 1.0
    step = Schedule("step", step_epochs=2, gamma=0.5)
    assert [step.factor(e) for e in (0, 1.9, 2, 4.5)] == [1, 1, 0.5, 0.25]
    cos = Schedule("cosine", total_epochs=10, min_factor=0.0)
    assert cos.factor(0) == 1.0
    assert cos.factor(5) == pytest.approx(0.5)
    assert cos.factor(10) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unknown schedule"):
        Schedule("linear")
