"""The processes the pages start for heavy work: training runs (ui/run_client.py) and one-off jobs
(``run_in_process``: "Does it train?" on the Weight-init page), so that no learner's work holds the
web server's thread or its interpreter lock.

All of them fork from one fork server (started once, ~0.3 s) with NumPy and nn already imported,
one BLAS thread each, and a lower CPU priority than the web server.
This module never imports streamlit.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import threading
import traceback
import types
from collections.abc import Callable

JOB_NICENESS = 10        # as for training processes: the web server comes first


_forkserver_lock = threading.Lock()
_BARE_MAIN = types.ModuleType("__main__")       # no __file__, no __spec__: nothing to re-run


@contextlib.contextmanager
def without_main_script():
    """While a process is started: hide the main script from multiprocessing.

    multiprocessing makes every new process import the parent's ``__main__`` module again (as
    ``__mp_main__``). Under Streamlit, ``__main__`` is the page script being run, so each training
    process would re-run app.py outside Streamlit: a screenful of "missing ScriptRunContext"
    warnings and wasted time. The training process needs nothing from it.
    """
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = _BARE_MAIN
    try:
        yield
    finally:
        sys.modules["__main__"] = saved


def context():
    """A forkserver context whose server has NumPy and nn imported with one BLAS thread.

    forkserver, because forking the multi-threaded web server itself is unsafe; one BLAS thread,
    because OpenBLAS's default two threads spin against the web server and the browser on a
    2-core machine (measured: 4,400 instead of 95,000 samples/s). Starting the server costs
    ~0.3 s once per web-server process; each run then forks from it in ~10 ms.
    """
    ctx = multiprocessing.get_context("forkserver")
    with _forkserver_lock:
        ctx.set_forkserver_preload(["ui.train_worker"])
        saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
        os.environ.update({k: "1" for k in saved})
        try:
            with without_main_script():
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
    context()


class JobFailed(RuntimeError):
    """A job run by ``run_in_process`` raised; the message says what and where."""


def _job_main(conn, fn: Callable, args: tuple, kwargs: dict) -> None:
    with contextlib.suppress(OSError):
        os.nice(JOB_NICENESS)
    try:
        result = fn(*args, **kwargs, on_progress=lambda *p: conn.send(("progress", p)))
        conn.send(("done", result))
    except Exception as e:
        traceback.print_exc()
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def run_in_process(fn: Callable, *args, on_progress: Callable | None = None, timeout: float = 600.0, **kwargs):
    """``fn(*args, **kwargs, on_progress=...)`` in its own process; returns its result.

    fn must be importable (a module-level function) and accept ``on_progress``; each call of it
    in the job reaches ``on_progress`` here. The calling thread waits on a pipe, holding no lock,
    so the server's other sessions go on. Raises JobFailed if the job raises or stops, TimeoutError
    after ``timeout`` seconds (the job is then ended).
    """
    ctx = context()
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_job_main, args=(child, fn, args, kwargs), name="nn-job", daemon=True)
    with without_main_script():
        process.start()
    child.close()
    try:
        while True:
            if not parent.poll(timeout):
                raise TimeoutError(f"the job did not finish within {timeout:.0f} s")
            try:
                kind, payload = parent.recv()
            except EOFError:
                raise JobFailed(f"the job's process stopped (exit code {process.exitcode})") from None
            if kind == "progress":
                if on_progress is not None:
                    on_progress(*payload)
            elif kind == "done":
                return payload
            else:
                raise JobFailed(payload)
    finally:
        parent.close()
        process.join(timeout=1.0)
        if process.is_alive():
            process.terminate()
            process.join(timeout=1.0)
