"""Optimisers drive a quadratic to its minimum; each update matches its formula."""
import numpy as np
import pytest

from nn.optim import (OPTIMIZERS, SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop, Schedule,
                      make_optimizer)

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


# ----- every update against its formula, written out ---------------------------------------------
# Each reference below is the textbook update in plain float64 NumPy, written independently of
# nn/optim.py (out of place, in the papers' notation). The optimisers run for several steps on two
# parameters of different shapes with gradients that change every step, so per-parameter state,
# step counts and bias corrections at t > 1 are all exercised. The hyperparameters are deliberately
# not the defaults (a swapped beta1/beta2 or rho/1-rho would go unnoticed at round values), and
# eps is large next to some gradients, so where eps sits in the formula changes the result.

LR, MU, RHO, BETA1, BETA2, EPS = 0.1, 0.7, 0.8, 0.8, 0.95, 1e-3


def reference_sgd(p, grads):
    for g in grads:
        p = p - LR * g
        yield p


def reference_momentum(p, grads):
    # heavy ball (Polyak 1964): v <- mu v - lr g;  p <- p + v
    v = np.zeros_like(p)
    for g in grads:
        v = MU * v - LR * g
        p = p + v
        yield p


def reference_nesterov(p, grads):
    # Sutskever et al. (2013), eq. 3-4: the gradient is taken at the look-ahead point theta + mu v,
    #     v <- mu v - lr grad f(theta + mu v);   theta <- theta + v.
    # nn stores the look-ahead point itself, p = theta + mu v (the form of Bengio et al. 2012 and of
    # PyTorch's nesterov=True), so the g it is handed is exactly grad f(theta + mu v), and its p
    # must equal theta + mu v after every step. Starting with v = 0, theta_0 = p_0.
    theta, v = p, np.zeros_like(p)
    for g in grads:
        v = MU * v - LR * g
        theta = theta + v
        yield theta + MU * v


def reference_adagrad(p, grads):
    # Duchi et al. (2011); eps outside the square root: p <- p - lr g / (sqrt(h) + eps)
    h = np.zeros_like(p)
    for g in grads:
        h = h + g * g
        p = p - LR * g / (np.sqrt(h) + EPS)
        yield p


def reference_rmsprop(p, grads):
    # Tieleman & Hinton (2012), lecture 6e; eps outside the square root, as for AdaGrad
    h = np.zeros_like(p)
    for g in grads:
        h = RHO * h + (1 - RHO) * g * g
        p = p - LR * g / (np.sqrt(h) + EPS)
        yield p


def reference_adam(p, grads):
    # Kingma & Ba (2015), Algorithm 1, with eps added to sqrt(v_hat) (the bias-corrected moment)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = BETA1 * m + (1 - BETA1) * g
        v = BETA2 * v + (1 - BETA2) * g * g
        m_hat = m / (1 - BETA1 ** t)
        v_hat = v / (1 - BETA2 ** t)
        p = p - LR * m_hat / (np.sqrt(v_hat) + EPS)
        yield p


FORMULAS = {
    "sgd": (lambda: SGD(LR), reference_sgd),
    "momentum": (lambda: Momentum(LR, MU), reference_momentum),
    "nesterov": (lambda: Nesterov(LR, MU), reference_nesterov),
    "adagrad": (lambda: AdaGrad(LR, eps=EPS), reference_adagrad),
    "rmsprop": (lambda: RMSprop(LR, RHO, eps=EPS), reference_rmsprop),
    "adam": (lambda: Adam(LR, BETA1, BETA2, eps=EPS), reference_adam),
}


def test_every_optimizer_has_a_written_out_formula():
    assert set(FORMULAS) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_updates_follow_the_written_out_formula(name, rng):
    n_steps = 6
    start = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    # gradients from about 1e-4 (where eps = 1e-3 dominates) to about 3, of both signs, new every step
    grads = [{key: rng.standard_normal(p.shape) * 10.0 ** rng.uniform(-4, 0.5, p.shape)
              for key, p in start.items()} for _ in range(n_steps)]
    make, reference = FORMULAS[name]
    opt = make()
    params = {key: p.copy() for key, p in start.items()}
    expected = {key: list(reference(start[key], [g[key] for g in grads])) for key in start}
    for t in range(n_steps):
        opt.step(params, grads[t])
        for key in params:
            np.testing.assert_allclose(params[key], expected[key][t], rtol=1e-12, atol=1e-15,
                                       err_msg=f"{name}, {key}, step {t + 1}")


def test_adam_bias_correction_makes_every_step_lr_for_a_constant_gradient():
    # for a constant g, m_hat = g and v_hat = g^2 at every t (not only t = 1), so each step is
    # lr * sign(g); without the correction the first steps would be (1-b1)/sqrt(1-b2) = 3.2 lr
    opt = Adam(lr=0.01)
    p = np.zeros(2)
    for t in range(1, 6):
        opt.step({"p": p}, {"p": np.array([5.0, -0.5])})
        np.testing.assert_allclose(p, [-0.01 * t, 0.01 * t], rtol=1e-5)


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
