"""Weight initialisers.

The scale of the initial weights decides whether a signal survives a deep stack of layers:
too small and every unit outputs the same thing, too large and sigmoid/tanh units saturate.

    normal   N(0, std^2) with a fixed std (the classic 1.0 and 0.01 of the seed notebooks)
    xavier   N(0, 1/fan_in)  Glorot & Bengio (2010): keeps the variance of sigmoid/tanh nets stable
    he       N(0, 2/fan_in)  He et al. (2015): ReLU zeroes half its input, so double the variance
"""
from __future__ import annotations

import numpy as np

INITS = ("normal", "xavier", "he")


def init_std(name: str, fan_in: int, std: float | None = None) -> float:
    """The standard deviation initialiser ``name`` uses for a layer with ``fan_in`` inputs."""
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    if name == "normal":
        if std is None or not np.isfinite(std) or std <= 0:
            raise ValueError(f"init 'normal' needs a std > 0, got {std}")
        return float(std)
    if name == "xavier":
        return float(np.sqrt(1.0 / fan_in))
    if name == "he":
        return float(np.sqrt(2.0 / fan_in))
    raise ValueError(f"unknown init {name!r}: choose one of {', '.join(INITS)}")


def init_weights(name: str, fan_in: int, fan_out: int, rng: np.random.Generator,
                 std: float | None = None, dtype=np.float32) -> np.ndarray:
    """A new weight matrix W : (fan_in, fan_out) drawn from N(0, init_std(name)^2)."""
    scale = init_std(name, fan_in, std)
    return (rng.standard_normal((fan_in, fan_out)) * scale).astype(dtype)
