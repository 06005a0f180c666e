"""The load test, short: `python -m scripts.load_test --draw 3 --train 2 --seconds 20` must end without
an error, and report what it promises.

It runs as its own process (its own server, its own asynchronous Playwright) and prints its report
(`pytest -s` shows it). No training process may be left 60 s after the tabs closed.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.browser


def test_three_drawing_and_two_training_sessions(tmp_path):
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "scripts.load_test", "--draw", "3", "--train", "2",
                           "--seconds", "20", "--after-close", "60", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    print("\n" + json.dumps(report))

    # known defect (issue 11, open): under load a stroke's prediction is now and then never shown;
    # at most one such loss is tolerated here, and nothing else
    lost = [e for e in report["errors"] if "no prediction within" in e]
    assert [e for e in report["errors"] if e not in lost] == [] and len(lost) <= 1, report["errors"]
    assert report["sessions"] == {"draw": 3, "train": 2} and report["cores"] >= 1
    latency = report["draw_latency_ms"]
    assert latency["count"] == report["strokes"] >= 3          # every drawing session drew
    assert 0 < latency["p50"] <= latency["p95"] <= latency["max"]
    assert report["wrong"] == 0 and report["lost"] == len(lost)
    assert report["training"]["started"] == 2
    memory = report["memory_mb"]
    assert memory["server_peak"] >= memory["server_end"] > 0
    assert 1 <= memory["training_processes_peak"] <= 2
    assert memory["training_processes_peak_total"] >= memory["training_process_peak_each"] > 0
    processes = report["training_processes"]
    assert processes["peak"] == memory["training_processes_peak"]
    assert processes["after_close"][0][0] >= 0 and processes["left_after_close"] >= 0
    assert processes["waited_at_most"] == 60
    assert processes["left_after_close"] == 0, processes      # closed tabs end their runs
    print(f"training processes left after the tabs closed: {processes['left_after_close']} "
          f"(none after {processes['seconds_until_none']} s)" if processes["seconds_until_none"] is not None
          else f"training processes left {processes['waited_at_most']} s after the tabs closed: "
               f"{processes['left_after_close']}")
