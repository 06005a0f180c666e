"""The weight-initialisation experiment: what a deep stack does to a signal, forward and backward.

The classic experiment (Saito, "Deep Learning from Scratch", ch. 6.2): 1,000 standard-normal
inputs of width 100 go through 5 hidden layers of 100 units; one histogram per layer shows
where the activations end up. With weights of std 1, sigmoid units pile up at 0 and 1
(saturated); with std 0.01 they all say 0.5 (collapsed); with Xavier they stay spread; with
ReLU, He keeps them spread.

Here the stack is built from nn's own layers, so the experiment runs the real engine:

    x -> [Dense -> (BatchNorm) -> activation] x n_layers          a_i = output of block i

Forward: every block's output ``a_i`` is kept. BatchNorm runs in training mode (batch
statistics), as it would during the first training step.

Backward: we pretend the loss is L = sum(G * a_n) with G a fixed standard-normal array, so the
gradient arriving at the top is dL/da_n = G: "a unit-sized error signal". It is sent down
through every layer's own ``backward``, and the gradient arriving at each block's output,
dL/da_i, is kept. (These are gradients with respect to the activations; the weight
gradients dW_i = a_{i-1}.T @ dL/dz_i are summarised by their norm.)

Differences from the seed notebook: its weights had no bias (ours start at zero, so the
forward pass is the same); it cut every histogram to the range (0, 1), which hides tanh's
negative half and ReLU's large values; and it had no backward pass.

Also here: ``train_comparison``, which trains the same deep network on digits once per
initialisation, so the histograms can be checked against what actually learns.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .init import init_std
from .layers import ACTIVATIONS, BatchNorm, Dense, Layer, make_activation
from .metrics import OUTPUT_RANGE, saturated



@dataclass(frozen=True)
class InitChoice:
    """One way to draw the weights: an initialiser of ``nn.init`` and, for "normal", its std."""

    label: str
    init: str
    std: float | None = None

    def std_for(self, fan_in: int) -> float:
        """The weight std this choice gives a layer with ``fan_in`` inputs."""
        return init_std(self.init, fan_in, self.std)


# The four rows of the classic comparison, in the order the lesson tells them.
STANDARD_INITS = (InitChoice("std 1", "normal", 1.0), InitChoice("std 0.01", "normal", 0.01),
                  InitChoice("Xavier", "xavier"), InitChoice("He", "he"))


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything the experiment depends on. The defaults are the seed experiment exactly."""

    activation: str = "sigmoid"
    init: str = "normal"
    std: float | None = 1.0          # used only by init="normal"
    n_layers: int = 5
    units: int = 100
    batchnorm: bool = False
    seed: int = 0
    n_samples: int = 1000
    input_dim: int = 100
    bins: int = 30

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}")
        init_std(self.init, 1, self.std)        # checks the init name and, for "normal", the std
        for name, value, low, high in (("n_layers", self.n_layers, 1, 100), ("units", self.units, 1, 10_000),
                                       ("n_samples", self.n_samples, 2, 1_000_000),
                                       ("input_dim", self.input_dim, 1, 10_000), ("bins", self.bins, 1, 1000)):
            if not (isinstance(value, (int, np.integer)) and low <= value <= high):
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if not (isinstance(self.seed, (int, np.integer)) and self.seed >= 0):
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")

    def with_init(self, choice: InitChoice) -> "ExperimentConfig":
        """The same experiment with another initialisation."""
        return replace(self, init=choice.init, std=choice.std)


@dataclass(frozen=True)
class Histogram:
    """counts : (bins,) int64 over edges : (bins + 1,) float64 (np.histogram's convention:
    every bin is [left, right) except the last, which also holds its right edge)."""

    counts: np.ndarray
    edges: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        """(bins,) the middle of each bin."""
        return (self.edges[:-1] + self.edges[1:]) / 2

    @property
    def shares(self) -> np.ndarray:
        """(bins,) each bin's share of all values, in [0, 1]."""
        total = self.counts.sum()
        return self.counts / total if total else np.zeros(len(self.counts))


