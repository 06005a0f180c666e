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
import copy
import datetime as _dt
import os
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

import numpy as np

from nn import metrics
from nn.features import expand
from nn.gradcheck import check_model
from nn.metrics import RunningSmooth
from nn.model import MLP
from nn.neurons import KeepOff, decision_grid, dense_indices, neuron_outputs, plane
from nn.trace import trace_step
from nn.train import Trainer, augment_digits
from nn.verdict import verdict_for
from ui.run_protocol import (Close, Command, GradCheck, Inspect, Pause, Reply, Request, RestoreEdits, RunData, Save,
                             SetLr, SetNeuronOff, SetParam, Snapshot, Start, Status, StepEpoch, TraceStep)
from ui.run_slots import IDLE_SECONDS
from ui.train_settings import Settings, model_config, train_config, why_no_picture

SLICE_SECONDS = 0.02         # the worker checks for requests (pause!) at least this often
HEARTBEAT_SECONDS = 30.0     # a running worker pauses itself when no page asked for a picture this long
IDLE_EXIT_SECONDS = IDLE_SECONDS   # a paused worker nobody has looked at for this long exits (NN_IDLE_MINUTES)
WORKER_NICENESS = 10         # added to the training process's niceness (lower CPU priority than the server)
EXIT_IDLE = 3                # the exit code of a worker that ended itself after IDLE_EXIT_SECONDS
GRADCHECK_SAMPLES = 16
LIVE_VAL_SAMPLES = 2000      # validation samples behind the live confusion matrix and mistakes
LIVE_VAL_PARTS = 4           # while training, each picture re-evaluates a quarter of them
BOUNDARY_GRID = 60           # the decision regions: class probabilities on a 60 x 60 grid
NETWORK_GRID = 24            # the network picture: every neuron's output on a 24 x 24 grid
NEURON_GRID = 80             # the neuron picked by the learner, large
BATCHNORM_ONE_EXAMPLE = ("With batch normalisation the step is traced on the next mini-batch: batch norm "
                         "rescales each neuron by the mean and spread of its values over the batch, and one "
                         "example alone has no spread (every ẑ would be 0).")


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
        # what the network reads: the pixels of a digit, or the chosen features of a 2-D point
        self.x_train, self.x_val = data.x_train, data.x_val
        if not settings.is_images:
            self.x_train, self.x_val = expand(data.x_train, settings.features), expand(data.x_val, settings.features)
        model = MLP(model_config(settings, data.x_train.shape[1], data.n_classes), seed=settings.seed)
        self.model = model
        self.trainer = Trainer(model, self.x_train, data.y_train, self.x_val, data.y_val,
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
        self._probe = self.x_val[:256]
        # the per-batch history, smoothed as it grows (a snapshot costs O(new batches), not O(all))
        self._series = {"batch_x": RunningSmooth(0.0), "batch_loss": RunningSmooth(0.95),
                        "batch_acc": RunningSmooth(0.95),
                        **{name: RunningSmooth(0.9) for name in self.trainer.history.grad_norms}}
        self._first_w0 = model.dense_layers[0].params["W"][:, :32].T.copy()    # for "what changed"
        # the network picture and touching it (small networks fed 2-D points only)
        self.picture = why_no_picture(settings) is None
        self._grid = plane(data.bounds, NETWORK_GRID, settings.features)[2] if self.picture else None
        self._network: tuple[tuple, dict] | None = None          # (version, the last picture's numbers)
        self._before = {k: p.copy() for k, p in model.params().items()} if self.picture else {}
        self._last_update: dict[str, np.ndarray] = {k: np.zeros_like(p) for k, p in self._before.items()}
        self._trained: dict | None = None       # the parameters (and loss) before the hand edits since training
        self._keep_off: KeepOff | None = None   # installed as the trainer's optimiser at the first switch-off
        self.edits = 0                          # hand edits so far (part of the picture's version)
        self._verdict: tuple[tuple, dict | None] | None = None    # (what it judged, the verdict)

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

    def _train(self, max_batches: int, max_seconds: float | None = None) -> None:
        """Train as Trainer.step does. For a network that can be touched, the last batch runs on its
        own after a copy of the parameters, so that the latest update (after - before) is known
        exactly: one copy of a small network per slice, not per batch."""
        t = self.trainer
        if not self.picture:
            t.step(max_batches, max_seconds)
            return
        ran = t.step(max_batches - 1, max_seconds) if max_batches > 1 else 0
        params = self.model.params()
        for key, p in params.items():
            np.copyto(self._before[key], p)
        ran += t.step(1)
        if ran:
            self._trained = None                # the edited network trained on: nothing to put back
            if not t.diverged:
                self._last_update = {key: params[key] - self._before[key] for key in params}

    def train_slice(self) -> None:
        self._train(max_batches=1_000_000, max_seconds=SLICE_SECONDS)
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
                    Inspect: self.inspect, SetParam: self.set_param, SetNeuronOff: self.set_neuron_off,
                    RestoreEdits: self.restore_edits, TraceStep: self.trace, Status: lambda _: self.status()}
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
            self._train(self.trainer.batches_per_epoch - self.trainer.batch)
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
                "lr": t.lr, "base_lr": t.base_lr, "batches": len(t.history.batch_loss),
                "verdict": self.verdict() if t.done else None}

    def verdict(self) -> dict | None:
        """nn.verdict's verdict on the run so far (``Verdict.to_dict()``: kind, headline, why,
        try_next), or None while there is nothing to judge (no finished epoch, no divergence).
        Judged again only when the run has moved (or its learning rate changed)."""
        t = self.trainer
        judged = (t.samples_seen, t.diverged, t.base_lr)
        if self._verdict is None or self._verdict[0] != judged:
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    verdict = verdict_for(t).to_dict()
            except ValueError:                  # not one epoch yet
                verdict = None
            self._verdict = (judged, verdict)
        return self._verdict[1]

    # -- pictures --
    def snapshot(self, command: Snapshot) -> dict:
        """Status, thinned and smoothed history, plus the requested views (``command.views``):

        boundary   xs, ys, proba (R, R, C) over the data's plotting box (2-D data)
        network    every neuron's output over the plane, and every weight (small 2-D nets: see ``network``)
        neuron     with ``command.neuron``: that neuron, as ``inspect`` describes it (one round trip
                   instead of two: while training, each waits for the current slice to end)
        confusion  (C, C) counts on (up to LIVE_VAL_SAMPLES of) the validation set, and its most
                   confident mistakes (validation indices, predicted class, probability)
        hist       histograms of each Dense layer's weights and each hidden layer's outputs
        neurons    the first layer's weights into up to 32 hidden units, (k, D), now and at the start
        verdict    while stopped: the verdict so far (``verdict``; None before the first epoch). The
                   status carries it anyway once the run is done (finished or diverged).
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
            snap["boundary"] = decision_grid(model, self.data.bounds, BOUNDARY_GRID, self.settings.features)
        if "network" in views and self.picture:
            snap["network"] = self.network()
        if command.neuron is not None:
            snap["neuron"] = self.inspect(Inspect(*command.neuron))
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
        if "verdict" in views and not self.running:
            snap["verdict"] = self.verdict()
        return snap

    def _val_proba(self) -> np.ndarray:
        """Probabilities for the live validation samples. Stopped: all of them, for the current
        weights. Training: each call re-evaluates the next 1/LIVE_VAL_PARTS of them (a forward pass
        over all 2,000 digits 5 times a second would be the costliest part of a picture), so every
        one is at most LIVE_VAL_PARTS pictures (under a second) behind the network."""
        seen, n = self.trainer.samples_seen, len(self._live_val)
        full, part = self._val_seen
        x = self.x_val
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

    # -- inside the network: its picture, touching it, one step with its numbers --
    @property
    def version(self) -> tuple[int, int]:
        """Changes whenever the weights do: (samples trained on, hand edits)."""
        return self.trainer.samples_seen, self.edits

    def network(self) -> dict:
        """Every neuron's output over the plane and every weight, for the network picture:

        inputs   (F, R, R) each input feature over the plane (row 0 = the lowest y), R = NETWORK_GRID
        neurons  per Dense layer (units, R, R): each neuron's output (nn.neurons.neuron_outputs)
        weights  per Dense layer W (fan_in, units); biases: b (units,)
        off      the switched-off hidden neurons [(layer, unit)]; edited: is there anything to put back
        version  changes when the weights do
        """
        if self._network is not None and self._network[0] == self.version:
            return self._network[1]                 # paused, nothing touched: the same picture
        r = NETWORK_GRID
        outputs = neuron_outputs(self.model, self._grid)
        dense = self.model.dense_layers
        view = {"inputs": np.ascontiguousarray(self._grid.T).reshape(-1, r, r),
                "neurons": [np.ascontiguousarray(o.T, np.float32).reshape(-1, r, r) for o in outputs],
                "weights": [d.params["W"].copy() for d in dense], "biases": [d.params["b"].copy() for d in dense],
                "off": sorted(self._keep_off.off) if self._keep_off else [], "edited": self._has_edits(),
                "version": self.version}
        self._network = (self.version, view)
        return view

    def _has_edits(self) -> bool:
        return self._trained is not None or bool(self._keep_off and self._keep_off.off)

    def _neuron(self, layer: int, unit: int, hidden_only: bool = False) -> int:
        """The index in model.layers of the Dense layer ``layer`` (checked, with ``unit``)."""
        if not self.picture:
            raise ValueError(why_no_picture(self.settings))
        at = dense_indices(self.model)
        last = len(at) - 1 if hidden_only else len(at)
        if not 0 <= layer < last:
            raise ValueError(f"no {'hidden ' if hidden_only else ''}layer {layer}: this network has "
                             f"{len(at) - 1} hidden layers")
        units = self.model.layers[at[layer]].params["b"].shape[0]
        if not 0 <= unit < units:
            raise ValueError(f"layer {layer} has {units} neurons, not {unit + 1}")
        return at[layer]

    def _losses(self) -> dict:
        with np.errstate(over="ignore", invalid="ignore"):
            train_loss, train_acc = self.model.evaluate(self.x_train, self.data.y_train)
            val_loss, val_acc = self.model.evaluate(self.x_val, self.data.y_val)
        return {"train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc}

    def inspect(self, command: Inspect) -> dict:
        """Neuron ``command.unit`` of Dense layer ``command.layer``:

        picture    (R, R) its output over the plane (row 0 = the lowest y): R = NEURON_GRID when
                   paused; while training, the network picture's own grid (NETWORK_GRID), no extra work
        keys       the saved names of its layer's W and b ({"W": "layers.2.W", "b": "layers.2.b"})
        weights    (fan_in,) its incoming weights, its column of W; bias: its b
        grad_w, grad_b     their gradients from the latest batch trained on (L2 included)
        update_w, update_b what the latest optimiser step changed them by (zero before training)
        off        is it switched off; losses: loss and accuracy on the training and validation
                   sets now (None while training: the live curves show it), and ``trained`` the
                   same before the hand edits (None without edits)

        While training, the page asks five times a second: then this costs a column copy, not a
        forward pass over 6,400 points and the whole data set (~15 ms, 7% of the trainer's time).
        """
        self.last_seen = time.monotonic()
        i = self._neuron(command.layer, command.unit)
        j = command.unit
        layer = self.model.layers[i]
        keys = {"W": f"layers.{i}.W", "b": f"layers.{i}.b"}
        if self.running:
            picture, losses = self.network()["neurons"][command.layer][j], None
        else:
            grid = plane(self.data.bounds, NEURON_GRID, self.settings.features)[2]
            picture = neuron_outputs(self.model, grid)[command.layer][:, j].reshape(NEURON_GRID, NEURON_GRID)
            losses = self._losses()
        update = self._last_update
        return {"picture": np.asarray(picture, np.float32), "keys": keys,
                "weights": layer.params["W"][:, j].copy(), "bias": float(layer.params["b"][j]),
                "grad_w": layer.grads["W"][:, j].copy(), "grad_b": float(layer.grads["b"][j]),
                "update_w": update[keys["W"]][:, j].copy(), "update_b": float(update[keys["b"]][j]),
                "off": bool(self._keep_off and (command.layer, j) in self._keep_off.off),
                "edited": self._has_edits(), "losses": losses,
                "trained": self._trained["losses"] if self._trained else None, "version": self.version}

    def _keep_trained(self) -> None:
        """Before the first hand edit since training: remember what to put back."""
        if self._trained is None:
            self._trained = {"params": {k: p.copy() for k, p in self.model.params().items()},
                             "losses": self._losses()}

    def set_param(self, command: SetParam) -> None:
        params = self.model.params()
        if command.key not in params:
            raise ValueError(f"no parameter {command.key!r}: this network has {', '.join(params)}")
        p = params[command.key]
        index = tuple(int(k) for k in command.index)
        if len(index) != p.ndim or not all(0 <= k < n for k, n in zip(index, p.shape)):
            raise ValueError(f"{command.key} has shape {p.shape}: no entry {index}")
        if not np.isfinite(command.value) or abs(command.value) > 1e6:
            raise ValueError(f"a weight must be a finite number between -1e6 and 1e6, got {command.value}")
        if not self.picture:                     # touching is for the small networks of the picture
            raise ValueError(why_no_picture(self.settings))
        self._keep_trained()
        p[index] = command.value
        if self._keep_off is not None:
            self._keep_off.apply()               # a switched-off neuron's outgoing weights stay 0
        self.edits += 1

    def set_neuron_off(self, command: SetNeuronOff) -> None:
        self._neuron(command.layer, command.unit, hidden_only=True)
        self._keep_trained()
        if self._keep_off is None:
            self._keep_off = KeepOff(self.trainer.optimizer, self.model)
            self.trainer.optimizer = self._keep_off     # from now on every step leaves them off
        self._keep_off.switch(command.layer, command.unit, command.off)
        self.edits += 1

    def restore_edits(self, _: RestoreEdits) -> None:
        """Every neuron on again and, if the network was not trained since the first hand edit, the
        parameters it had before it."""
        if self._keep_off is not None:
            self._keep_off.off.clear()
        if self._trained is not None:
            for key, p in self.model.params().items():
                p[...] = self._trained["params"][key]
            self._trained = None
        self.edits += 1

    def trace(self, command: TraceStep) -> dict:
        """One training step with every number (nn.trace), on copies of the model and the optimiser:
        the run itself does not move. Of training example ``command.example``, or of the batch the
        next step trains on. Returns {"trace": nn.trace.Trace, "indices": (N,) into the training set,
        "note": why the batch was traced although one example was asked for, else None}."""
        t = self.trainer
        note = None
        if command.example is not None and not 0 <= command.example < len(self.x_train):
            raise ValueError(f"there are {len(self.x_train)} training examples: pick 0 to {len(self.x_train) - 1}")
        if command.example is None or self.model.config.batchnorm:
            if command.example is not None:
                note = BATCHNORM_ONE_EXAMPLE
            idx = np.asarray(t.next_batch)
        else:
            idx = np.array([command.example])
        optimizer = copy.deepcopy(self._keep_off.inner if self._keep_off else t.optimizer)
        optimizer.lr = t.lr
        with np.errstate(over="ignore", invalid="ignore"):
            trace = trace_step(self.model.copy(), self.x_train[idx], self.data.y_train[idx], optimizer,
                               self.settings.l2)
        return {"trace": trace, "indices": idx, "note": note}

    def gradient_check(self, _: GradCheck) -> list[tuple[str, float]]:
        n = min(GRADCHECK_SAMPLES, len(self.data.x_train))
        x, y = self.x_train[:n], self.data.y_train[:n]
        errors = check_model(self.model.copy(np.float64), x, y, l2=self.settings.l2)
        places, layers = self.model.layer_places(), self.model.layers
        result = []
        for key, err in errors.items():          # "layers.0.W" -> "hidden layer 1 · Dense · W"
            _, i, param = key.split(".")
            result.append((f"{places[int(i)]} · {type(layers[int(i)]).__name__} · {param}", err))
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
