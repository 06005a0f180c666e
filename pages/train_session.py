"""The Train page's engine room: its settings, and one training run per browser session.

    Settings      every knob of the page as one frozen dataclass, with defaults per kind of data
    from_query    settings from a URL's query parameters, each value checked (bad -> default + warning)
    to_query      the query parameters that reproduce a Settings (only what differs from the defaults)
    LiveRun       a Trainer running in its own process, driven by start / pause / step / set_lr /
                  snapshot / gradient_check / save, and stopped when nobody watches it any more

Why a process and not a thread: the page redraws five times a second, and building plotly
figures is Python work that holds the interpreter lock. A training thread in the same process
waits for that lock between NumPy calls; measured here, it lost 25-35% of its speed to a thread
busy 20% of the time. In its own process, with one BLAS thread, the trainer has a core to itself
whenever the machine has one to spare (scripts/measure_train_page.py measures how much it gets).

This module never imports streamlit: the worker process imports it, and it should start fast.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import math
import multiprocessing
import multiprocessing.forkserver
import os
import threading
import time
import traceback
import weakref
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from nn.data import IMAGE_DATASETS, TOY_DATASETS
from nn.init import INITS
from nn.layers import ACTIVATIONS
from nn.optim import OPTIMIZERS, SCHEDULES

# ----- settings -------------------------------------------------------------------------------

LR_GRID = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05,
           0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
WIDTHS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
L2_GRID = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
INIT_STDS = (0.001, 0.01, 0.1, 1.0)
MAX_LAYERS = 6
CLASS_RANGE = {"spirals": (2, 5), "blobs": (2, 6)}     # the other toy sets have 2 classes


@dataclass(frozen=True)
class Settings:
    """Everything the learner can set on the Train page (the learning rate also during a run)."""

    dataset: str = "spirals"
    n_points: int = 600            # toy sets only
    noise: float = 0.1
    val_share: float = 0.2
    n_classes: int = 2             # spirals and blobs only
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "tanh"
    init: str = "xavier"
    init_std: float = 0.01         # init "normal" only
    dropout: float = 0.0
    batchnorm: bool = False
    optimizer: str = "adam"
    lr: float = 0.02
    momentum: float = 0.9          # momentum, nesterov
    beta1: float = 0.9             # adam
    beta2: float = 0.999           # adam
    rho: float = 0.9               # rmsprop
    schedule: str = "constant"
    step_epochs: int = 50          # schedule "step"
    gamma: float = 0.5             # schedule "step"
    batch_size: int = 16
    epochs: int = 400
    l2: float = 0.0
    augment: bool = False          # digits only
    seed: int = 0

    @property
    def is_images(self) -> bool:
        return self.dataset in IMAGE_DATASETS

    def run_identity(self) -> "Settings":
        """The part that defines a run: everything but the learning rate (that one is live)."""
        return replace(self, lr=0.0)


TOY_DEFAULTS = Settings()
IMAGE_DEFAULTS = replace(TOY_DEFAULTS, dataset="mnist-sample", hidden=(128, 64), activation="relu",
                         init="he", lr=1e-3, batch_size=64, epochs=10, step_epochs=5)


def defaults_for(dataset: str) -> Settings:
    """The settings a first run on this dataset should use (the 'recipe' for its kind of data)."""
    base = IMAGE_DEFAULTS if dataset in IMAGE_DATASETS else TOY_DEFAULTS
    return replace(base, dataset=dataset, n_classes=3 if dataset == "blobs" else 2)


@dataclass(frozen=True)
class _Field:
    """How one setting travels through a URL: its query key and the values it may take."""

    name: str
    key: str
    choices: tuple | None = None          # exact allowed values (strings, ints)
    grid: tuple | None = None             # numbers: snapped to the nearest value of this grid
    low: float | None = None              # numbers: inclusive range
    high: float | None = None


FIELDS = (
    _Field("dataset", "data", choices=TOY_DATASETS + IMAGE_DATASETS),
    _Field("n_points", "n", low=50, high=2000),
    _Field("noise", "noise", low=0.0, high=0.5),
    _Field("val_share", "val", low=0.1, high=0.5),
    _Field("n_classes", "classes", low=2, high=6),
    _Field("hidden", "layers"),
    _Field("activation", "act", choices=ACTIVATIONS),
    _Field("init", "init", choices=INITS),
    _Field("init_std", "std", grid=INIT_STDS),
    _Field("dropout", "dropout", low=0.0, high=0.9),
    _Field("batchnorm", "bn"),
    _Field("optimizer", "opt", choices=OPTIMIZERS),
    _Field("lr", "lr", grid=LR_GRID),
    _Field("momentum", "momentum", low=0.0, high=0.99),
    _Field("beta1", "beta1", low=0.0, high=0.99),
    _Field("beta2", "beta2", low=0.9, high=0.9999),
    _Field("rho", "rho", low=0.0, high=0.99),
    _Field("schedule", "schedule", choices=SCHEDULES),
    _Field("step_epochs", "step", low=1, high=1000),
    _Field("gamma", "gamma", low=0.05, high=1.0),
    _Field("batch_size", "batch", grid=BATCH_SIZES),
    _Field("epochs", "epochs", low=1, high=5000),
    _Field("l2", "l2", grid=L2_GRID),
    _Field("augment", "augment"),
    _Field("seed", "seed", low=0, high=2**32 - 1),
)
_TYPES = {f.name: f.type for f in fields(Settings)}


def _nearest(grid: tuple, value: float) -> float:
    """The grid value closest to ``value`` on a log scale (zero only matches zero)."""
    if value == 0 and 0 in grid:
        return 0
    positive = [g for g in grid if g > 0]
    return min(positive, key=lambda g: abs(math.log(g) - math.log(value)))


def _parse(field: _Field, text: str):
    """A value for ``field`` from URL text, or raise ValueError naming what is allowed."""
    kind = _TYPES[field.name]
    if field.name == "hidden":
        rule = f"up to {MAX_LAYERS} comma-separated widths from {WIDTHS[0]} to {WIDTHS[-1]}, or none"
        if text.strip().lower() in ("", "none", "0"):
            return ()
        try:
            sizes = tuple(int(t) for t in text.split(","))
        except ValueError:
            raise ValueError(rule) from None
        if len(sizes) > MAX_LAYERS or any(not WIDTHS[0] <= s <= WIDTHS[-1] for s in sizes):
            raise ValueError(rule)
        return tuple(int(_nearest(WIDTHS, s)) for s in sizes)
    if kind == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError("1 or 0")
    if field.choices is not None:
        if text not in field.choices:
            raise ValueError("one of " + ", ".join(field.choices))
        return text
    low, high = (min(field.grid), max(field.grid)) if field.grid else (field.low, field.high)
    rule = f"a number from {low:g} to {high:g}"
    try:
        number = float(text)
    except ValueError:
        raise ValueError(rule) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(rule)
    if field.grid is not None:
        return _nearest(field.grid, number)
    if kind == "int":
        if number != int(number):
            raise ValueError(f"a whole number from {low:g} to {high:g}")
        return int(number)
    return number


def from_query(params: dict[str, str]) -> tuple[Settings, list[str]]:
    """Settings from query parameters (as ``st.query_params.to_dict()`` gives them).

    Missing values take the defaults of the chosen dataset; a value that cannot be used falls
    back to that default and adds a warning for the page to show. Never raises.
    """
    warnings = []
    values = {}
    by_key = {f.key: f for f in FIELDS}
    for key, text in params.items():
        field = by_key.get(key)
        if field is None:
            continue                     # another page's (or Streamlit's) parameter
        text = str(text)
        try:
            value = _parse(field, text)
        except ValueError as e:
            warnings.append(f"`{key}={text}` in the link is not valid (expected {e}): "
                            f"using the default instead.")
            continue
        if field.grid is not None and value != float(text):
            warnings.append(f"`{key}={text}` is not on the slider: using the nearest value, {value:g}.")
        elif field.name == "hidden" and value and _text(value) != text.replace(" ", ""):
            warnings.append(f"`{key}={text}`: widths snapped to the slider's values, {_text(value)}.")
        values[field.name] = value
    base = defaults_for(values.get("dataset", TOY_DEFAULTS.dataset))
    low, high = CLASS_RANGE.get(base.dataset, (base.n_classes, base.n_classes))
    if "n_classes" in values and not low <= values["n_classes"] <= high:
        if low != high:
            warnings.append(f"`classes={values['n_classes']}` does not fit {base.dataset} "
                            f"({low}-{high} classes): using {base.n_classes}.")
        del values["n_classes"]
    settings = replace(base, **values)
    if settings.augment and not settings.is_images:
        settings = replace(settings, augment=False)
        warnings.append("`augment` applies to digit images only: turned off.")
    return settings, warnings


def _text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def to_query(settings: Settings) -> dict[str, str]:
    """The query parameters that give back ``settings`` through from_query (defaults left out)."""
    base = defaults_for(settings.dataset)
    query = {"data": settings.dataset}
    for field in FIELDS[1:]:
        value = getattr(settings, field.name)
        if value != getattr(base, field.name):
            query[field.key] = _text(value)
    return query


def architecture(settings: Settings, n_inputs: int, n_classes: int) -> tuple[str, int]:
    """('784 → 128 → 64 → 10', number of trainable parameters) without building the model."""
    sizes = [n_inputs, *settings.hidden, n_classes]
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if settings.batchnorm:
        n += 2 * sum(settings.hidden)          # gamma and beta per hidden unit
    return " → ".join(map(str, sizes)), n


def model_config(settings: Settings, n_inputs: int, n_classes: int):
    from nn.model import ModelConfig
    return ModelConfig(input_dim=n_inputs, hidden=settings.hidden, output_dim=n_classes,
                       activation=settings.activation, init=settings.init,
                       init_std=settings.init_std, dropout=settings.dropout,
                       batchnorm=settings.batchnorm)


def train_config(settings: Settings):
    from nn.train import TrainConfig
    return TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size,
                       optimizer=settings.optimizer, lr=settings.lr, momentum=settings.momentum,
                       beta1=settings.beta1, beta2=settings.beta2, rho=settings.rho,
                       schedule=settings.schedule, step_epochs=settings.step_epochs,
                       gamma=settings.gamma, l2=settings.l2, seed=settings.seed)


# ----- the data a run needs -------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class RunData:
    """The arrays a run trains on, as the network sees them.

    x_train : (N, D) float32; for digits deskewed by ``normalise_digits`` (what the Draw page feeds
        a model too), and with ``augment`` also distorted + deskewed again per batch.
    y_train : (N,) int64; x_val : (M, D) float32 (deskewed for digits); y_val : (M,) int64.
    bounds : the plotting box of a 2-D set, None for images.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    bounds: tuple | None
    augment: bool = False


