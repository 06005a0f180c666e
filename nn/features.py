"""Input features for 2-D data: besides x1 and x2, the net may be fed x1², x2², x1·x2, sin x1, sin x2.

A good feature can replace a hidden layer: x1² + x2² separates a ring from a disc with one neuron,
and x1·x2 does the same for XOR's quadrants.

    expand(x, ("x1", "x2", "x1*x2"))      (N, 2) points -> (N, 3) inputs for the net

Columns come in the order the names are given, so a model trained on a feature list must be fed that
same list. ``LABELS`` has each feature's name as the page shows it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

_COMPUTE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1*x2": lambda x1, x2: x1 * x2,
    "sin x1": lambda x1, x2: np.sin(x1),
    "sin x2": lambda x1, x2: np.sin(x2),
}

FEATURES: tuple[str, ...] = tuple(_COMPUTE)
DEFAULT_FEATURES: tuple[str, ...] = ("x1", "x2")
LABELS: dict[str, str] = {"x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1*x2": "x₁·x₂",
                          "sin x1": "sin(x₁)", "sin x2": "sin(x₂)"}


def check_features(names) -> tuple[str, ...]:
    """``names`` as a tuple if it is a non-empty list of distinct features, else a ValueError saying why."""
    if isinstance(names, str):
        raise ValueError(f"features must be a list of names such as ('x1', 'x2'), got the string {names!r}")
    names = tuple(names)
    if not names:
        raise ValueError(f"choose at least one input feature from {', '.join(FEATURES)}")
    unknown = [n for n in names if n not in _COMPUTE]
    if unknown:
        raise ValueError(f"unknown feature {unknown[0]!r}: choose from {', '.join(FEATURES)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"feature {repeated[0]!r} is chosen twice: each may be used once")
    return names


def expand(x: np.ndarray, names=DEFAULT_FEATURES) -> np.ndarray:
    """The features ``names`` of 2-D points, in that order.

    x : (N, 2) points (x1, x2). Returns (N, len(names)) float32.
    """
    names = check_features(names)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"expected 2-D points of shape (N, 2), got shape {x.shape}")
    x1, x2 = x[:, 0].astype(np.float64), x[:, 1].astype(np.float64)
    out = np.empty((len(x), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        out[:, j] = _COMPUTE[name](x1, x2)
    return out