@dataclass(frozen=True)
class LayerStats:
    """Numbers for one block. ``saturated`` is NaN for ReLU-like activations (they have no
    upper limit); ``dead`` is the share of outputs exactly 0 (only ReLU makes many)."""

    mean: float          # of the activations a_i
    std: float           # of the activations a_i, over all samples and units
    saturated: float     # share of a_i near a limit of sigmoid/tanh
    dead: float          # share of a_i exactly zero
    grad_norm: float     # ||dL/da_i|| (Frobenius), the gradient arriving at this block's output
    dW_norm: float       # ||dL/dW_i|| (Frobenius) of this block's Dense layer


@dataclass
class ExperimentResult:
    """What ``run_experiment`` measured, one entry per block (layer 1 first).

    x           : (n_samples, input_dim) float32, the input
    activations : n_layers arrays (n_samples, units) float32, a_i
    gradients   : n_layers arrays (n_samples, units), dL/da_i (the last one is G)
    act_hists, grad_hists : n_layers Histograms each, all on the shared ranges below
    act_range, grad_range : (low, high) shared by every layer's histogram
    stats       : n_layers LayerStats
    """

    config: ExperimentConfig
    x: np.ndarray
    activations: list[np.ndarray]
    gradients: list[np.ndarray]
    act_range: tuple[float, float]
    grad_range: tuple[float, float]
    act_hists: list[Histogram]
    grad_hists: list[Histogram]
    stats: list[LayerStats]


# --------------------------------------------------------------------------- the experiment

def build_blocks(config: ExperimentConfig, rng: np.random.Generator,
                 dtype=np.float32) -> list[list[Layer]]:
    """The stack as blocks [Dense, (BatchNorm), activation], drawing weights from ``rng``."""
    blocks, fan_in = [], config.input_dim
    for _ in range(config.n_layers):
        block: list[Layer] = [Dense(fan_in, config.units, rng, config.init, config.std, dtype)]
        if config.batchnorm:
            block.append(BatchNorm(config.units, dtype=dtype))
        block.append(make_activation(config.activation))
        blocks.append(block)
        fan_in = config.units
    return blocks


def run_experiment(config: ExperimentConfig = ExperimentConfig()) -> ExperimentResult:
    """Forward the input through the stack, send G back down, and measure every block.

    Three independent random streams come from ``config.seed``: the input, the weights and G.
    So changing the init or the depth never changes the input, and two inits with the same
    seed draw the same standard-normal weights, only scaled differently.

    Runs in float32 like training does (twice as fast as float64 here). Even an exploding
    stack (std 10, 10 layers of 500 ReLUs: about 1e22) stays finite; statistics and norms are
    summed in float64, and histograms skip any value that does overflow.
    """
    x_seed, w_seed, g_seed = np.random.SeedSequence(config.seed).spawn(3)
    x = np.random.default_rng(x_seed).standard_normal((config.n_samples, config.input_dim), dtype=np.float32)
    blocks = build_blocks(config, np.random.default_rng(w_seed))

    activations, h = [], x
    with np.errstate(over="ignore", invalid="ignore"):
        for block in blocks:
            for layer in block:
                h = layer.forward(h, train=True)
            activations.append(h)

        # L = sum(G * a_n), so dL/da_n = G
        dout = np.random.default_rng(g_seed).standard_normal(h.shape, dtype=np.float32)
        gradients: list[np.ndarray] = [np.empty(0)] * len(blocks)
        for i in reversed(range(len(blocks))):
            gradients[i] = dout
            for layer in reversed(blocks[i][1:]):
                dout = layer.backward(dout)
            dout = blocks[i][0].backward(dout, need_dx=i > 0)

    act_range = activation_range(config.activation, activations)
    grad_range = gradient_range(gradients)
    stats = [LayerStats(mean=float(a.mean(dtype=np.float64)), std=float(a.std(dtype=np.float64)),
                        saturated=saturated_share(config.activation, a), dead=float(np.mean(a == 0)),
                        grad_norm=_norm(g), dW_norm=_norm(block[0].grads["W"]))
             for a, g, block in zip(activations, gradients, blocks)]
    return ExperimentResult(config, x, activations, gradients, act_range, grad_range,
                            histograms(activations, act_range, config.bins),
                            histograms(gradients, grad_range, config.bins), stats)


