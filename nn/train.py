"""The training loop, as steps a UI can drive (``python -m nn.train`` is its command line, in nn/cli.py).

A ``Trainer`` owns the optimiser, the shuffling and the history of one run. A caller
advances it a few batches at a time (``step``), draws what it likes from ``history`` in
between, may change the learning rate (``set_lr``), and simply stops calling to pause.
Same seed, same data, same config: the same weights, bit for bit.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Callable

import numpy as np

from .layers import Dense
from .model import MLP
from .optim import Schedule, make_optimizer
from .settings import check


@dataclass(frozen=True)
class TrainConfig:
    """How to train (the model's own shape lives in ModelConfig)."""

    epochs: int = 20
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 0.01
    momentum: float = 0.9         # momentum, nesterov
    beta1: float = 0.9            # adam
    beta2: float = 0.999          # adam
    rho: float = 0.9              # rmsprop
    schedule: str = "constant"
    step_epochs: int = 10         # schedule "step": multiply by gamma every step_epochs
    gamma: float = 0.5
    l2: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        # names, ranges and messages come from the one table of settings (nn/settings.py)
        for f in fields(self):
            object.__setattr__(self, f.name, check(f.name, getattr(self, f.name)))


@dataclass
class History:
    """What happened so far. Per batch: loss, accuracy, learning rate, gradient norms;
    per epoch: mean train loss/accuracy over the epoch and validation loss/accuracy."""

    batch_loss: list[float] = field(default_factory=list)
    batch_acc: list[float] = field(default_factory=list)
    batch_epoch: list[float] = field(default_factory=list)   # fractional epoch of each batch
    batch_lr: list[float] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)   # per Dense layer
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)       # cumulative training time


