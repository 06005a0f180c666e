"""A training run seen from the Train page: ``LiveRun`` starts a training process
(ui/train_worker.py) and drives it with typed requests (ui/run_protocol.py).

The page keeps its LiveRun in st.session_state, so every browser session has its own run.
That state is gone when the server restarts, so the page also leaves a marker file in the
learner's folder while a run is live (``mark_live``, ``unmark_live``); a page that opens without a
run finds the markers of runs that were lost (``lost_runs``) and can say what happened.
This module never imports streamlit.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from nn.files import write_json

from ui.processes import context, without_main_script
from ui.run_protocol import (Close, Command, GradCheck, Inspect, Pause, Reply, Request, RestoreEdits, RunData, Save,
                             SetLr, SetNeuronOff, SetParam, Snapshot, Start, Status, StepEpoch, TraceStep)
from ui.run_slots import _session_active, current_session_id, slots
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

    STATUS_KEYS = ("running", "done", "diverged", "paused_reason", "epoch", "progress", "seconds", "verdict")

    def __init__(self, settings: Settings, data: RunData, start_timeout: float = 60.0,
                 session_id: str | None = None) -> None:
        self.settings = settings
        self.lr_path = [settings.lr]       # the base rates it trained with, in order (set_lr adds to it)
        self.key = uuid.uuid4().hex        # this run and no other (the page's history knows it by this)
        self.running = False               # what the page believes; every answer corrects it
        self.status: dict = {"running": False, "done": False, "diverged": None, "paused_reason": None,
                             "epoch": 0, "progress": 0.0, "seconds": 0.0, "verdict": None}
        self.last: dict = {}               # the per-epoch curves of the latest snapshot (see ``final``)
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
                    raise RunLost(f"The training process did not answer within {timeout:.0f} s. "
                                  f"Press Start to train again.")
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
            raise RunLost("This run was closed. Press Start to train again.")
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
        self.status = {k: status.get(k) for k in self.STATUS_KEYS}
        self.running = status["running"]
        return status

    def _why_lost(self) -> str:
        """What happened to the training process, for the learner."""
        self._process.join(timeout=1.0)
        code = self._process.exitcode
        if code == EXIT_IDLE:
            return (f"This run was ended because nobody looked at it for {IDLE_EXIT_SECONDS / 60:g} minutes "
                    f"(to give its memory back to the server). Press Start to train again.")
        if code is not None and code < 0:
            return (f"The training process was stopped from outside (signal {-code}). "
                    f"Press Start to train again.")
        return "The training process has stopped. Press Start to train again."

    def why_lost(self) -> str:
        """What happened to a training process that is no longer alive, for the learner."""
        if not self._finalizer.alive:        # closed, but not by its page: by the slots' keeper
            return ("This run was ended because its page was out of touch with the server for a while "
                    "(closed, asleep or offline). Press Start to train again.")
        return self._why_lost()

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
        if float(lr) != self.lr_path[-1]:
            self.lr_path.append(float(lr))

    def snapshot(self, views: frozenset[str] = frozenset(), neuron: tuple[int, int] | None = None) -> dict:
        """History, status and the requested views (see ``Worker.snapshot`` in ui/train_worker.py), and
        with ``neuron`` = (layer, unit) what ``inspect`` says of it. Also the heartbeat that keeps a
        running worker going."""
        snap = self._note(self._call(Snapshot(frozenset(views), None if neuron is None else
                                              (int(neuron[0]), int(neuron[1])))))
        self.last = {k: snap[k] for k in CURVES}
        return snap

    def final(self) -> dict:
        """What this run gave, to keep it: its status (with its verdict), per-epoch curves (``CURVES``)
        and ``lost`` (False). Stops it first if it trains or waits for a place. Never raises: from a
        process that is gone, the last status and curves the page saw, and ``lost`` True."""
        try:
            if self.running or self.place:
                self.pause()
            return {**self.snapshot(frozenset({"verdict"})), "lost": False}
        except (RunError, RunLost):
            self.running = False
            return {**self.status, **{k: [] for k in CURVES}, **self.last, "lost": True}

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

    @property
    def pid(self) -> int | None:
        """The training process's id (None before it started)."""
        return self._process.pid


CURVES = ("epoch_x", "train_loss", "val_loss", "train_acc", "val_acc")     # per epoch, in every snapshot


# ----- a marker that a run is live, to say what happened after a server restart --------------------

MARKER_PREFIX = ".live-run-"


def _process_started() -> str:
    """When this server process started (clock ticks since boot, from /proc), else now: with the
    process id, what tells this server from an earlier one that had the same id."""
    try:
        return Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return str(time.time_ns())


SERVER_ID = f"{os.getpid()}-{_process_started()}"


def _marker(folder: Path, session_id: str | None) -> Path:
    safe = "".join(c for c in str(session_id) if c.isalnum() or c in "-_")[:64] or "none"
    return Path(folder) / f"{MARKER_PREFIX}{safe}.json"


def mark_live(folder: Path, session_id: str | None) -> None:
    """Note (atomically, in ``folder``: the learner's own) that browser session ``session_id`` has
    a live run. One marker per session, so that two tabs of one learner do not overwrite each other's."""
    write_json(_marker(folder, session_id), {"server": SERVER_ID, "session": session_id, "since": time.time()})


def unmark_live(folder: Path, session_id: str | None) -> None:
    """The run of ``session_id`` ended as it should (finished, reset, closed): forget its marker."""
    with contextlib.suppress(OSError):
        _marker(folder, session_id).unlink(missing_ok=True)


def lost_runs(folder: Path, session_id: str | None,
              is_active: Callable[[str | None], bool] = _session_active) -> list[str]:
    """The runs of this learner that were lost without the learner seeing it end, each as why:
    "restart" (left by an earlier server process: the server restarted, or crashed) or "closed"
    (by a browser session of this server that is gone: its tab was closed or reloaded). Their
    markers are removed, so each loss is told once. Markers of ``session_id`` and of other
    sessions still connected (``is_active``, by default the server's own answer: another tab of the same
    learner) are left alone."""
    lost = []
    with contextlib.suppress(OSError):
        for path in sorted(Path(folder).glob(f"{MARKER_PREFIX}*.json")):
            try:
                marker = json.loads(path.read_text())
                server, session = marker["server"], marker.get("session")
            except (OSError, ValueError, KeyError, TypeError):
                server, session = None, None          # unreadable: from no server we know
            if server == SERVER_ID and (session == session_id or is_active(session)):
                continue
            lost.append("closed" if server == SERVER_ID else "restart")
            with contextlib.suppress(OSError):
                path.unlink()
    return lost


