"""Every neuron of a network fed 2-D points, one at a time: what it outputs over the plane, what
feeds it, and neurons switched off by hand.

    plane(bounds, 24, ("x1", "x2", "x1*x2"))     the grid's points and the inputs the net reads there
    decision_grid(model, bounds, 60, features)   class probabilities over the plane (any input features)
    neuron_outputs(model, x)                     per Dense layer, what each of its neurons outputs
    KeepOff(optimizer, model)                    an optimiser whose steps leave switched-off neurons off

A neuron is named by (layer, unit): ``layer`` counts the Dense layers from 0 (the last one is the
output layer) and ``unit`` is its column in that layer's W. Every number comes from the model's own
``forward``: ``neuron_outputs`` reads the outputs every layer keeps (``MLP.outputs``).
"""
from __future__ import annotations

import numpy as np

from .features import DEFAULT_FEATURES, expand
from .layers import Dense
from .model import MLP
from .optim import Optimizer


def plane(bounds: tuple[tuple[float, float], tuple[float, float]], resolution: int,
          features=DEFAULT_FEATURES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The resolution x resolution grid over ``bounds`` = ((x_min, x_max), (y_min, y_max)).

    Returns xs (R,), ys (R,) float32 and inputs (R*R, F) float32: the features of the point
    (xs[j], ys[i]) in row i*R + j (row i is one y value, as an image is laid out, bottom row first).
    """
    (x0, x1), (y0, y1) = bounds
    xs = np.linspace(x0, x1, resolution, dtype=np.float32)
    ys = np.linspace(y0, y1, resolution, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, expand(np.stack([gx.ravel(), gy.ravel()], axis=1), features)


def decision_grid(model: MLP, bounds, resolution: int = 60, features=DEFAULT_FEATURES
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class probabilities over the plane, as ``nn.metrics.decision_grid``, for a net that reads the
    input features ``features`` of each point: xs (R,), ys (R,), proba (R, R, C)."""
    xs, ys, inputs = plane(bounds, resolution, features)
    with np.errstate(over="ignore", invalid="ignore"):
        proba = model.predict_proba(inputs)
    return xs, ys, proba.reshape(resolution, resolution, -1)


def dense_indices(model: MLP) -> list[int]:
    """Where each Dense layer sits in ``model.layers`` (its parameters are ``layers.{i}.W``)."""
    return [i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]


def neuron_outputs(model: MLP, x: np.ndarray) -> list[np.ndarray]:
    """What every neuron outputs for the inputs x : (N, input_dim), in inference mode.

    Returns one (N, units) array per Dense layer. A hidden neuron's output is what the next Dense
    layer reads from it (after its activation, and batch norm if any); an output neuron's is what
    it says about its class: the probability (softmax, or sigmoid for a single output) for the
    cross-entropy losses, the score itself for squared error (trained towards 1 for its class, 0
    otherwise).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        scores = model.forward(x)
        at = dense_indices(model)
        outputs = [model.outputs[i - 1] for i in at[1:]]
        if model.config.loss == "mse":
            last = scores
        elif model.config.output_dim == 1:
            last = model.loss_fn.probabilities(scores)[:, 1:]
        else:
            last = model.loss_fn.probabilities(scores)
    return [*outputs, last]


class KeepOff:
    """An optimiser that keeps chosen hidden neurons switched off through training.

    A neuron is switched off by zeroing its outgoing weights (its row of the next layer's W), at
    once and again after every step of the wrapped optimiser, so nothing above it ever hears it
    again. It still computes (its picture still shows what it would say), and as the gradient
    reaching it is zero, its incoming weights stop learning (L2 decay aside). This works for any
    activation, where zeroing its input would not (sigmoid(0) = 0.5 still speaks), and needs no
    change to the layers or the training loop: the Trainer calls ``step`` as on any optimiser.

    ``lr`` and ``state`` are the wrapped optimiser's; ``inner`` is the optimiser itself.
    """

    def __init__(self, optimizer: Optimizer, model: MLP) -> None:
        self.inner = optimizer
        self._next_W = [model.layers[i].params["W"] for i in dense_indices(model)[1:]]
        self.off: set[tuple[int, int]] = set()

    @property
    def lr(self) -> float:
        return self.inner.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.inner.lr = value

    @property
    def state(self) -> dict:
        return self.inner.state

    def switch(self, layer: int, unit: int, off: bool) -> None:
        """Switch hidden neuron (layer, unit) off (its outgoing weights become 0) or back on (they
        stay 0 until training or a hand edit moves them)."""
        if not 0 <= layer < len(self._next_W) or not 0 <= unit < self._next_W[layer].shape[0]:
            raise ValueError(f"no hidden neuron ({layer}, {unit}): hidden layers have "
                             f"{[w.shape[0] for w in self._next_W]} neurons")
        if off:
            self.off.add((layer, unit))
        else:
            self.off.discard((layer, unit))
        self.apply()

    def apply(self) -> None:
        for layer, unit in self.off:
            self._next_W[layer][unit, :] = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.inner.step(params, grads)
        self.apply()
