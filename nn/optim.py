"""Optimisers and learning-rate schedules.

Every optimiser has one contract:

    opt.lr                      the learning rate, which may be changed between steps
    opt.step(params, grads)     update every array of ``params`` IN PLACE from ``grads``

``params`` and ``grads`` are dicts with the same keys (``"layers.0.W"``...). Updating in place
matters: the layers hold references to these arrays, so ``p = p - lr * g`` would leave the
network with its old weights. Per-parameter state (velocity, moments) is created on first use.
"""
from __future__ import annotations

import math

import numpy as np


class Optimizer:
    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.state: dict[str, dict[str, np.ndarray]] = {}

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"learning rate must be > 0, got {value}")
        self._lr = float(value)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key, p in params.items():
            if key not in self.state:
                self.state[key] = self._new_state(p)
            self._update(p, grads[key], self.state[key])

    def _new_state(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def _update(self, p: np.ndarray, g: np.ndarray, s: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def _check(name: str, value: float, low: float, high: float) -> float:
    if not (math.isfinite(value) and low <= value < high):
        raise ValueError(f"{name} must be in [{low}, {high}), got {value}")
    return float(value)


class SGD(Optimizer):
    """p <- p - lr * g"""

    def _update(self, p, g, s):
        p -= p.dtype.type(self.lr) * g


class Momentum(Optimizer):
    """Heavy ball: v <- mu * v - lr * g;  p <- p + v"""

    def __init__(self, lr: float, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)

    def _new_state(self, p):
        return {"v": np.zeros_like(p)}

    def _update(self, p, g, s):
        v = s["v"]
        v *= p.dtype.type(self.momentum)
        v -= p.dtype.type(self.lr) * g
        p += v


class Nesterov(Momentum):
    """Nesterov momentum, in the form that needs only the gradient at p (Bengio et al. 2012):
    v_new = mu * v - lr * g;  p <- p - mu * v + (1 + mu) * v_new"""

    def _update(self, p, g, s):
        v = s["v"]
        mu = p.dtype.type(self.momentum)
        p -= mu * v
        v *= mu
        v -= p.dtype.type(self.lr) * g
        p += (1 + mu) * v


class AdaGrad(Optimizer):
    """h <- h + g^2;  p <- p - lr * g / (sqrt(h) + eps): big past gradients shrink the step."""

    def __init__(self, lr: float, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.eps = eps

    def _new_state(self, p):
        return {"h": np.zeros_like(p)}

    def _update(self, p, g, s):
        h = s["h"]
        h += g * g
        p -= p.dtype.type(self.lr) * g / (np.sqrt(h) + p.dtype.type(self.eps))


class RMSprop(Optimizer):
    """h <- rho * h + (1 - rho) * g^2;  p <- p - lr * g / (sqrt(h) + eps): AdaGrad that forgets."""

    def __init__(self, lr: float, rho: float = 0.9, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.rho = _check("rho", rho, 0.0, 1.0)
        self.eps = eps

    def _new_state(self, p):
        return {"h": np.zeros_like(p)}

    def _update(self, p, g, s):
        h = s["h"]
        rho = p.dtype.type(self.rho)
        h *= rho
        h += (1 - rho) * g * g
        p -= p.dtype.type(self.lr) * g / (np.sqrt(h) + p.dtype.type(self.eps))


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, Algorithm 1):

        m <- b1 m + (1 - b1) g          first moment (mean of g)
        v <- b2 v + (1 - b2) g^2        second moment (uncentred variance of g)
        m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)     bias correction: m and v start at 0
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1 = _check("beta1", beta1, 0.0, 1.0)
        self.beta2 = _check("beta2", beta2, 0.0, 1.0)
        self.eps = eps

    def _new_state(self, p):
        return {"m": np.zeros_like(p), "v": np.zeros_like(p), "t": np.zeros((), np.int64),
                "tmp": np.empty_like(p)}

    def _update(self, p, g, s):
        # every line is one pass over the array, in place: ``tmp`` is the only scratch space
        m, v, tmp = s["m"], s["v"], s["tmp"]
        s["t"] += 1
        t = int(s["t"])
        f = p.dtype.type
        m *= f(self.beta1)
        np.multiply(g, f(1 - self.beta1), out=tmp)
        m += tmp
        v *= f(self.beta2)
        np.multiply(g, g, out=tmp)
        tmp *= f(1 - self.beta2)
        v += tmp
        # bias correction, written out: step = lr * m_hat / (sqrt(v_hat) + eps) with
        # m_hat = m / c1, v_hat = v / c2, c1 = 1 - b1^t, c2 = 1 - b2^t. Multiplying the fraction
        # above and below by sqrt(c2) gives the same step with the corrections on two scalars
        # (the paper's "more efficient order", section 2, with its eps_hat = eps * sqrt(c2)):
        #     step = (lr * sqrt(c2) / c1) * m / (sqrt(v) + eps * sqrt(c2))
        c1 = 1 - self.beta1 ** t
        c2 = 1 - self.beta2 ** t
        np.sqrt(v, out=tmp)
        tmp += f(self.eps * math.sqrt(c2))
        np.divide(m, tmp, out=tmp)
        tmp *= f(self.lr * math.sqrt(c2) / c1)
        p -= tmp


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


def make_optimizer(name: str, lr: float, momentum: float = 0.9, beta1: float = 0.9,
                   beta2: float = 0.999, rho: float = 0.9) -> Optimizer:
    """A new optimiser by name; settings it does not use are ignored."""
    if name == "sgd":
        return SGD(lr)
    if name == "momentum":
        return Momentum(lr, momentum)
    if name == "nesterov":
        return Nesterov(lr, momentum)
    if name == "adagrad":
        return AdaGrad(lr)
    if name == "rmsprop":
        return RMSprop(lr, rho)
    if name == "adam":
        return Adam(lr, beta1, beta2)
    raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")


SCHEDULES = ("constant", "step", "cosine")


class Schedule:
    """A learning-rate multiplier as a function of training progress in (fractional) epochs.

    constant  1
    step      gamma ** floor(epoch / step_epochs)        e.g. halve every 5 epochs
    cosine    min_factor + (1 - min_factor) * (1 + cos(pi * epoch / total_epochs)) / 2
    """

    def __init__(self, name: str = "constant", total_epochs: float = 1.0,
                 step_epochs: float = 5.0, gamma: float = 0.5, min_factor: float = 0.0) -> None:
        if name not in SCHEDULES:
            raise ValueError(f"unknown schedule {name!r}: choose one of {', '.join(SCHEDULES)}")
        if step_epochs <= 0:
            raise ValueError(f"step_epochs must be > 0, got {step_epochs}")
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        if total_epochs <= 0:
            raise ValueError(f"total_epochs must be > 0, got {total_epochs}")
        self.name, self.total_epochs = name, total_epochs
        self.step_epochs, self.gamma, self.min_factor = step_epochs, gamma, min_factor

    def factor(self, epoch: float) -> float:
        if self.name == "step":
            return self.gamma ** math.floor(epoch / self.step_epochs)
        if self.name == "cosine":
            progress = min(epoch / self.total_epochs, 1.0)
            return self.min_factor + (1 - self.min_factor) * (1 + math.cos(math.pi * progress)) / 2
        return 1.0