class Trainer:
    """Train ``model`` on (x_train, y_train), validating on (x_val, y_val) after each epoch.

    x_* : (N, D) float32, y_* : (N,) int64.
    augment : optional ``f(x_batch, rng) -> x_batch`` applied to every training batch
    (x_batch is a buffer the next batch overwrites: copy it to keep it).

    Per batch, the Trainer adds only a little to the engine's own work (model.train_step and
    optimizer.step): it gathers the shuffled batch into one buffer it reuses, and takes each
    Dense layer's gradient norm with one BLAS dot product, which is also the check that no
    gradient became NaN or infinite. benchmarks/train_throughput.py measures the difference.
    """

    def __init__(self, model: MLP, x_train: np.ndarray, y_train: np.ndarray,
                 x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                 config: TrainConfig = TrainConfig(),
                 augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None):
        if len(x_train) != len(y_train) or len(x_train) == 0:
            raise ValueError(f"need as many labels as samples (> 0), got {len(x_train)} and {len(y_train)}")
        if model.config.batchnorm and min(config.batch_size, len(x_train)) < 2:
            raise ValueError("batch norm needs batches of at least 2 samples")
        self.model, self.config, self.augment = model, config, augment
        self.x_train = np.asarray(x_train, model.dtype)
        self.y_train = np.asarray(y_train, np.int64)
        self.x_val = None if x_val is None else np.asarray(x_val, model.dtype)
        self.y_val = None if y_val is None else np.asarray(y_val, np.int64)
        shuffle_seed, augment_seed = np.random.SeedSequence([config.seed, 1]).spawn(2)
        self.shuffle_rng = np.random.default_rng(shuffle_seed)
        self.augment_rng = np.random.default_rng(augment_seed)
        self.optimizer = make_optimizer(config.optimizer, config.lr, config.momentum,
                                        config.beta1, config.beta2, config.rho)
        self.base_lr = config.lr
        self.schedule = Schedule(config.schedule, config.epochs, config.step_epochs,
                                 config.gamma, min_factor=0.01)
        self.history = History()
        self._dense_names = [f"{place} ({layer.params['W'].shape[0]}→{layer.params['W'].shape[1]})"
                             for place, layer in zip(model.layer_places(), model.layers) if isinstance(layer, Dense)]
        self.history.grad_norms = {name: [] for name in self._dense_names}
        self.epoch = 0            # completed epochs
        self.batch = 0            # batches done in the current epoch
        self.samples_seen = 0
        self.train_seconds = 0.0
        self.diverged: str | None = None
        self._order = self.shuffle_rng.permutation(len(self.x_train))
        # every batch is gathered into this buffer (the last, shorter one into its first rows)
        self._x_batch = np.empty((min(config.batch_size, len(self.x_train)), self.x_train.shape[1]),
                                 model.dtype)
        self._epoch_loss = self._epoch_correct = 0.0
        self._epoch_seen = 0
        # live references to every parameter and gradient array (the layers update them in place)
        self._params, self._grads = model.params(), model.grads()
        self._dW = [d.grads["W"] for d in model.dense_layers]

    # ----- state ----------------------------------------------------------------------------
    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.x_train) / self.config.batch_size)

    @property
    def done(self) -> bool:
        """True when every epoch has run or training diverged."""
        return self.diverged is not None or self.epoch >= self.config.epochs

    @property
    def progress(self) -> float:
        """Epochs completed, fractional: 2.5 = half-way through the third epoch."""
        return self.epoch + self.batch / self.batches_per_epoch

    @property
    def lr(self) -> float:
        """The learning rate the next batch will use (base rate times the schedule)."""
        return self.base_lr * self.schedule.factor(self.progress)

    def set_lr(self, lr: float) -> None:
        """Change the base learning rate; takes effect from the next batch."""
        self.optimizer.lr = lr         # validates
        self.base_lr = float(lr)

    @property
    def next_batch(self) -> np.ndarray:
        """(B,) the indices into x_train of the batch the next step trains on."""
        bs = self.config.batch_size
        idx = self._order[self.batch * bs:(self.batch + 1) * bs]
        if self.model.config.batchnorm and len(idx) < 2:    # a 1-sample tail has no variance
            idx = self._order[-2:]
        return idx

    @property
    def samples_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds > 0 else 0.0

    # ----- training -------------------------------------------------------------------------
    def step(self, max_batches: int = 1, max_seconds: float | None = None) -> int:
        """Train up to ``max_batches`` batches (fewer at the end of training, on divergence,
        or once ``max_seconds`` of training time have passed). Returns how many ran."""
        ran = 0
        start = time.perf_counter()
        while ran < max_batches and not self.done:
            self._train_batch()
            ran += 1
            if max_seconds is not None and time.perf_counter() - start >= max_seconds:
                break
        return ran

    def run_epoch(self) -> int:
        """Train to the end of the current epoch."""
        return self.step(self.batches_per_epoch - self.batch)

    def run(self, on_epoch: Callable[["Trainer"], None] | None = None) -> History:
        """Train every remaining epoch, calling ``on_epoch(self)`` after each."""
        while not self.done:
            self.run_epoch()
            if on_epoch is not None:
                on_epoch(self)
        return self.history

    def _train_batch(self) -> None:
        t0 = time.perf_counter()
        idx = self.next_batch
        # mode="clip" (the indices are always valid) lets np.take write straight into the buffer;
        # the default mode would gather into a temporary array first
        x = np.take(self.x_train, idx, axis=0, out=self._x_batch[:len(idx)], mode="clip")
        y = self.y_train[idx]
        if self.augment is not None:
            x = self.augment(x, self.augment_rng)
        lr = self.lr
        model = self.model
        with np.errstate(over="ignore", invalid="ignore"):     # divergence is reported below
            loss, scores = model.train_step(x, y, self.config.l2)
            norms = [math.sqrt(float(np.vdot(dW, dW))) for dW in self._dW]
        if not (math.isfinite(loss) and all(map(math.isfinite, norms))):
            what = "the loss" if not math.isfinite(loss) else "a gradient"
            self.diverged = (f"diverged at epoch {self.epoch + 1}, batch {self.batch + 1}: "
                             f"{what} became {'NaN' if math.isnan(loss) else 'infinite'}; "
                             f"try a smaller learning rate (now {lr:.3g})")
            return            # the update is not applied: the weights stay finite
        self.optimizer.lr = lr
        self.optimizer.step(self._params, self._grads)
        self.train_seconds += time.perf_counter() - t0

        correct = int(np.count_nonzero(self._predicted(scores) == y))
        h = self.history
        h.batch_loss.append(loss)
        h.batch_acc.append(correct / len(y))
        h.batch_lr.append(lr)
        for name, norm in zip(self._dense_names, norms):
            h.grad_norms[name].append(norm)
        self.samples_seen += len(y)
        self._epoch_loss += loss * len(y)
        self._epoch_correct += correct
        self._epoch_seen += len(y)
        self.batch += 1
        h.batch_epoch.append(self.progress)
        if self.batch == self.batches_per_epoch:
            self._end_epoch()

    def _predicted(self, scores: np.ndarray) -> np.ndarray:
        if scores.shape[1] == 1:
            return (scores[:, 0] > 0).astype(np.int64) if self.model.config.loss == "sigmoid_bce" \
                else (scores[:, 0] > 0.5).astype(np.int64)
        return scores.argmax(axis=1)

    def _end_epoch(self) -> None:
        h = self.history
        self.epoch += 1
        self.batch = 0
        h.epoch.append(self.epoch)
        h.train_loss.append(self._epoch_loss / self._epoch_seen)
        h.train_acc.append(self._epoch_correct / self._epoch_seen)
        if self.x_val is not None and len(self.x_val):
            with np.errstate(over="ignore", invalid="ignore"):
                val_loss, val_acc = self.model.evaluate(self.x_val, self.y_val)
        else:
            val_loss, val_acc = float("nan"), float("nan")
        h.val_loss.append(val_loss)
        h.val_acc.append(val_acc)
        h.seconds.append(self.train_seconds)
        self._epoch_loss = self._epoch_correct = 0.0
        self._epoch_seen = 0
        self._order = self.shuffle_rng.permutation(len(self.x_train))


def augment_digits(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distort a batch of deskewed digits (``augment.augment_batch``), then deskew it again,
    as a drawing would be: the ``augment`` step of ``Trainer`` for digits. x : (N, 784)."""
    from .augment import augment_batch
    from .preprocess import normalise_digits

    return normalise_digits(augment_batch(x, rng))


def digit_pipeline(x_train: np.ndarray, x_val: np.ndarray, augment: bool):
    """Digits go through the same final step as every drawing the Draw page classifies
    (``preprocess.normalise_digits``: deskewing). With augmentation, each training batch is
    also distorted, then normalised again (``augment_digits``), so the network never sees the
    same picture twice and never sees a picture the Draw page could not produce.

    Returns (x_train, x_val, augment_digits or None) ready for ``Trainer``.
    """
    from .preprocess import normalise_digits

    x_train, x_val = normalise_digits(x_train), normalise_digits(x_val)
    return x_train, x_val, (augment_digits if augment else None)


if __name__ == "__main__":
    import sys

    from .cli import train_main
    sys.exit(train_main())
