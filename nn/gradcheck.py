"""Numerical gradients: the check that backpropagation is right.

Central differences:  df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h),  error O(h^2).
Run in float64: with float32 the rounding error of f swamps the difference for small h.

What a relative error between backprop and the numerical estimate means (``agreement``):

    below AGREE (1e-5)   the two agree to many digits: backprop is right
    up to BUG (1e-3)     close enough: usually a ReLU switching on or off between the two nudges
    above BUG            they disagree: backprop has a bug
"""
from __future__ import annotations

from typing import Callable

import numpy as np

AGREE, BUG = 1e-5, 1e-3
AGREEMENT = {"agrees": "agrees", "close": "close enough (usually a ReLU kink)",
             "disagrees": "disagrees: backprop has a bug"}


def partial_derivatives(f: Callable[[], float], x: np.ndarray, indices, h: float = 1e-5) -> np.ndarray:
    """d f / d x at the given flat ``indices`` of x, by central differences, perturbing ``x`` IN PLACE
    one entry at a time (each restored exactly afterwards).

    f : a function of no arguments that reads x (e.g. a closure running a forward pass).
    x : contiguous float64 array of any shape. Returns (len(indices),) float64.
    """
    flat = x.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be a contiguous array: it is perturbed in place")
    result = np.empty(len(indices), np.float64)
    for j, i in enumerate(indices):
        old = flat[i].copy()
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        result[j] = (f_plus - f_minus) / (2 * h)
    return result


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d f / d x by central differences, every entry of ``x`` (see ``partial_derivatives``)."""
    return partial_derivatives(f, x, range(x.size), h).reshape(x.shape)


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-6) -> float:
    """||a - b|| / max(||a|| + ||b||, floor): scale-free over the whole array.

    The floor keeps gradients that are exactly zero (a bias before batch norm, a dead ReLU)
    from turning the ~1e-11 rounding noise of the numerical estimate into a huge ratio.
    """
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), floor))


def check_model(model, x: np.ndarray, y: np.ndarray, l2: float = 0.0, h: float = 1e-5,
                max_entries: int = 40, seed: int = 0) -> dict[str, float]:
    """Relative error between backprop and numerical gradients for every parameter of ``model``.

    The model should be float64 (``MLP(config, dtype=np.float64)`` or ``model.copy(np.float64)``).
    Dropout masks are kept fixed by replaying the same random numbers for every evaluation. To stay fast on big layers, only
    ``max_entries`` randomly chosen entries of each array are compared.
    Returns {"layers.0.W": 3e-9, ...}.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float64)
    rng_state = model.dropout_rng.bit_generator.state

    def loss() -> float:
        model.dropout_rng.bit_generator.state = rng_state     # same dropout mask every time
        return model.loss(model.forward(x, train=True), y, l2)

    loss()
    model.backward(l2)
    analytic = {k: g.copy() for k, g in model.grads().items()}
    errors = {}
    for key, p in model.params().items():
        idx = rng.choice(p.size, size=min(max_entries, p.size), replace=False)
        num = partial_derivatives(loss, p, idx, h)
        errors[key] = relative_error(analytic[key].reshape(-1)[idx], num)
    return errors


def agreement(error: float) -> tuple[str, str]:
    """(kind, words) for a relative error: kind is "agrees", "close" or "disagrees" (see the
    module's docstring); words say it for a learner."""
    kind = "agrees" if error < AGREE else "close" if error < BUG else "disagrees"
    return kind, AGREEMENT[kind]