def compare_inits(config: ExperimentConfig = ExperimentConfig(),
                  inits: tuple[InitChoice, ...] = STANDARD_INITS) -> dict[str, ExperimentResult]:
    """The experiment once per initialisation (everything else as in ``config``), by label."""
    return {choice.label: run_experiment(config.with_init(choice)) for choice in inits}


def _norm(a: np.ndarray) -> float:
    """The Frobenius norm, summed in float64 (a float32 sum of squares overflows past 1e19)."""
    a = a.astype(np.float64, copy=False).ravel()
    return float(np.sqrt(np.dot(a, a))) if a.size else 0.0


# --------------------------------------------------------------------------- histograms and numbers

def activation_range(activation: str, arrays: list[np.ndarray]) -> tuple[float, float]:
    """The x-range every layer's activation histogram shares.

    sigmoid (0, 1) and tanh (-1, 1): their whole output range, so saturation shows at the edges.
    ReLU (0, max): starts at 0, so the zeros land in the first bin instead of being cut off.
    Leaky ReLU (min, max): its small negative outputs are shown too.
    """
    if activation in OUTPUT_RANGE:
        return OUTPUT_RANGE[activation]
    finite = [a[np.isfinite(a)] for a in arrays]
    hi = max((float(a.max()) for a in finite if a.size), default=1.0)
    lo = 0.0 if activation == "relu" else min((float(a.min()) for a in finite if a.size), default=0.0)
    lo = min(lo, 0.0)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def gradient_range(arrays: list[np.ndarray]) -> tuple[float, float]:
    """A range (-m, m) symmetric about 0 holding every finite gradient of every layer: on one
    shared axis a vanished gradient is a spike at 0 and an exploding one fills the axis."""
    m = max((float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0)) for a in arrays), default=0.0)
    return (-m, m) if m > 0 else (-1.0, 1.0)


def histograms(arrays: list[np.ndarray], value_range: tuple[float, float], bins: int = 30) -> list[Histogram]:
    """One Histogram per array (any shape; all values counted) over the same range and bins."""
    out = []
    for a in arrays:
        values = a.ravel()
        values = values[np.isfinite(values)]
        counts, edges = np.histogram(values, bins=bins, range=value_range)
        out.append(Histogram(counts.astype(np.int64), edges))
    return out


def saturated_share(activation: str, a: np.ndarray) -> float:
    """Share of a : (N, units) that is saturated (``metrics.saturated``) for sigmoid or tanh;
    NaN for activations without two limits (ReLU, leaky ReLU)."""
    if activation not in OUTPUT_RANGE:
        return float("nan")
    return float(np.mean(saturated(activation, a)))


# --------------------------------------------------------------------------- verdict

def verdict(result: ExperimentResult) -> str:
    """One word summing up the deepest layer: saturated / collapsed / spread for sigmoid and
    tanh, exploding / vanishing / stable for the ReLUs."""
    cfg, s = result.config, result.stats
    if cfg.activation in ("sigmoid", "tanh"):
        span = 1.0 if cfg.activation == "sigmoid" else 2.0
        if s[-1].saturated > 0.4:
            return "saturated"
        if s[-1].std < 0.05 * span:
            return "collapsed"
        return "spread"
    factor = growth(result)
    if factor > 1.5:
        return "exploding"
    if factor < 0.8:
        return "vanishing"
    return "stable"


def growth(result: ExperimentResult) -> float:
    """How much each layer multiplies the activations' std, measured from layer 1 to the last;
    with a single layer, the textbook factor std_w * sqrt(fan_in / 2) of a ReLU layer."""
    s = result.stats
    if len(s) > 1 and s[0].std > 0:
        return (s[-1].std / s[0].std) ** (1 / (len(s) - 1))
    return weight_std(result.config, result.config.input_dim) * math.sqrt(result.config.input_dim / 2)


