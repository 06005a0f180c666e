"""Measure the Train page in a real browser against the command line, on this machine.

    python scripts/measure_train_page.py [--epochs 60] [--rounds 3]

For the bundled MNIST sample and the page's default digit network (784-128-64-10, ReLU, He,
Adam 1e-3, batch 64) it reports:

    start_to_first_chart_ms   click on Start -> the loss chart and a numeric "Train loss" are on screen
    redraws_per_second        changes of the "Epoch" metric per second while training (one per redraw)
    chart_redraws_per_second  completed redraws per second of each live chart (plotly_afterplot events)
    cpu                       per round: CPU cores used by the web server, the browser and the trainer
    page_samples_per_second   training throughput while Chromium shows the page redrawing:
                              (epochs advanced x 8,000) / wall-clock seconds, read off the page
    cli_samples_per_second    `python -m nn.train` on the same model and data: its JSON samples_per_sec,
                              which counts only time spent inside training steps (a strict baseline)
    cli_wall_samples_per_second  its JSON wall_samples_per_sec: the whole training loop by the clock,
                              epoch-end validation included, as the page is counted
    cli_one_blas_thread_...   the same by the clock, with one BLAS thread, as the page's trainer runs
    fraction                  page / CLI (steps only);  fraction_wall: page / CLI by the clock

Rounds alternate page and CLI so that load from other processes hits both alike; medians are
reported. Needs Debian's Chromium (/usr/bin/chromium) or NN_CHROMIUM.

--isolate-browser pins Chromium and the web server to CPU 1 and the training process to CPU 0
(Linux only): what the page keeps when the browser does not compete for the trainer's core, as
when the learner's browser runs on another machine.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MODEL_ARGS = ["--dataset", "mnist-sample", "--hidden", "128,64", "--activation", "relu", "--init", "he",
              "--optimizer", "adam", "--lr", "0.001", "--batch-size", "64"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def cli_rates(epochs: int, env: dict | None = None) -> tuple[float, float]:
    """The CLI's (samples_per_sec, wall_samples_per_sec) for the page's model and data."""
    out = subprocess.run([sys.executable, "-m", "nn.train", *MODEL_ARGS, "--epochs", str(epochs), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["samples_per_sec"], result["wall_samples_per_sec"]


def start_server(weights_dir: str, prefix: list[str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--browser.serverAddress", "localhost", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "NN_WEIGHTS_DIR": weights_dir})
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the Streamlit server did not start")


def metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has=page.get_by_text(label, exact=True)).first
    return box.locator("[data-testid='stMetricValue']").inner_text()


def epochs_done(page) -> float:
    return float(metric(page, "Epoch").split("/")[0])


def _tree() -> dict[int, list[int]]:
    """{parent pid: [child pids]} of every process, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
            children.setdefault(int(rest.rsplit(")", 1)[1].split()[1]), []).append(int(pid))
        except (OSError, ValueError, IndexError):
            continue
    return children


def pin_workers(server_pid: int, cpu: int) -> None:
    """Move the server's training processes (children of its fork server) onto one CPU."""
    children = _tree()
    for forkserver in children.get(server_pid, []):
        for worker in children.get(forkserver, []):
            os.sched_setaffinity(worker, {cpu})


def _descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def cpu_seconds(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process tree: {name: root pid}. Trees are
    disjoint: the server's tree excludes its training workers, which are counted as "trainer"."""
    children, tick = _tree(), os.sysconf("SC_CLK_TCK")
    trees = {name: _descendants(pid, children) for name, pid in groups.items()}
    if "browser" in trees:                # this script's other children: Playwright's driver and Chromium
        server = set(_descendants(groups.get("server", -1), children))
        trees["browser"] = [p for p in trees["browser"] if p not in server and p != groups["browser"]]
    if "server" in trees:
        # the server's children are its fork server (and resource tracker); theirs are the trainers
        trainers = [p for f in children.get(groups["server"], []) for p in _descendants(f, children) if p != f]
        trees["server"] = [p for p in trees["server"] if p not in trainers]
        trees["trainer"] = trainers
    out = {}
    for name, pids in trees.items():
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, ValueError, IndexError):
                continue
        out[name] = total / tick
    return out


