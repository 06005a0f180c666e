"""The training loop, as steps a UI can drive, and the ``python -m nn.train`` command.

A ``Trainer`` owns the optimiser, the shuffling and the history of one run. A caller
advances it a few batches at a time (``step``), draws what it likes from ``history`` in
between, may change the learning rate (``set_lr``), and simply stops calling to pause.
Same seed, same data, same config: the same weights, bit for bit.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .model import MLP, ModelConfig, atomic_write_bytes
from .optim import OPTIMIZERS, SCHEDULES, Schedule, make_optimizer


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
    step_epochs: float = 10.0     # schedule "step": multiply by gamma every step_epochs
    gamma: float = 0.5
    l2: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [("epochs", self.epochs, 1, 100_000), ("batch_size", self.batch_size, 1, 1_000_000),
                  ("l2", self.l2, 0, 1), ("gamma", self.gamma, 1e-6, 1),
                  ("step_epochs", self.step_epochs, 1e-6, 1e6)]
        for name, value, low, high in checks:
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        # the optimiser checks lr, momentum and betas with the same messages
        make_optimizer(self.optimizer, self.lr, self.momentum, self.beta1, self.beta2, self.rho)


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
    augment : optional ``f(x_batch, rng) -> x_batch`` applied to every training batch.
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
        self._dense_names = [f"Dense {i + 1} ({d.params['W'].shape[0]}→{d.params['W'].shape[1]})"
                             for i, d in enumerate(model.dense_layers)]
        self.history.grad_norms = {name: [] for name in self._dense_names}
        self.epoch = 0            # completed epochs
        self.batch = 0            # batches done in the current epoch
        self.samples_seen = 0
        self.train_seconds = 0.0
        self.diverged: str | None = None
        self._order = self.shuffle_rng.permutation(len(self.x_train))
        self._epoch_loss = self._epoch_correct = 0.0
        self._epoch_seen = 0
        # live references to every parameter and gradient array (the layers update them in place)
        self._params, self._grads = model.params(), model.grads()

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
        bs = self.config.batch_size
        idx = self._order[self.batch * bs:(self.batch + 1) * bs]
        if self.model.config.batchnorm and len(idx) < 2:    # a 1-sample tail has no variance
            idx = self._order[-2:]
        x, y = self.x_train[idx], self.y_train[idx]
        if self.augment is not None:
            x = self.augment(x, self.augment_rng)
        lr = self.lr
        model = self.model
        with np.errstate(over="ignore", invalid="ignore"):     # divergence is reported below
            loss, scores = model.train_step(x, y, self.config.l2)
            norms = [math.sqrt(float(np.vdot(d.grads["W"], d.grads["W"]))) for d in model.dense_layers]
        if not (math.isfinite(loss) and all(map(math.isfinite, norms))):
            what = "the loss" if not math.isfinite(loss) else "a gradient"
            self.diverged = (f"diverged at epoch {self.epoch + 1}, batch {self.batch + 1}: "
                             f"{what} became {'NaN' if math.isnan(loss) else 'infinite'}; "
                             f"try a smaller learning rate (now {lr:.3g})")
            return            # the update is not applied: the weights stay finite
        self.optimizer.lr = lr
        self.optimizer.step(self._params, self._grads)
        self.train_seconds += time.perf_counter() - t0

        correct = int(np.sum(self._predicted(scores) == y))
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


# ----- command line -------------------------------------------------------------------------

def _bounded(kind, low, high, low_open=False):
    """An argparse type: a number in [low, high] (or (low, high]) with a message naming the range."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        ok = math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
        if not ok:
            bracket = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"must be in {bracket}{low}, {high}], got {text}")
        return value
    return parse


