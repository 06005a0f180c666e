"""ui/processes.py: one-off jobs run in their own process, with progress, errors and a time limit."""
from __future__ import annotations

import os
import time

import pytest

from ui.processes import JobFailed, run_in_process


def count_to(n: int, on_progress) -> dict:
    for i in range(n):
        on_progress(i + 1, n)
    return {"pid": os.getpid(), "niceness": os.getpriority(os.PRIO_PROCESS, 0)}


def fail(on_progress) -> None:
    raise ValueError("no digits today")


def sleep_for(seconds: float, on_progress) -> None:
    time.sleep(seconds)


def test_a_job_runs_elsewhere_reports_progress_and_returns_its_result():
    seen = []
    result = run_in_process(count_to, 3, on_progress=lambda i, n: seen.append((i, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert result["pid"] != os.getpid()
    assert result["niceness"] >= os.getpriority(os.PRIO_PROCESS, 0) + 10 or result["niceness"] == 19


def test_a_failing_job_says_what_went_wrong():
    with pytest.raises(JobFailed, match="ValueError: no digits today"):
        run_in_process(fail)


def test_a_job_that_takes_too_long_is_ended():
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run_in_process(sleep_for, 30, timeout=0.5)
    assert time.monotonic() - started < 5
