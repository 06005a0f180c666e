"""A training run seen from the Train page: ``LiveRun`` starts a training process
(ui/train_worker.py) and drives it with typed requests (ui/run_protocol.py).

The page keeps its LiveRun in st.session_state, so every browser session has its own run.
This module never imports streamlit.
"""
from __future__ import annotations

import contextlib
import threading
import time
import weakref
from dataclasses import replace
from pathlib import Path

from ui.processes import context, without_main_script
from ui.run_protocol import (Close, Command, GradCheck, Inspect, Pause, Reply, Request, RestoreEdits, RunData, Save,
                             SetLr, SetNeuronOff, SetParam, Snapshot, Start, Status, StepEpoch, TraceStep)
from ui.run_slots import current_session_id, slots
from ui.train_settings import Settings
from ui.train_worker import EXIT_IDLE, IDLE_EXIT_SECONDS, worker_main


class RunLost(RuntimeError):
    """The worker process is gone (nobody looked at it for NN_IDLE_MINUTES, its tab closed, or it crashed)."""


class RunError(RuntimeError):
    """The worker could not do what was asked; the message is meant for the learner."""


def _shutdown(process, conn) -> None:
    """Stop a worker: ask politely, then terminate. Safe to call twice."""
    with contextlib.suppress(OSError, ValueError):
        conn.send(Request(-1, Close()))
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

    def __init__(self, settings: Settings, data: RunData, start_timeout: float = 60.0,
                 session_id: str | None = None) -> None:
        self.settings = settings
        self.running = False               # what the page believes; every answer corrects it
        self.status: dict = {"running": False, "done": False, "diverged": None, "paused_reason": None}
        ctx = context()
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=worker_main, args=(child, settings, data),
                                    name="nn-train-run", daemon=True)
        with without_main_script():
            self._process.start()
        child.close()
        self._lock = threading.Lock()
        self._seq = 0
        self._finalizer = weakref.finalize(self, _shutdown, self._process, self._conn)
        self.info = self._receive(0, start_timeout)    # architecture, parameter count, ...
        # the browser session that owns it: the keeper ends the run when that session is gone
        self.session_id = session_id if session_id is not None else current_session_id()
        slots().register(self)

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
                reply: Reply = self._conn.recv()
            except (EOFError, OSError) as e:
                self.running = False
                raise RunLost(self._why_lost()) from e
            if reply.seq == seq:        # an older answer (from an interrupted request) is skipped
                if not reply.ok:
                    raise RunError(reply.payload)
                return reply.payload

    def _call(self, command: Command, timeout: float = 30.0):
        if not self._finalizer.alive:
            raise RunLost("this run was closed; press Reset to start a new one")
        with self._lock:
            self._seq += 1
            try:
                self._conn.send(Request(self._seq, command))
            except (OSError, ValueError) as e:
                self.running = False
                raise RunLost(self._why_lost()) from e
            return self._receive(self._seq, timeout)

    # -- commands --
    def _note(self, status: dict) -> dict:
        self.status = {k: status[k] for k in ("running", "done", "diverged", "paused_reason")}
        self.running = status["running"]
        return status

    def _why_lost(self) -> str:
        """What happened to the training process, for the learner."""
        self._process.join(timeout=1.0)
        code = self._process.exitcode
        if code == EXIT_IDLE:
            return (f"This run was ended because nobody looked at it for {IDLE_EXIT_SECONDS / 60:g} minutes "
                    f"(to give its memory back to the server). Press Reset, then Start, to train again.")
        if code is not None and code < 0:
            return (f"The training process was stopped from outside (signal {-code}). "
                    f"Press Reset, then Start, to train again.")
        return "The training process has stopped. Press Reset, then Start, to train again."

    def start(self) -> dict:
        """Train continuously until pause, the last epoch, or divergence: now if a training place
        is free (ui/run_slots.py), otherwise as soon as one is (``place`` says where in the queue)."""
        slots().request(self)
        return self.status

    def begin_turn(self) -> None:
        """Train now: the slots gave this run a place."""
        self._note(self._call(Start()))

    def end_turn(self) -> bool:
        """Pause because others wait for a place (the slots put this run back in the queue)."""
        was_training = self.running
        self._note(self._call(Pause()))
        return was_training

    def still_training(self) -> bool:
        """Ask the process whether it trains right now (it stops by itself at the last epoch)."""
        try:
            return bool(self._note(self._call(Status(), timeout=5.0))["running"])
        except (RunError, RunLost):
            return False

    @property
    def place(self) -> int:
        """0 when not waiting for a training place, else the place in the queue (1 = next)."""
        return slots().position(self)

    def pause(self) -> dict:
        """Stop after the current slice (mid-epoch), or leave the queue; returns the status then."""
        slots().release(self)
        return self._note(self._call(Pause()))

    def step_epoch(self) -> dict:
        """Train to the end of the current epoch, synchronously (the run stays paused). Refused while
        every training place is taken: the learner can queue with Start instead."""
        if slots().training_count() >= slots().limit:
            raise RunError(f"All {slots().limit} training places of this server are in use: press Start "
                           "to queue for the next free one.")
        return self._note(self._call(StepEpoch(), timeout=3600.0))

    def set_lr(self, lr: float) -> None:
        """Change the base learning rate from the next batch on (schedules multiply it)."""
        self._call(SetLr(float(lr)))
        self.settings = replace(self.settings, lr=float(lr))

    def snapshot(self, views: frozenset[str] = frozenset(), neuron: tuple[int, int] | None = None) -> dict:
        """History, status and the requested views (see ``Worker.snapshot`` in ui/train_worker.py), and
        with ``neuron`` = (layer, unit) what ``inspect`` says of it. Also the heartbeat that keeps a
        running worker going."""
        return self._note(self._call(Snapshot(frozenset(views), None if neuron is None else
                                              (int(neuron[0]), int(neuron[1])))))

    def gradient_check(self) -> list[tuple[str, float]]:
        """[(parameter, relative error between backprop and central differences)] on the current
        weights, in float64, on a few training samples."""
        return self._call(GradCheck(), timeout=600.0)

    def inspect(self, layer: int, unit: int) -> dict:
        """One neuron (Dense layer ``layer`` from 0, column ``unit``): its picture, incoming weights and
        bias, their latest gradients and update, and the loss now (see ``Worker.inspect``)."""
        return self._call(Inspect(int(layer), int(unit)))

    def set_param(self, key: str, index: tuple[int, ...], value: float) -> None:
        """Set one weight or bias by hand: entry ``index`` of parameter ``key`` ("layers.0.W")."""
        self._call(SetParam(key, tuple(int(i) for i in index), float(value)))

    def set_neuron_off(self, layer: int, unit: int, off: bool) -> None:
        """Switch a hidden neuron off (it stays off while the network trains) or back on."""
        self._call(SetNeuronOff(int(layer), int(unit), bool(off)))

    def restore_edits(self) -> None:
        """Put back the values the hand edits changed, and switch every neuron on."""
        self._call(RestoreEdits())

    def trace(self, example: int | None = None) -> dict:
        """One training step with every number, of training example ``example`` or (None) of the next
        mini-batch, on copies: the run does not move. {"trace": nn.trace.Trace, "indices": (N,)}."""
        return self._call(TraceStep(None if example is None else int(example)), timeout=120.0)

    def save(self, path: Path, meta: dict) -> Path:
        """Write the model (.npz, atomically) and its card (.json beside it)."""
        return Path(self._call(Save(str(path), meta), timeout=120.0))

    def close(self) -> None:
        slots().release(self)
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and self._process.is_alive()


