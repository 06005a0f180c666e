"""The class load test, short: `python -m scripts.class_load --draw 3 --train 0 --seconds 10` records
what a real browser sends when a learner draws, replays it from three protocol clients against a
fresh server, and must end without an error: every stroke answered with the digit drawn, every image
fetched, the recorded widget ids found on every session's page, nothing left running.

It runs as its own process (two servers of its own, one Chromium for the recording) and prints its
report (`pytest -s` shows it). The training processes' end after the clients leave is checked by
tests/browser/test_load_short.py (it takes ~30 s after the close: too long here); the second test
shortens that wait (NN_GONE_SECONDS) to check it across two app processes behind nginx.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_three_protocol_learners_draw(tmp_path):
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "scripts.class_load", "--draw", "3", "--train", "0",
                           "--seconds", "10", "--after-close", "10", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    print("\n" + json.dumps(report))

    assert report["errors"] == []
    assert report["sessions"] == {"draw": 3, "train": 0}
    answer, rerun = report["answer_ms"], report["rerun_ms"]
    assert report["strokes"] == answer["count"] >= 3 and report["lost"] == 0 and report["wrong"] == 0
    assert 0 < answer["p50"] <= answer["p95"] <= answer["max"]
    assert rerun["count"] == answer["count"] and rerun["p50"] >= answer["p50"]   # the answer comes first
    assert report["clear_ms"]["count"] >= 1
    assert report["media"]["fetched"] > 0 and report["media"]["failed"] == 0
    recording = report["recording"]
    assert recording["sessions_with_the_recorded_canvas_id"] == "3 of 3"      # one id for every session
    assert recording["recorded_widget_ids_not_on_the_page"] == {}
    assert len(recording["browser_answer_ms"]) == len(recording["stroke_message_bytes"]) == 3
    memory = report["memory_mb"]
    assert memory["server_peak"] >= memory["server_end"] > 0
    assert report["training_processes"]["left_after_close"] == 0


def test_a_class_on_two_app_processes_behind_nginx(tmp_path):
    """`--apps 2`: the class through nginx (scripts/serve_cluster.py), spread evenly: each learner
    stays with one app process (its nn_server cookie), both get learners, the figures cover both, and
    the training learner's process ends after it leaves (NN_GONE_SECONDS short, so within seconds)."""
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "scripts.class_load", "--draw", "2", "--train", "1",
                           "--apps", "2", "--spread", "even", "--seconds", "10", "--after-close", "15",
                           "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "NN_GONE_SECONDS": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    print("\n" + json.dumps(report))

    assert report["errors"] == []
    assert report["apps"] == 2 and report["sessions"] == {"draw": 2, "train": 1}
    per_app = report["sessions_per_app"]
    assert len(per_app) == 2 and all(s["draw"] == 1 for s in per_app.values())     # one drawing learner each
    assert sum(s["train"] for s in per_app.values()) == 1
    assert all(report["websockets_per_app"][app] >= sum(s.values()) for app, s in per_app.items())
    answer = report["answer_ms"]
    assert report["strokes"] == answer["count"] >= 2 and report["lost"] == 0 and report["wrong"] == 0
    assert report["media"]["failed"] == 0
    assert report["training"]["start_finished"] == 1
    assert report["recording"]["sessions_with_the_recorded_canvas_id"] == "2 of 2"
    # the figures are over both app processes, nginx's apart
    assert set(report["server_cpu_share_per_app"]) == set(per_app)
    assert abs(report["server_cpu_share"] - sum(report["server_cpu_share_per_app"].values())) <= 0.02
    assert report["balancer_cpu_share"] is not None and report["balancer_memory_mb"]["peak"] > 0
    memory = report["memory_mb"]
    assert memory["server_peak"] >= max(memory["server_peak_per_app"].values()) > 0
    processes = report["training_processes"]
    assert processes["limit"] == sum(processes["limit_per_app"].values()) >= 2
    assert processes["peak"] == 1 and sum(processes["peak_per_app"].values()) == 1
    assert processes["left_after_close"] == 0
    assert report["left_running_after_stop"] == []