# ----- the run, seen from the page --------------------------------------------------------------

SLICE_SECONDS = 0.02         # the worker checks for commands (pause!) at least this often
HEARTBEAT_SECONDS = 30.0     # a running worker pauses itself when no page asked for a picture this long
IDLE_EXIT_SECONDS = 3600.0   # a paused worker nobody talks to for an hour exits
GRADCHECK_SAMPLES = 16
LIVE_VAL_SAMPLES = 2000      # validation samples behind the live confusion matrix and mistakes
LIVE_VAL_PARTS = 4           # while training, each picture re-evaluates a quarter of them


class RunLost(RuntimeError):
    """The worker process is gone (it exited after an idle hour, or crashed)."""


class RunError(RuntimeError):
    """The worker could not do what was asked; the message is meant for the learner."""


_forkserver_lock = threading.Lock()


def _context():
    """A forkserver context whose server has NumPy and nn imported with one BLAS thread.

    forkserver, because forking the multi-threaded web server itself is unsafe; one BLAS thread,
    because OpenBLAS's default two threads spin against the web server and the browser on a
    2-core machine (measured: 4,400 instead of 95,000 samples/s). Starting the server costs
    ~0.3 s once per web-server process; each run then forks from it in ~10 ms.
    """
    ctx = multiprocessing.get_context("forkserver")
    with _forkserver_lock:
        # "__main__" too: otherwise every child re-runs the server's main script (see multiprocessing.spawn)
        ctx.set_forkserver_preload(["__main__", __name__])
        saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
        os.environ.update({k: "1" for k in saved})
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return ctx


