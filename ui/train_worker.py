"""The training process behind the Train page: one per run, started by ui/run_client.py.

It holds the model and its Trainer, trains in slices of ~20 ms, and between slices answers the
page's requests (ui/run_protocol.py): Worker.handle dispatches each command type to one method.

Why a process and not a thread: the page redraws five times a second, and building plotly
figures is Python work that holds the interpreter lock. A training thread in the same process
waits for that lock between NumPy calls; measured here, it lost 25-35% of its speed to a thread
busy 20% of the time. In its own process, with one BLAS thread, the trainer has a core to itself
whenever the machine has one to spare (scripts/measure_train_page.py measures how much it gets).

This module never imports streamlit: the training process imports it, and it should start fast.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

import numpy as np

from nn import metrics
from nn.gradcheck import check_model
from nn.layers import BatchNorm, Dense
from nn.metrics import RunningSmooth
from nn.model import MLP
from nn.train import Trainer, augment_digits
from ui.run_protocol import (Close, Command, GradCheck, Pause, Reply, Request, RunData, Save, SetLr, Snapshot,
                             Start, Status, StepEpoch)
from ui.run_slots import IDLE_SECONDS
from ui.train_settings import Settings, model_config, train_config

SLICE_SECONDS = 0.02         # the worker checks for requests (pause!) at least this often
HEARTBEAT_SECONDS = 30.0     # a running worker pauses itself when no page asked for a picture this long
IDLE_EXIT_SECONDS = IDLE_SECONDS   # a paused worker nobody has looked at for this long exits (NN_IDLE_MINUTES)
WORKER_NICENESS = 10         # added to the training process's niceness (lower CPU priority than the server)
EXIT_IDLE = 3                # the exit code of a worker that ended itself after IDLE_EXIT_SECONDS
GRADCHECK_SAMPLES = 16
LIVE_VAL_SAMPLES = 2000      # validation samples behind the live confusion matrix and mistakes
LIVE_VAL_PARTS = 4           # while training, each picture re-evaluates a quarter of them


def worker_main(conn, settings: Settings, data: RunData) -> None:
    """The training process: build the trainer, then train in slices and answer requests."""
    # training yields to the web server: a stroke on the Draw page must not wait behind a trainer
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    try:
        worker = Worker(settings, data)
    except Exception as e:                                     # settings the model rejects
        conn.send(Reply(0, False, str(e)))
        return
    conn.send(Reply(0, True, worker.info()))
    while True:
        if worker.running:
            worker.train_slice()
        timeout = 0.0 if worker.running else IDLE_EXIT_SECONDS
        try:
            if not conn.poll(timeout):
                if worker.running:
                    continue
                sys.exit(EXIT_IDLE)                             # nobody looked at it for too long
            while conn.poll():
                request: Request = conn.recv()
                if isinstance(request.command, Close):
                    return
                try:
                    reply = Reply(request.seq, True, worker.handle(request.command))
                except Exception as e:                          # reported on the page, logged here
                    traceback.print_exc()
                    reply = Reply(request.seq, False, f"{type(e).__name__}: {e}")
                conn.send(reply)
        except (EOFError, OSError):
            return                                              # the page is gone


class Worker:
    """Holds the model and its Trainer; everything here runs in the worker process."""

    def __init__(self, settings: Settings, data: RunData) -> None:
        self.settings, self.data = settings, data
        augment = augment_digits if data.augment else None
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

    def handle(self, command: Command):
        """Do what ``command`` asks (see ui/run_protocol.py) and return the answer."""
        handlers = {Start: self.start, Pause: self.pause, StepEpoch: self.step_epoch, SetLr: self.set_lr,
                    Snapshot: self.snapshot, GradCheck: self.gradient_check, Save: self.save,
                    Status: lambda _: self.status()}
        return handlers[type(command)](command)

    def start(self, _: Start) -> dict:
        self.last_seen = time.monotonic()
        self.paused_reason = None
        self._set_running(True)
        return self.status()

    def pause(self, _: Pause) -> dict:
        self._set_running(False)
        return self.status()

    def step_epoch(self, _: StepEpoch) -> dict:
        self._set_running(False)
        t0 = time.monotonic()
        if not self.trainer.done:
            self.trainer.run_epoch()
        self.seconds += time.monotonic() - t0
        return self.status()

    def set_lr(self, command: SetLr) -> None:
        self.trainer.set_lr(command.lr)

    def status(self) -> dict:
        t = self.trainer
        seconds = self.seconds + (time.monotonic() - self._since if self._since is not None else 0.0)
        return {"running": self.running, "done": t.done, "diverged": t.diverged,
                "paused_reason": self.paused_reason, "progress": t.progress, "epoch": t.epoch,
                "epochs": t.config.epochs, "samples_seen": t.samples_seen, "seconds": seconds,
                "lr": t.lr, "base_lr": t.base_lr, "batches": len(t.history.batch_loss)}

    # -- pictures --
    def snapshot(self, command: Snapshot) -> dict:
        """Status, thinned and smoothed history, plus the requested views (``command.views``):

        boundary   xs, ys, proba (R, R, C) over the data's plotting box (2-D data)
        confusion  (C, C) counts on (up to LIVE_VAL_SAMPLES of) the validation set, and its most
                   confident mistakes (validation indices, predicted class, probability)
        hist       histograms of each Dense layer's weights and each hidden layer's outputs
        neurons    the first layer's weights into up to 32 hidden units, (k, D), now and at the start
        """
        views = command.views
        self.last_seen = time.monotonic()
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

    def gradient_check(self, _: GradCheck) -> list[tuple[str, float]]:
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

    def save(self, command: Save) -> str:
        path, meta = Path(command.path), command.card
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
