"""The processes under a process, read from /proc (Linux), and stopping them by process id.

Used by scripts/serve_cluster.py and scripts/load_test.py, which stop everything they started and
everything those started in turn (a Streamlit server's fork server and training processes), and
nothing else: a process is signalled only while it is the one that was seen (same start time), so a
process id reused by the system in the meantime is left alone.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

Seen = dict[int, tuple[int, int]]         # pid -> (parent pid, start time in clock ticks)
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: the child gets SIGTERM when the process that
    started it dies, even by SIGKILL (a test's timeout, say), so that nothing is left running
    without its owner (Linux's prctl PR_SET_PDEATHSIG). It runs in the child between fork and exec
    and only calls prctl: no lock another thread of the parent could hold is taken."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()      # after "pid (command) "
    return int(fields[1]), int(fields[19])


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user + system; 0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(*roots: int) -> Seen:
    """Every live process under the ``roots`` (children, their children...)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (s := stat(int(entry))) is not None:
            table[int(entry)] = s
    return under(table, *roots)


def under(table: Seen, *roots: int) -> Seen:
    """The processes of ``table`` (a snapshot of /proc, as ``descendants`` reads it) under the
    ``roots``: their children, their children's children..."""
    found, frontier = {}, list(roots)
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = (ppid, start)
                frontier.append(pid)
    return found


def alive(seen: Seen) -> list[int]:
    """The processes of ``seen`` that are still the same processes."""
    return [pid for pid, (_, start) in seen.items() if (s := stat(pid)) is not None and s[1] == start]


def terminate(procs: list[subprocess.Popen], seen: Seen, grace: float = 10.0) -> None:
    """SIGTERM to each of ``procs``, SIGKILL to those still running after ``grace`` seconds; then
    SIGKILL to every process of ``seen`` (what ran under them) still alive."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in alive(seen):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