def weight_std(cfg: ExperimentConfig, fan_in: int) -> float:
    return InitChoice("", cfg.init, cfg.std).std_for(fan_in)


# --------------------------------------------------------------------------- does it train?

@dataclass(frozen=True)
class TrainSettings:
    """A short training run: small enough for seconds, long enough for the classic result
    (std 0.01 stalls, Xavier and He learn). Plain SGD with momentum: an adaptive optimiser
    such as Adam rescales every gradient and would hide the difference between inits."""

    n_train: int = 2000
    n_val: int = 1000
    epochs: int = 8
    batch_size: int = 32
    optimizer: str = "momentum"
    lr: float = 0.01


@dataclass
class TrainCurve:
    """One training run. steps : (S,) fractional epochs, loss : (S,) the loss of each batch."""

    label: str
    steps: np.ndarray
    loss: np.ndarray
    final_loss: float        # mean training loss over the last epoch (NaN if it diverged)
    val_accuracy: float      # after training (NaN if it diverged)
    diverged: str | None
    seconds: float

    def smoothed(self, window: int = 20) -> np.ndarray:
        """(S,) the trailing mean of the last ``window`` batch losses."""
        if len(self.loss) == 0:
            return self.loss
        c = np.cumsum(np.insert(self.loss.astype(np.float64), 0, 0.0))
        idx = np.arange(1, len(self.loss) + 1)
        start = np.maximum(idx - window, 0)
        return (c[idx] - c[start]) / (idx - start)


def train_comparison(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                     activation: str = "relu", n_layers: int = 5, units: int = 100,
                     batchnorm: bool = False, inits: tuple[InitChoice, ...] = STANDARD_INITS[1:],
                     settings: TrainSettings = TrainSettings(), seed: int = 0,
                     on_progress: Callable[[int, int, str], None] | None = None) -> list[TrainCurve]:
    """Train the deep network (input -> n_layers x units -> 10 classes) once per init.

    x_train : (N, D) float32, y_train : (N,) int64; the first ``settings.n_train`` samples are
    used (and the first ``settings.n_val`` of x_val, y_val). Every run uses the same seed, so
    the runs differ only in the scale of their initial weights.
    on_progress(i, total, label) is called before run i (0-based), e.g. for a progress bar.
    """
    from .model import MLP, ModelConfig
    from .train import TrainConfig, Trainer

    xt, yt = x_train[:settings.n_train], y_train[:settings.n_train]
    xv, yv = x_val[:settings.n_val], y_val[:settings.n_val]
    n_classes = int(max(y_train.max(), y_val.max() if len(y_val) else 0)) + 1
    curves = []
    for i, choice in enumerate(inits):
        if on_progress is not None:
            on_progress(i, len(inits), choice.label)
        model_config = ModelConfig(input_dim=xt.shape[1], hidden=(units,) * n_layers, output_dim=n_classes,
                                   activation=activation, init=choice.init,
                                   init_std=choice.std if choice.std is not None else 0.01,
                                   batchnorm=batchnorm)
        train_config = TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size,
                                   optimizer=settings.optimizer, lr=settings.lr, seed=seed)
        trainer = Trainer(MLP(model_config, seed=seed), xt, yt, xv, yv, train_config)
        start = time.perf_counter()
        trainer.run()
        h = trainer.history
        done = trainer.diverged is None and len(h.train_loss) > 0
        curves.append(TrainCurve(
            label=choice.label, steps=np.asarray(h.batch_epoch, dtype=np.float64),
            loss=np.asarray(h.batch_loss, dtype=np.float64),
            final_loss=h.train_loss[-1] if done else math.nan,
            val_accuracy=h.val_acc[-1] if done and h.val_acc else math.nan,
            diverged=trainer.diverged, seconds=time.perf_counter() - start))
    return curves
