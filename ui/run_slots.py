"""Training slots: how many runs may train at once on this server, who waits, and which runs nobody
is looking at any more. One ``Slots`` per server process, shared by every session (it holds no
learner's data, only the order in which their runs may use the cores).

    NN_MAX_TRAINING   runs that may train at once (default: the number of CPU cores)
    NN_TURN_SECONDS   how long a run may train while others wait, before it queues again (default 60)
    NN_IDLE_MINUTES   a paused run nobody has looked at for this long is ended (default 10)
    NN_GONE_SECONDS   a run whose browser tab is gone is ended after this long (default 30)

Why a queue with turns and not a time share of the cores: forty training processes sharing two
cores run each at a fortieth of the speed, thrash the CPU caches, and slow every Draw page on the
server with them; a run that trains alone on its core runs at full speed. So at most
NN_MAX_TRAINING runs train at once and the others wait in a visible queue, first come first served.
A run trains for at most NN_TURN_SECONDS while somebody waits, then pauses by itself and joins the
back of the queue ("your turn is over"), so no tab can keep a core for itself: with L slots and W
runs waiting, anybody's wait is at most about (W / L) turns.

The keeper (a daemon thread) also ends runs nobody can see any more: a run whose browser session
has been gone (tab closed, connection lost) for NN_GONE_SECONDS (default 30) is closed, so its
process exits and returns its memory within a minute of the tab closing.
"""
from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from typing import Protocol


def _env_number(name: str, default: float, low: float, high: float) -> float:
    """A number from the environment, or ``default`` (a bad value is reported, not fatal)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        print(f"warning: {name}={text!r} is not a number in [{low:g}, {high:g}]; using {default:g}", flush=True)
        return default
    return value


MAX_TRAINING = int(_env_number("NN_MAX_TRAINING", os.cpu_count() or 1, 1, 256))
TURN_SECONDS = _env_number("NN_TURN_SECONDS", 60.0, 5.0, 86_400.0)
GONE_SECONDS = _env_number("NN_GONE_SECONDS", 30.0, 1.0, 3600.0)
IDLE_SECONDS = 60.0 * _env_number("NN_IDLE_MINUTES", 10.0, 0.05, 7 * 24 * 60.0)
TICK_SECONDS = 1.0


class Run(Protocol):
    """What the slots need of a run (ui/run_client.py's LiveRun)."""

    session_id: str | None

    def begin_turn(self) -> None: ...          # train now (it holds a slot)
    def end_turn(self) -> bool: ...            # pause now; True if it was still training
    def still_training(self) -> bool: ...      # ask the process: is it training right now?
    def close(self) -> None: ...
    @property
    def alive(self) -> bool: ...


def current_session_id() -> str | None:
    """The browser session of the script now running (None outside a Streamlit script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def _session_active(session_id: str | None) -> bool:
    """Is this browser session still connected? (Always True outside a Streamlit server, e.g. in tests.)"""
    if session_id is None:
        return True
    from streamlit.runtime import Runtime

    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)


class Slots:
    """At most ``limit`` runs train at once; the others wait in order; a turn lasts ``turn_seconds``
    while somebody waits. Thread-safe: the page's threads and the keeper call it."""

    def __init__(self, limit: int = MAX_TRAINING, turn_seconds: float = TURN_SECONDS,
                 gone_seconds: float = GONE_SECONDS) -> None:
        self.limit, self.turn_seconds, self.gone_seconds = limit, turn_seconds, gone_seconds
        self._lock = threading.Lock()
        self._training: dict[int, tuple[weakref.ref, float]] = {}      # id(run) -> (run, turn started)
        self._waiting: deque[weakref.ref] = deque()
        self._runs: weakref.WeakSet = weakref.WeakSet()                # every run, for the keeper
        self._gone_since: dict[int, float] = {}
        self._keeper: threading.Thread | None = None

    # ----- what a run asks --------------------------------------------------------------------
    def register(self, run: Run) -> None:
        with self._lock:
            self._runs.add(run)
        self._ensure_keeper()

    def request(self, run: Run) -> int:
        """Ask to train. 0: the run may train now (it has begun its turn); n > 0: it is n-th in the queue."""
        with self._lock:
            if id(run) in self._training:
                return 0
            position = self._position(run)
            if position:
                return position
            if len(self._training) < self.limit and not self._waiting:
                self._training[id(run)] = (weakref.ref(run), time.monotonic())
                granted = True
            else:
                self._waiting.append(weakref.ref(run))
                return len(self._waiting)
        if granted:
            run.begin_turn()
        return 0

    def release(self, run: Run) -> None:
        """The run stopped training (paused, finished, diverged, closed) or gave up its place."""
        with self._lock:
            self._training.pop(id(run), None)
            self._waiting = deque(r for r in self._waiting if r() is not None and r() is not run)
        self._fill()

    def position(self, run: Run) -> int:
        """0 if the run is not waiting, else its place in the queue (1 = next)."""
        with self._lock:
            return self._position(run)

    def training_count(self) -> int:
        with self._lock:
            return len(self._training)

    def waiting_count(self) -> int:
        with self._lock:
            return len(self._waiting)

    def _position(self, run: Run) -> int:
        for i, ref in enumerate(self._waiting, start=1):
            if ref() is run:
                return i
        return 0

    def _fill(self) -> None:
        """Give free slots to the runs at the front of the queue (each begins its turn)."""
        while True:
            with self._lock:
                if len(self._training) >= self.limit or not self._waiting:
                    return
                run = self._waiting.popleft()()
                if run is None:
                    continue
                self._training[id(run)] = (weakref.ref(run), time.monotonic())
            try:
                run.begin_turn()
            except Exception:                          # its process is gone: let the next one in
                self.release(run)

    # ----- the keeper ---------------------------------------------------------------------------
    def _ensure_keeper(self) -> None:
        with self._lock:
            if self._keeper is None or not self._keeper.is_alive():
                self._keeper = threading.Thread(target=self._keep, name="nn-training-slots", daemon=True)
                self._keeper.start()

    def _keep(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            try:
                self.tick()
            except Exception as e:                    # never let the keeper die
                print(f"warning: training slots: {type(e).__name__}: {e}", flush=True)

    def tick(self) -> None:
        """Once a second: free the slots of runs that stopped, end turns that are over while
        somebody waits, and close runs whose browser session is gone."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (ref, _) in self._training.items() if ref() is None]:
                del self._training[key]                  # a run that was garbage-collected
            self._waiting = deque(ref for ref in self._waiting if ref() is not None)
            training = [(ref(), since) for ref, since in self._training.values()]
            runs = list(self._runs)
            someone_waits = bool(self._waiting)
        for run, since in training:
            if run is None:
                continue
            if not run.alive or not run.still_training():
                self.release(run)
            elif someone_waits and now - since >= self.turn_seconds:
                run.end_turn()
                with self._lock:
                    self._training.pop(id(run), None)
                    self._waiting.append(weakref.ref(run))
        for run in runs:
            if _session_active(run.session_id):
                self._gone_since.pop(id(run), None)
            elif now - self._gone_since.setdefault(id(run), now) >= self.gone_seconds:
                self._gone_since.pop(id(run), None)
                self.release(run)
                run.close()                              # its process ends and returns its memory
        self._fill()


_slots: Slots | None = None
_slots_lock = threading.Lock()


def slots() -> Slots:
    """The server's one Slots."""
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = Slots()
        return _slots