def _sizes(text: str) -> tuple[int, ...]:
    """'256,128' -> (256, 128); '' or 'none' -> () (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths such as 256,128, got {text!r}")
    if any(not 1 <= s <= 8192 for s in sizes) or len(sizes) > 20:
        raise argparse.ArgumentTypeError(f"each width must be in [1, 8192] and at most 20 layers, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    from .data import IMAGE_DATASETS, TOY_DATASETS
    from .init import INITS
    from .layers import ACTIVATIONS
    from .losses import LOSSES

    p = argparse.ArgumentParser(prog="python -m nn.train",
                                description="Train a NumPy MLP and print one JSON line of final metrics.")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", choices=TOY_DATASETS + IMAGE_DATASETS, default="spirals")
    d.add_argument("--n-samples", type=_bounded(int, 4, 1_000_000), default=1000,
                   help="points in a toy dataset")
    d.add_argument("--noise", type=_bounded(float, 0.0, 1.0), default=0.1, help="toy dataset noise")
    d.add_argument("--val-fraction", type=_bounded(float, 0.0, 0.9, low_open=True), default=0.2,
                   help="validation share of a toy dataset")
    d.add_argument("--augment", action=argparse.BooleanOptionalAction, default=False,
                   help="random shifts, rotations, scaling, shear, elastic and thickness changes (digits)")
    m = p.add_argument_group("model")
    m.add_argument("--hidden", type=_sizes, default=(64, 64), help="hidden layer widths, e.g. 256,128")
    m.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    m.add_argument("--init", choices=INITS, default="he")
    m.add_argument("--init-std", type=_bounded(float, 0.0, 10.0, low_open=True), default=0.01,
                   help="weight std for --init normal")
    m.add_argument("--dropout", type=_bounded(float, 0.0, 0.95), default=0.0)
    m.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=False)
    m.add_argument("--loss", choices=LOSSES, default=None,
                   help="default: softmax_ce (sigmoid_bce for a one-output XOR net is also available)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    o.add_argument("--lr", type=_bounded(float, 0.0, 100.0, low_open=True), default=0.01)
    o.add_argument("--momentum", type=_bounded(float, 0.0, 0.999), default=0.9)
    o.add_argument("--beta1", type=_bounded(float, 0.0, 0.9999), default=0.9)
    o.add_argument("--beta2", type=_bounded(float, 0.0, 0.99999), default=0.999)
    o.add_argument("--rho", type=_bounded(float, 0.0, 0.9999), default=0.9)
    o.add_argument("--schedule", choices=SCHEDULES, default="constant")
    o.add_argument("--step-epochs", type=_bounded(float, 0.0, 1e6, low_open=True), default=10.0)
    o.add_argument("--gamma", type=_bounded(float, 0.0, 1.0, low_open=True), default=0.5)
    o.add_argument("--batch-size", type=_bounded(int, 1, 100_000), default=64)
    o.add_argument("--epochs", type=_bounded(int, 1, 100_000), default=20)
    o.add_argument("--l2", type=_bounded(float, 0.0, 1.0), default=0.0)
    o.add_argument("--seed", type=_bounded(int, 0, 2**32 - 1), default=0)
    r = p.add_argument_group("output")
    r.add_argument("--out", type=Path, default=None,
                   help="save the trained model here (.npz) with a JSON card beside it")
    r.add_argument("--quiet", action="store_true", help="no progress lines, only the final JSON")
    return p


def _finite(value: float) -> float | None:
    """Rounded for the JSON line; None (JSON null) for NaN or infinity, which JSON cannot hold."""
    return round(value, 6) if math.isfinite(value) else None


def main(argv: list[str] | None = None) -> int:
    from .data import IMAGE_DATASETS, load_dataset

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out is not None and args.out.suffix != ".npz":
        parser.error(f"argument --out: the model file must end in .npz, got {args.out}")
    if args.augment and args.dataset not in IMAGE_DATASETS:
        parser.error("argument --augment: augmentation applies to digit images, not to 2-D toy sets")
    loss = args.loss or "softmax_ce"
    try:
        if args.dataset in IMAGE_DATASETS:
            data = load_dataset(args.dataset)
        else:
            data = load_dataset(args.dataset, n=args.n_samples, noise=args.noise,
                                val_fraction=args.val_fraction, seed=args.seed)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    x_train, x_val, augment = data.x_train, data.x_val, None
    if data.image_shape is not None:
        x_train, x_val, augment = digit_pipeline(x_train, x_val, args.augment)
    try:
        model_config = ModelConfig(input_dim=x_train.shape[1], hidden=args.hidden,
                                   output_dim=1 if loss == "sigmoid_bce" else data.n_classes,
                                   activation=args.activation, init=args.init, init_std=args.init_std,
                                   dropout=args.dropout, batchnorm=args.batchnorm, loss=loss)
        train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                                   optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                                   beta1=args.beta1, beta2=args.beta2, rho=args.rho,
                                   schedule=args.schedule, step_epochs=args.step_epochs,
                                   gamma=args.gamma, l2=args.l2, seed=args.seed)
    except ValueError as e:
        parser.error(str(e))
    if loss == "sigmoid_bce" and data.n_classes != 2:
        parser.error(f"argument --loss: sigmoid_bce needs 2 classes, {args.dataset} has {data.n_classes}")
    model = MLP(model_config, seed=args.seed)
    trainer = Trainer(model, x_train, data.y_train, x_val, data.y_val, train_config, augment)
    if not args.quiet:
        print(f"{args.dataset}: {len(x_train)} train / {len(x_val)} validation samples; "
              f"model {model.describe()} ({model.n_params:,} parameters)", file=sys.stderr)

    def report(t: Trainer) -> None:
        if args.quiet:
            return
        h = t.history
        print(f"epoch {t.epoch:>3}/{train_config.epochs}  loss {h.train_loss[-1]:.4f}  "
              f"acc {h.train_acc[-1]:6.2%}  val_loss {h.val_loss[-1]:.4f}  val_acc {h.val_acc[-1]:6.2%}  "
              f"lr {t.lr:.3g}  {t.samples_per_second:,.0f} samples/s", file=sys.stderr, flush=True)

    started = time.perf_counter()
    trainer.run(on_epoch=report)
    wall_seconds = time.perf_counter() - started
    with np.errstate(over="ignore", invalid="ignore"):
        train_loss, train_acc = model.evaluate(x_train, data.y_train)
        val_loss, val_acc = model.evaluate(x_val, data.y_val)
    result = {
        "dataset": args.dataset, "epochs": trainer.epoch, "params": model.n_params,
        "train_loss": _finite(train_loss), "train_acc": _finite(train_acc),
        "val_loss": _finite(val_loss), "val_acc": _finite(val_acc),
        # samples_per_sec counts only the time inside training steps; wall_samples_per_sec the whole
        # training loop by the clock (batch gathering, bookkeeping, each epoch's validation pass)
        "train_seconds": round(trainer.train_seconds, 3),
        "samples_per_sec": round(trainer.samples_per_second, 1),
        "wall_seconds": round(wall_seconds, 3),
        "wall_samples_per_sec": round(trainer.samples_seen / wall_seconds, 1) if wall_seconds > 0 else 0.0,
        "diverged": trainer.diverged,
    }
    if trainer.diverged:
        print(f"error: {trainer.diverged}", file=sys.stderr)
    elif args.out is not None:
        card = {
            "architecture": model.describe(), "model_config": asdict(model_config),
            "train_config": asdict(train_config), "dataset": args.dataset,
            "augment": args.augment, "n_train": len(x_train), "n_val": len(x_val),
            "command": "python -m nn.train " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
            "val_accuracy": round(val_acc, 6), "train_accuracy": round(train_acc, 6),
            "train_seconds": round(trainer.train_seconds, 3),
            "date": _dt.date.today().isoformat(),
        }
        model.save(args.out, meta=card)
        atomic_write_bytes(args.out.with_suffix(".json"), (json.dumps(card, indent=2) + "\n").encode())
        result["out"] = str(args.out)
    print(json.dumps(result), flush=True)
    return 1 if trainer.diverged else 0


if __name__ == "__main__":
    sys.exit(main())
