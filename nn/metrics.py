"""What a training UI shows about a network, computed with NumPy only.

    confusion_matrix     how often class i was predicted as class j
    worst_mistakes       the wrongly classified samples the network was most sure about
    decision_grid        class probabilities over a grid of the 2-D input plane
    histogram            counts of values in equal bins, safe for NaN, inf and constant arrays
    hidden_activations   what each hidden layer outputs for a batch (inference mode)
    saturated            which sigmoid/tanh outputs sit so near a limit that the unit barely learns
    activation_health    the share of dead (ReLU) or saturated (sigmoid, tanh) units
    smooth               a debiased exponential moving average (TensorBoard's smoothing)
    RunningSmooth        the same, kept up to date as a live history grows
    thin                 which of n points to plot so that at most k remain

None of these changes a model's weights; the ones that run a forward pass overwrite the
``outputs`` a model keeps from its last forward pass, like any call to ``predict``.
"""
from __future__ import annotations

import numpy as np

from .layers import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) int64: entry [i, j] counts samples of true class i predicted as class j.

    y_true, y_pred : (N,) integers in [0, n_classes).
    """
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"need two label vectors of the same length, got {y_true.shape} and {y_pred.shape}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} holds labels outside [0, {n_classes})")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes
                       ).reshape(n_classes, n_classes)


def worst_mistakes(y_true: np.ndarray, proba: np.ndarray, limit: int = 24
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The misclassified samples, most confident first.

    y_true : (N,) int labels; proba : (N, C) class probabilities.
    Returns (index (K,), predicted class (K,), probability given to that class (K,)), K <= limit.
    """
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    confidence = proba[wrong, pred[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:limit]
    return order, pred[order], proba[order, pred[order]]


def decision_grid(model, bounds: tuple[tuple[float, float], tuple[float, float]],
                  resolution: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class probabilities of a 2-input model over a resolution x resolution grid.

    bounds : ((xmin, xmax), (ymin, ymax)), e.g. ``Dataset.bounds``.
    Returns xs (R,), ys (R,) and proba (R, R, C) with proba[i, j] at the point (xs[j], ys[i]):
    row i is one y value, as an image (or a plotly heatmap) is laid out.
    """
    if model.config.input_dim != 2:
        raise ValueError(f"a decision grid needs a model with 2 inputs, this one has {model.config.input_dim}")
    (x0, x1), (y0, y1) = bounds
    xs = np.linspace(x0, x1, resolution, dtype=np.float32)
    ys = np.linspace(y0, y1, resolution, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        proba = model.predict_proba(points)
    return xs, ys, proba.reshape(resolution, resolution, -1)


def histogram(values: np.ndarray, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """(counts (bins,), edges (bins + 1,)) of the finite entries of ``values``.

    A constant array gets a small interval around its value; an array with no finite entry
    gets zero counts over [-1, 1] rather than an error.
    """
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.zeros(bins, np.int64), np.linspace(-1.0, 1.0, bins + 1)
    low, high = float(v.min()), float(v.max())
    if high - low < 1e-12:
        pad = max(abs(low) * 0.01, 1e-3)
        low, high = low - pad, high + pad
    return np.histogram(v, bins=bins, range=(low, high))


def hidden_activations(model, x: np.ndarray) -> list[np.ndarray]:
    """What each hidden layer hands to the next Dense layer, for a batch x : (N, input_dim).

    Runs one forward pass in inference mode (dropout off, batch norm on its running statistics).
    Returns one (N, width) array per hidden layer.
    """
    model.forward(x)
    return hidden_outputs(model)


def hidden_outputs(model) -> list[np.ndarray]:
    """After a ``model.forward``: the output of each hidden block (Dense, then any BatchNorm,
    activation and Dropout), which is what the next Dense layer reads; one (N, width) array per
    hidden layer, the model's own buffers (copy what you keep: the next forward overwrites them)."""
    dense_at = [i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]
    # the output just before each Dense layer but the first is the previous hidden layer's output
    return [model.outputs[i - 1] for i in dense_at[1:]]


# A sigmoid/tanh unit counts as saturated when its output lies within this share of its
# output range from a limit: sigmoid below 0.05 or above 0.95, tanh beyond +-0.9. There the
# slope is under a fifth of its peak (sigmoid' = 0.0475 of 0.25, tanh' = 0.19 of 1).
SATURATION_MARGIN = 0.05
OUTPUT_RANGE = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def saturated(activation: str, a: np.ndarray) -> np.ndarray:
    """Boolean mask of the outputs ``a`` of a sigmoid or tanh layer within SATURATION_MARGIN of a limit."""
    lo, hi = OUTPUT_RANGE[activation]
    margin = SATURATION_MARGIN * (hi - lo)
    return (a < lo + margin) | (a > hi - margin)


_DEAD_OR_SATURATED = {
    # activation layer type -> (what we call a unit that stopped learning, test on its outputs)
    ReLU: ("dead", lambda a: a <= 0),
    LeakyReLU: ("dead", lambda a: a <= 0),
    Sigmoid: ("saturated", lambda a: saturated("sigmoid", a)),
    Tanh: ("saturated", lambda a: saturated("tanh", a)),
}


def activation_health(model, activations: list[np.ndarray]) -> list[tuple[str, float]]:
    """For each hidden layer, (kind, share of its units that pass (almost) no gradient).

    kind is "dead" for ReLU-like layers (a unit that outputs 0 for every sample in the batch)
    and "saturated" for sigmoid and tanh (outputs pinned near the ends of the range for more
    than 90% of the samples, where the slope is ~0).
    activations : the list ``hidden_activations`` returned for the same model.
    """
    kinds = [type(layer) for layer in model.layers
             if not isinstance(layer, (Dense, BatchNorm, Dropout))]
    result = []
    for kind, acts in zip(kinds, activations):
        name, stuck = _DEAD_OR_SATURATED[kind]
        per_unit = stuck(acts).mean(axis=0)            # share of samples in which a unit is stuck
        threshold = 1.0 if name == "dead" else 0.9
        result.append((name, float(np.mean(per_unit >= threshold))))
    return result


def smooth(values, weight: float = 0.9) -> np.ndarray:
    """Exponential moving average, debiased as in Adam and TensorBoard.

    s_t = weight * s_{t-1} + (1 - weight) * v_t with s_0 = 0, reported as s_t / (1 - weight^t),
    so the first points are not pulled towards zero.
    values : (T,) finite numbers (one NaN makes every later point NaN). Returns (T,) float64.
    """
    running = RunningSmooth(weight)
    running.extend(values)
    return running.values.copy()


class RunningSmooth:
    """``smooth`` of a series that keeps growing (a live training history), updated with only the
    new values: redrawing a chart several times a second stays O(new points), not O(all points).

        r = RunningSmooth(0.9); r.extend(first); r.extend(more)
        r.values  ==  smooth(first + more, 0.9)       (a view; valid until the next extend)
    """

    def __init__(self, weight: float) -> None:
        if not 0 <= weight < 1:
            raise ValueError(f"weight must be in [0, 1), got {weight}")
        self.weight = weight
        self._carry = 0.0                          # the last raw (not debiased) s_t
        self._out = np.empty(256)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def values(self) -> np.ndarray:
        return self._out[:self._n]

    def extend(self, values) -> None:
        v = np.asarray(values, np.float64).ravel()
        if v.size == 0:
            return
        if self._n + v.size > self._out.size:
            grown = np.empty(max(2 * self._out.size, self._n + v.size))
            grown[:self._n] = self._out[:self._n]
            self._out = grown
        w, n = self.weight, self._n
        out = self._out[n:n + v.size]
        if w == 0:
            out[:] = v
        else:
            # a loop in Python is too slow for 10^5 batches; the closed form is a weighted cumulative
            # sum s_t = w^t s_0 + (1 - w) sum_k w^(t-k) v_k, in chunks so that w^-k cannot overflow
            chunk = max(1, int(50 / max(-np.log10(w), 1e-3)))     # w^-chunk <= 1e50
            carry = self._carry
            for start in range(0, v.size, chunk):
                part = v[start:start + chunk]
                w_pow = w ** np.arange(1, part.size + 1)
                raw = w_pow * (carry + (1 - w) * np.cumsum(part / w_pow))
                out[start:start + part.size] = raw
                carry = raw[-1]
            self._carry = carry
            out /= 1 - w ** np.arange(n + 1, n + v.size + 1)      # w^t underflows to 0: no bias left
        self._n += v.size


def thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of n points, evenly spread, always keeping the last."""
    if n <= max_points:
        return np.arange(n)
    idx = np.linspace(0, n - 1, max_points).round().astype(np.int64)
    return np.unique(idx)