def warm_up() -> None:
    """Start the fork server now, so that the first Start does not wait for it."""
    _context()


def _shutdown(process, conn) -> None:
    """Stop a worker: ask politely, then terminate. Safe to call twice."""
    with contextlib.suppress(OSError, ValueError):
        conn.send((-1, "close", ()))
    with contextlib.suppress(OSError):
        conn.close()
    process.join(timeout=1.0)
    if process.is_alive():
        process.terminate()
        process.join(timeout=1.0)


class LiveRun:
    """One training run in its own process. Create it, then drive it; ``close`` when done.

    The page keeps it in st.session_state, so every browser session has its own run; when the
    session goes away the object is garbage-collected and the process stopped (weakref.finalize).
    Every method waits for the worker's answer; none takes longer than one slice (~20 ms) plus
    the work asked for (a whole epoch for ``step_epoch``).
    """

    def __init__(self, settings: Settings, data: RunData, start_timeout: float = 60.0) -> None:
        self.settings = settings
        self.running = False               # what the page believes; every answer corrects it
        self.status: dict = {"running": False, "done": False, "diverged": None, "paused_reason": None}
        ctx = _context()
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_worker_main, args=(child, settings, data),
                                    name="nn-train-run", daemon=True)
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        self._seq = 0
        self._finalizer = weakref.finalize(self, _shutdown, self._process, self._conn)
        self.info = self._receive(0, start_timeout)    # architecture, parameter count, ...

    # -- plumbing --
    def _receive(self, seq: int, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0 or not self._conn.poll(left):
                    self.running = False
                    raise RunLost(f"the training process did not answer within {timeout:.0f} s; "
                                  f"press Reset to start a new run")
                got, ok, payload = self._conn.recv()
            except (EOFError, OSError) as e:
                self.running = False
                raise RunLost("the training process has stopped; press Reset to start a new run") from e
            if got == seq:        # an older answer (from an interrupted request) is skipped
                if not ok:
                    raise RunError(payload)
                return payload

    def _call(self, command: str, *args, timeout: float = 30.0):
        if not self._finalizer.alive:
            raise RunLost("this run was closed; press Reset to start a new one")
        with self._lock:
            self._seq += 1
            try:
                self._conn.send((self._seq, command, args))
            except (OSError, ValueError) as e:
                self.running = False
                raise RunLost("the training process has stopped; press Reset to start a new run") from e
            return self._receive(self._seq, timeout)

    # -- commands --
    def _note(self, status: dict) -> dict:
        self.status = {k: status[k] for k in ("running", "done", "diverged", "paused_reason")}
        self.running = status["running"]
        return status

    def start(self) -> dict:
        """Train continuously until pause, the last epoch, or divergence."""
        return self._note(self._call("start"))

    def pause(self) -> dict:
        """Stop after the current slice (mid-epoch); returns the status at that point."""
        return self._note(self._call("pause"))

    def step_epoch(self) -> dict:
        """Train to the end of the current epoch, synchronously (the run stays paused)."""
        return self._note(self._call("step_epoch", timeout=3600.0))

    def set_lr(self, lr: float) -> None:
        """Change the base learning rate from the next batch on (schedules multiply it)."""
        self._call("set_lr", float(lr))
        self.settings = replace(self.settings, lr=float(lr))

    def snapshot(self, views: frozenset[str] = frozenset()) -> dict:
        """History, status and the requested views (see ``_Worker.snapshot``). Also the heartbeat
        that keeps a running worker going."""
        return self._note(self._call("snapshot", frozenset(views)))

    def gradient_check(self) -> list[tuple[str, float]]:
        """[(parameter, relative error between backprop and central differences)] on the current
        weights, in float64, on a few training samples."""
        return self._call("gradcheck", timeout=600.0)

    def save(self, path: Path, meta: dict) -> Path:
        """Write the model (.npz, atomically) and its card (.json beside it)."""
        return Path(self._call("save", str(path), meta, timeout=120.0))

    def close(self) -> None:
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and self._process.is_alive()


# ----- the run, inside its process ---------------------------------------------------------------

def _worker_main(conn, settings: Settings, data: RunData) -> None:
    """The worker process: build the trainer, then train in slices and answer commands."""
    try:
        worker = _Worker(settings, data)
    except Exception as e:                                     # settings the model rejects
        conn.send((0, False, str(e)))
        return
    conn.send((0, True, worker.info()))
    while True:
        if worker.running:
            worker.train_slice()
        timeout = 0.0 if worker.running else IDLE_EXIT_SECONDS
        try:
            if not conn.poll(timeout):
                if worker.running:
                    continue
                return                                          # idle for an hour
            while conn.poll():
                seq, command, args = conn.recv()
                if command == "close":
                    return
                try:
                    reply = (seq, True, worker.handle(command, args))
                except Exception as e:                          # reported on the page, logged here
                    traceback.print_exc()
                    reply = (seq, False, f"{type(e).__name__}: {e}")
                conn.send(reply)
        except (EOFError, OSError):
            return                                              # the page is gone


class _Worker:
    """Holds the model and its Trainer; everything here runs in the worker process."""

    def __init__(self, settings: Settings, data: RunData) -> None:
        from nn.model import MLP
        from nn.train import Trainer

        self.settings, self.data = settings, data
        augment = None
        if data.augment:
            from nn.train import augment_digits
            augment = augment_digits
        model = MLP(model_config(settings, data.x_train.shape[1], data.n_classes), seed=settings.seed)
        self.model = model
        self.trainer = Trainer(model, data.x_train, data.y_train, data.x_val, data.y_val,
                               train_config(settings), augment)
        self.running = False
        self.paused_reason: str | None = None
        self.seconds = 0.0                      # wall-clock time spent running (rate = samples / this)
        self._since: float | None = None
        self.last_seen = time.monotonic()
        # the live confusion matrix and mistakes look at (at most) LIVE_VAL_SAMPLES validation samples,
        # a fixed random choice: a forward pass over all 10,000 of full MNIST 5 times a second would
        # cost the trainer 15% of its time; over a quarter of 2,000 per picture it costs 0.8%
        self._val_proba_now: np.ndarray | None = None    # (n_live, C)
        self._val_seen = (-1, -1)                       # (samples seen at the last full pass, at the last part)
        self._val_next = 0                               # where the next part starts
        if len(data.x_val) > LIVE_VAL_SAMPLES:
            self._live_val = np.sort(np.random.default_rng(0).choice(len(data.x_val), LIVE_VAL_SAMPLES, False))
        else:
            self._live_val = np.arange(len(data.x_val))
        self._probe = data.x_val[:256]
        # the per-batch history, smoothed as it grows (a snapshot costs O(new batches), not O(all))
        from nn.metrics import RunningSmooth
        self._series = {"batch_x": RunningSmooth(0.0), "batch_loss": RunningSmooth(0.95),
                        "batch_acc": RunningSmooth(0.95),
                        **{name: RunningSmooth(0.9) for name in self.trainer.history.grad_norms}}
        self._first_w0 = model.dense_layers[0].params["W"][:, :32].T.copy()    # for "what changed"

    def info(self) -> dict:
        return {"architecture": self.model.describe(), "n_params": self.model.n_params,
                "batches_per_epoch": self.trainer.batches_per_epoch,
                "n_train": len(self.data.x_train), "n_val": len(self.data.x_val)}

    # -- running --
    def _set_running(self, on: bool) -> None:
        now = time.monotonic()
        if self.running and self._since is not None:
            self.seconds += now - self._since
        self.running = on and not self.trainer.done
        self._since = now if self.running else None

    def train_slice(self) -> None:
        self.trainer.step(max_batches=1_000_000, max_seconds=SLICE_SECONDS)
        if self.trainer.done:
            self._set_running(False)
        elif time.monotonic() - self.last_seen > HEARTBEAT_SECONDS:
            self._set_running(False)
            self.paused_reason = (f"Paused by itself: the page showed no progress for "
                                  f"{HEARTBEAT_SECONDS:.0f} s (tab closed or hidden).")

    def handle(self, command: str, args: tuple):
        if command in ("start", "resume"):
            self.last_seen = time.monotonic()
            self.paused_reason = None
            self._set_running(True)
            return self.status()
        if command == "pause":
            self._set_running(False)
            return self.status()
        if command == "step_epoch":
            self._set_running(False)
            t0 = time.monotonic()
            if not self.trainer.done:
                self.trainer.run_epoch()
            self.seconds += time.monotonic() - t0
            return self.status()
        if command == "set_lr":
            self.trainer.set_lr(args[0])
            return None
        if command == "snapshot":
            self.last_seen = time.monotonic()
            return self.snapshot(args[0])
        if command == "gradcheck":
            return self.gradient_check()
        if command == "save":
            return self.save(Path(args[0]), args[1])
        raise ValueError(f"unknown command {command!r}")

    def status(self) -> dict:
        t = self.trainer
        seconds = self.seconds + (time.monotonic() - self._since if self._since is not None else 0.0)
        return {"running": self.running, "done": t.done, "diverged": t.diverged,
                "paused_reason": self.paused_reason, "progress": t.progress, "epoch": t.epoch,
                "epochs": t.config.epochs, "samples_seen": t.samples_seen, "seconds": seconds,
                "lr": t.lr, "base_lr": t.base_lr, "batches": len(t.history.batch_loss)}

    # -- pictures --
    def snapshot(self, views: frozenset[str]) -> dict:
        """Status, thinned and smoothed history, plus the requested views:

        boundary   xs, ys, proba (R, R, C) over the data's plotting box (2-D data)
        confusion  (C, C) counts on (up to LIVE_VAL_SAMPLES of) the validation set, and its most
                   confident mistakes (validation indices, predicted class, probability)
        hist       histograms of each Dense layer's weights and each hidden layer's outputs
        neurons    the first layer's weights into up to 32 hidden units, (k, D), now and at the start
        """
        from nn import metrics

        h = self.trainer.history
        snap = self.status()
        series = self._series
        n_old, n = len(series["batch_x"]), len(h.batch_loss)
        for key, values in (("batch_x", h.batch_epoch), ("batch_loss", h.batch_loss), ("batch_acc", h.batch_acc),
                            *h.grad_norms.items()):
            series[key].extend(values[n_old:n])                 # only what is new since the last picture
        idx = metrics.thin(n, 400)
        snap["batch_x"] = series["batch_x"].values[idx]
        snap["batch_loss"] = series["batch_loss"].values[idx]
        snap["batch_acc"] = series["batch_acc"].values[idx]
        snap["grad_norms"] = {name: series[name].values[idx] for name in h.grad_norms}
        snap["epoch_x"] = list(h.epoch)
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            snap[key] = list(getattr(h, key))
        model = self.model
        if "boundary" in views and self.data.bounds is not None:
            snap["boundary"] = metrics.decision_grid(model, self.data.bounds, 60)
        if "confusion" in views:
            proba, y = self._val_proba(), self.data.y_val[self._live_val]
            snap["confusion"] = metrics.confusion_matrix(y, proba.argmax(axis=1), self.data.n_classes)
            order, pred, conf = metrics.worst_mistakes(y, proba, 24)
            snap["mistakes"] = (self._live_val[order], pred, conf)      # indices into the validation set
        if "hist" in views:
            acts = metrics.hidden_activations(model, self._probe)
            snap["weight_hists"] = [metrics.histogram(d.params["W"]) for d in model.dense_layers]
            snap["act_hists"] = [metrics.histogram(a) for a in acts]
            snap["health"] = metrics.activation_health(model, acts)
        if "neurons" in views:
            w = model.dense_layers[0].params["W"]
            snap["neurons"] = np.ascontiguousarray(w[:, :32].T)
            snap["neurons_start"] = self._first_w0
        return snap

    def _val_proba(self) -> np.ndarray:
        """Probabilities for the live validation samples. Stopped: all of them, for the current
        weights. Training: each call re-evaluates the next 1/LIVE_VAL_PARTS of them (a forward pass
        over all 2,000 digits 5 times a second would be the costliest part of a picture), so every
        one is at most LIVE_VAL_PARTS pictures (under a second) behind the network."""
        seen, n = self.trainer.samples_seen, len(self._live_val)
        full, part = self._val_seen
        x = self.data.x_val
        with np.errstate(over="ignore", invalid="ignore"):
            if self._val_proba_now is None or (not self.running and full != seen):
                self._val_proba_now = self.model.predict_proba(x[self._live_val])
                self._val_seen = (seen, seen)
            elif self.running and part != seen:
                start = self._val_next
                rows = slice(start, min(start + -(-n // LIVE_VAL_PARTS), n))
                self._val_proba_now[rows] = self.model.predict_proba(x[self._live_val[rows]])
                self._val_next = rows.stop % n
                self._val_seen = (full, seen)
        return self._val_proba_now

    def gradient_check(self) -> list[tuple[str, float]]:
        from nn.gradcheck import check_model
        from nn.layers import BatchNorm, Dense

        n = min(GRADCHECK_SAMPLES, len(self.data.x_train))
        x, y = self.data.x_train[:n], self.data.y_train[:n]
        errors = check_model(self.model.copy(np.float64), x, y, l2=self.settings.l2)
        names, counts = {}, {Dense: 0, BatchNorm: 0}
        for i, layer in enumerate(self.model.layers):
            if type(layer) in counts:
                counts[type(layer)] += 1
                names[i] = f"{type(layer).__name__} {counts[type(layer)]}"
        result = []
        for key, err in errors.items():
            _, i, param = key.split(".")
            result.append((f"{names[int(i)]} · {param}", err))
        return result

    def save(self, path: Path, meta: dict) -> str:
        t = self.trainer
        train_loss, train_acc = self.model.evaluate(t.x_train, t.y_train)
        val_loss, val_acc = self.model.evaluate(t.x_val, t.y_val)
        card = {"architecture": self.model.describe(), "model_config": asdict(self.model.config),
                "train_config": asdict(t.config), "epochs_trained": round(t.progress, 3),
                "n_train": len(t.x_train), "n_val": len(t.x_val),
                "val_accuracy": round(val_acc, 6), "train_accuracy": round(train_acc, 6),
                "val_loss": round(val_loss, 6), "train_loss": round(train_loss, 6),
                "train_seconds": round(t.train_seconds, 3), "date": _dt.date.today().isoformat(),
                **meta}
        self.model.save_with_card(path, card)
        return str(path)