def page_round(browser, url: str, epochs: int, window: float, server_pid: int | None = None,
               groups: dict[str, int] | None = None) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector(IDLE)
    page.goto(f"{url}/train?data=mnist-sample&epochs={epochs}")
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Start").wait_for()
    # the page's loss chart is the first plotly chart with a title "Loss ..."; wait with rAF polling
    t0 = time.perf_counter()
    page.get_by_role("button", name="Start").click()
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='stMetric']")].some(m =>
                 m.innerText.startsWith('Train loss') && /\\d/.test(m.querySelector("[data-testid='stMetricValue']").innerText))
               && [...document.querySelectorAll('.js-plotly-plot')].some(p => p.textContent.includes('lower is better'))""",
        polling="raf", timeout=30_000)
    first_chart_ms = (time.perf_counter() - t0) * 1000
    if server_pid is not None:
        pin_workers(server_pid, 0)
    time.sleep(1.0)
    # count redraws: every redraw while training changes the Epoch metric's text
    page.evaluate("""() => { window.__redraws = 0; window.__last = null;
        const tick = () => { const el = [...document.querySelectorAll("[data-testid='stMetric']")]
              .find(m => m.innerText.startsWith('Epoch'));
            const v = el && el.querySelector("[data-testid='stMetricValue']").innerText;
            if (v !== window.__last) { window.__redraws++; window.__last = v; }
            requestAnimationFrame(tick); };
        requestAnimationFrame(tick); }""")
    # and count the live charts' own redraws (plotly's afterplot event on each plot div)
    page.evaluate("""() => { window.__plots = [];
        document.querySelectorAll('.nn-live-chart').forEach((div, i) => {
            window.__plots[i] = 0; div.on('plotly_afterplot', () => { window.__plots[i]++; }); }); }""")
    c0 = cpu_seconds(groups or {})
    e0, t_start = epochs_done(page), time.perf_counter()
    time.sleep(window)
    e1, t_end = epochs_done(page), time.perf_counter()
    c1 = cpu_seconds(groups or {})
    redraws = page.evaluate("window.__redraws") - 1
    chart_redraws = page.evaluate("window.__plots")
    progress_text = page.locator("[data-testid='stProgress']").first.inner_text()
    page.get_by_role("button", name="Pause").click()
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(IDLE)
    page.close()
    shown = re.search(r"([\d,]+) samples/s", progress_text)
    return {"first_chart_ms": first_chart_ms, "redraws_per_s": redraws / (t_end - t_start),
            "chart_redraws_per_s": [round(n / (t_end - t_start), 2) for n in chart_redraws],
            "page_rate": (e1 - e0) * 8000 / (t_end - t_start),
            "shown_rate": float(shown.group(1).replace(",", "")) if shown else float("nan"),
            "epochs_window": (e0, e1),
            "cpu": {k: round((c1[k] - c0[k]) / (t_end - t_start), 2) for k in c1}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200, help="epochs of the page run (must outlast the window)")
    parser.add_argument("--cli-epochs", type=int, default=20)
    parser.add_argument("--window", type=float, default=6.0, help="seconds of training observed per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--isolate-browser", action="store_true",
                        help="browser and web server on CPU 1, training on CPU 0")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("NN_CHROMIUM", "/usr/bin/chromium")
    results, cli, cli_one_thread, cli_wall = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        prefix = ["taskset", "-c", "1"] if args.isolate_browser else []
        if args.isolate_browser:
            wrapper = Path(tmp) / "chromium-on-cpu1"
            wrapper.write_text(f'#!/bin/sh\nexec taskset -c 1 {chromium} "$@"\n')
            wrapper.chmod(0o755)
            chromium = str(wrapper)
        proc, url = start_server(str(Path(tmp) / "weights"), prefix)
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            for r in range(args.rounds):
                results.append(page_round(browser, url, args.epochs, args.window,
                                          proc.pid if args.isolate_browser else None,
                                          {"server": proc.pid, "browser": os.getpid()}))
                time.sleep(3.0)                 # let the browser settle: OpenBLAS's 2 threads suffer from any load
                steps, wall = cli_rates(args.cli_epochs)
                cli.append(steps)
                cli_wall.append(wall)
                cli_one_thread.append(cli_rates(args.cli_epochs, {**os.environ, "OPENBLAS_NUM_THREADS": "1"})[1])
                print(f"round {r + 1}: page {results[-1]}, CLI {cli[-1]:,.0f}, CLI by the clock {cli_wall[-1]:,.0f}, "
                      f"CLI 1 BLAS thread by the clock {cli_one_thread[-1]:,.0f} samples/s",
                      file=sys.stderr, flush=True)
        finally:
            browser.close()
            proc.terminate()
            proc.wait(10)
    med = {k: statistics.median(r[k] for r in results)
           for k in ("first_chart_ms", "redraws_per_s", "page_rate", "shown_rate")}
    summary = {"start_to_first_chart_ms": round(med["first_chart_ms"]),
               "redraws_per_second": round(med["redraws_per_s"], 2),
               "chart_redraws_per_second": [round(statistics.median(r["chart_redraws_per_s"][i] for r in results), 2)
                                            for i in range(min(len(r["chart_redraws_per_s"]) for r in results))],
               "page_samples_per_second": round(med["page_rate"]),
               "page_samples_per_second_shown": round(med["shown_rate"]),
               "cli_samples_per_second": round(statistics.median(cli)),
               "cli_one_blas_thread_samples_per_second": round(statistics.median(cli_one_thread)),
               "cli_wall_samples_per_second": round(statistics.median(cli_wall)),
               "fraction": round(med["page_rate"] / statistics.median(cli), 3),
               "fraction_wall": round(med["page_rate"] / statistics.median(cli_wall), 3),
               "fraction_one_blas_thread": round(med["page_rate"] / statistics.median(cli_one_thread), 3),
               "rounds": args.rounds, "cpus": os.cpu_count(), "isolate_browser": args.isolate_browser,
               "load_average": round(os.getloadavg()[0], 2)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
