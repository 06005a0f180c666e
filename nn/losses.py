"""Loss functions. Each is a small object:

    forward(scores, y) -> float      the loss, always a MEAN over the batch
    backward() -> dscores            dL/dscores for the batch seen by the last forward

scores are the network's raw outputs (logits): the final activation (softmax or sigmoid)
lives inside the loss, because fusing them gives a stable loss and a simple gradient.
"""
from __future__ import annotations

import numpy as np

from .layers import sigmoid


class Loss:
    def __init__(self) -> None:
        self._cache: tuple | None = None

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C) for the given scores."""
        raise NotImplementedError

    def _need(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward()")
        return self._cache


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of scores : (N, C); subtracting the row max avoids overflow."""
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    e /= e.sum(axis=1, keepdims=True)
    return e


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, fused.

    scores : (N, C) logits, y : (N,) integer labels in [0, C).
    L = -(1/N) sum_n log softmax(scores_n)[y_n], computed as logsumexp - score_y (stable).
    dL/dscores = (softmax(scores) - onehot(y)) / N
    """

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        n = scores.shape[0]
        z = scores - scores.max(axis=1, keepdims=True)
        logsumexp = np.log(np.exp(z).sum(axis=1))
        loss = float(np.sum(logsumexp - z[np.arange(n), y])) / n
        self._cache = (z, logsumexp, y)
        return loss

    def backward(self) -> np.ndarray:
        z, logsumexp, y = self._need()
        n = z.shape[0]
        dscores = np.exp(z - logsumexp[:, None])      # softmax, reusing the forward's work
        dscores[np.arange(n), y] -= 1
        dscores /= n
        return dscores

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        return softmax(scores)


class MSE(Loss):
    """Mean squared error over every output of every sample.

    scores : (N, K). y : (N,) integer labels (one-hot encoded when K > 1, used as the target
    value when K == 1) or (N, K) float targets.
    L = mean((scores - t)^2),  dL/dscores = 2 (scores - t) / (N K)
    """

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        t = _targets(scores, y)
        diff = scores - t
        self._cache = (diff,)
        return float(np.mean(diff * diff))

    def backward(self) -> np.ndarray:
        (diff,) = self._need()
        return diff * diff.dtype.type(2 / diff.size)

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        if scores.shape[1] == 1:
            p = np.clip(scores[:, 0], 0, 1)
            return np.stack([1 - p, p], axis=1)
        p = np.clip(scores, 0, None) + 1e-12
        return p / p.sum(axis=1, keepdims=True)


class SigmoidBCE(Loss):
    """Sigmoid followed by binary cross-entropy, fused: for single-output nets such as XOR.

    scores : (N, 1) logits z, y : (N,) labels in {0, 1}.
    L = mean(max(z, 0) - z*y + log(1 + exp(-|z|)))   (stable for any z)
    dL/dz = (sigmoid(z) - y) / N
    """

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        if scores.shape[1] != 1:
            raise ValueError(f"sigmoid BCE expects one output per sample, got {scores.shape[1]}")
        z = scores[:, 0]
        t = y.astype(scores.dtype)
        self._cache = (z, t)
        return float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))

    def backward(self) -> np.ndarray:
        z, t = self._need()
        return ((sigmoid(z) - t) / z.shape[0])[:, None]

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        p = sigmoid(scores[:, 0])
        return np.stack([1 - p, p], axis=1)


def _targets(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Regression targets shaped like scores : (N, K) from labels or targets."""
    if y.ndim == 2:
        return y.astype(scores.dtype)
    if scores.shape[1] == 1:
        return y.astype(scores.dtype)[:, None]
    t = np.zeros_like(scores)
    t[np.arange(len(y)), y] = 1
    return t


LOSSES = ("softmax_ce", "mse", "sigmoid_bce")


def make_loss(name: str) -> Loss:
    """A new loss by name (one of LOSSES)."""
    table = {"softmax_ce": SoftmaxCrossEntropy, "mse": MSE, "sigmoid_bce": SigmoidBCE}
    if name not in table:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}")
    return table[name]()
