"""How busy this web server process is, so that the live views slow down when a class keeps it busy.

Every session of the app runs in this one process, and its Python code takes turns on one core (the
interpreter lock). A training learner's live view redraws five times a second and each redraw costs
the server ~40-100 ms of that core (curves, the picture of the network, the decision regions as a
PNG): two training learners alone can keep it busy, and then every Draw page of the class waits
behind their redraws. So the redraw interval follows the server's load: five times a second while
the process uses less than 0.7 of a core (one learner training alone keeps that pace: ~0.5), twice a
second above that, once a second above 0.9. The curves lose nothing (each redraw shows the whole
history so far); they only move in larger steps.

The load is the process's CPU time (all its threads) per second of wall time over the last
``WINDOW`` seconds, sampled whenever a page asks: there is no thread to run, and one process-wide
sampler, shared by every session (it holds no learner's data).
"""
from __future__ import annotations

import threading
import time
from collections import deque

WINDOW = 3.0                        # seconds of history the load is measured over
LEVELS = (0.2, 0.5, 1.0)            # redraw intervals in seconds, from an idle server to a saturated one
# load (cores) above which the next slower level is used, and below which the next faster one is.
# Slowing down from 0.2 s to 0.5 s cuts the views' share of the load by 2.5, from 0.5 s to 1 s by 2:
# each FASTER_BELOW is under its SLOWER_ABOVE divided by that, so that the load a slower level leaves
# does not send the views straight back to the faster one (and back again)
SLOWER_ABOVE = (0.7, 0.9)
FASTER_BELOW = (0.25, 0.4)

_lock = threading.Lock()
_samples: deque[tuple[float, float]] = deque()       # (wall clock, process CPU time), oldest first


def load(now: float | None = None, cpu: float | None = None) -> float | None:
    """The process's CPU seconds per second over about the last ``WINDOW`` seconds (1.0 = one core
    busy), or None until there are samples at least a second apart. ``now``/``cpu`` are for tests."""
    now = time.monotonic() if now is None else now
    cpu = time.process_time() if cpu is None else cpu
    with _lock:
        _samples.append((now, cpu))
        # keep one sample at least WINDOW old, unless it is from before a long silence
        while len(_samples) > 1 and (_samples[0][0] < now - 10 * WINDOW or _samples[1][0] <= now - WINDOW):
            _samples.popleft()
        then, cpu_then = _samples[0]
    if now - then < 1.0:                                  # too short to tell
        return None
    return (cpu - cpu_then) / (now - then)


def redraw_seconds(current: float | None, busy: float | None) -> float:
    """The live views' redraw interval, from the interval in use (``current``, None at first) and the
    server's load (``busy`` from ``load()``; None when unknown: no change)."""
    level = LEVELS.index(current) if current in LEVELS else 0
    if busy is None:
        return LEVELS[level]
    while level < len(LEVELS) - 1 and busy > SLOWER_ABOVE[level]:
        level += 1
    while level > 0 and busy < FASTER_BELOW[level - 1]:
        level -= 1
    return LEVELS[level]


def reset() -> None:
    """Forget every sample (tests)."""
    with _lock:
        _samples.clear()
