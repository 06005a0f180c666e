"""Layers: each one is a forward computation plus the backward pass that differentiates it.

The contract every layer keeps (see STYLE.md):

    params : dict[str, ndarray]   trainable arrays, updated in place by the optimiser
    grads  : dict[str, ndarray]   same keys, overwritten by every backward
    forward(x, train=False) -> out      caches exactly what backward needs
    backward(dout) -> dx                 never mutates dout; dx has the shape of x

All arrays are whole mini-batches: x : (N, D). The dtype follows the input and the
parameters (float32 for training, float64 for gradient checks).
"""
from __future__ import annotations

import numpy as np

from .init import init_weights


class Layer:
    """Base class: a layer without parameters unless it sets some in ``__init__``."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _need(self, cached, what: str = "forward"):
        """The value ``forward`` cached, or a clear error when backward comes first."""
        if cached is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before {what}(): "
                               "run a forward pass on the batch first")
        return cached

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Dense(Layer):
    """Affine layer: out = x @ W + b.

    W : (fan_in, fan_out), b : (fan_out,). Backward, with dout = dL/dout : (N, fan_out):
        dW = x.T @ dout,  db = sum over the batch of dout,  dx = dout @ W.T
    """

    def __init__(self, fan_in: int, fan_out: int, rng: np.random.Generator,
                 init: str = "he", std: float | None = None, dtype=np.float32) -> None:
        super().__init__()
        self.params = {"W": init_weights(init, fan_in, fan_out, rng, std, dtype),
                       "b": np.zeros(fan_out, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._x = x
        out = x @ self.params["W"]
        out += self.params["b"]
        return out

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """``need_dx=False`` skips dx for the first layer, whose input is the data itself."""
        x = self._need(self._x)
        np.matmul(x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])
        return dout @ self.params["W"].T if need_dx else None

    def __repr__(self) -> str:
        return f"Dense({self.params['W'].shape[0]} -> {self.params['W'].shape[1]})"


class ReLU(Layer):
    """out = max(x, 0); the gradient passes where x > 0 and is zero elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._mask = x > 0
        # x * mask is max(x, 0) for every finite x, and twice as fast as np.maximum in float32
        return x * self._mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self._need(self._mask)


class LeakyReLU(Layer):
    """out = x for x > 0, alpha * x otherwise: a small slope keeps 'dead' units learning."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        if not 0 <= alpha < 1:
            raise ValueError(f"LeakyReLU alpha must be in [0, 1), got {alpha}")
        self.alpha = alpha
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._mask = x > 0
        return np.where(self._mask, x, x * x.dtype.type(self.alpha))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        mask = self._need(self._mask)
        return np.where(mask, dout, dout * dout.dtype.type(self.alpha))

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.alpha})"


class Sigmoid(Layer):
    """out = 1 / (1 + exp(-x)); d out / dx = out * (1 - out), so we cache the output."""

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._out = sigmoid(x)
        return self._out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._need(self._out)
        return dout * out * (1 - out)


class Tanh(Layer):
    """out = tanh(x); d out / dx = 1 - out^2."""

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self._out = np.tanh(x)
        return self._out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._need(self._out)
        return dout * (1 - out * out)


class Dropout(Layer):
    """Inverted dropout: while training, zero each unit with probability p and scale the
    survivors by 1 / (1 - p), so that at inference (no dropout) nothing needs rescaling."""

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if not train or self.p == 0:
            self._mask = np.ones((1, 1), dtype=x.dtype)    # backward of the identity
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self._mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - self.p))
        return x * self._mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self._need(self._mask)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy, 2015) over the features of a (N, D) batch.

    Training: normalise with the batch's mean and variance, and update running averages.
    Inference: normalise with the running averages, so one sample gives the same answer
    whatever batch it arrives in. Learnable scale ``gamma`` and shift ``beta``.
    """

    def __init__(self, dim: int, momentum: float = 0.9, eps: float = 1e-5,
                 dtype=np.float32) -> None:
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError(f"BatchNorm momentum must be in [0, 1), got {momentum}")
        self.momentum, self.eps = momentum, eps
        self.params = {"gamma": np.ones(dim, dtype=dtype), "beta": np.zeros(dim, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running_mean = np.zeros(dim, dtype=dtype)
        self.running_var = np.ones(dim, dtype=dtype)
        self._xhat: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if train:
            if x.shape[0] < 2:
                raise ValueError("BatchNorm needs at least 2 samples per training batch")
            mean = x.mean(axis=0)
            var = x.var(axis=0)
            m = self.momentum
            self.running_mean *= m
            self.running_mean += (1 - m) * mean
            self.running_var *= m
            self.running_var += (1 - m) * var
        else:
            mean, var = self.running_mean, self.running_var
        self._inv_std = 1 / np.sqrt(var + self.eps)
        self._xhat = (x - mean) * self._inv_std
        self._train = train
        return self._xhat * self.params["gamma"] + self.params["beta"]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        xhat = self._need(self._xhat)
        self.grads["gamma"][...] = np.sum(dout * xhat, axis=0)
        self.grads["beta"][...] = np.sum(dout, axis=0)
        dxhat = dout * self.params["gamma"]
        if not self._train:      # running statistics are constants
            return dxhat * self._inv_std
        # Batch statistics depend on every x in the batch:
        # dx = (1/N) * inv_std * (N*dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
        n = dout.shape[0]
        return (self._inv_std / n) * (n * dxhat - dxhat.sum(axis=0)
                                      - xhat * np.sum(dxhat * xhat, axis=0))

    def __repr__(self) -> str:
        return f"BatchNorm({self.params['gamma'].shape[0]})"


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function: never evaluates exp of a large positive number."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")


def make_activation(name: str) -> Layer:
    """A new activation layer by name (one of ACTIVATIONS)."""
    table = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}")
    return table[name]()
