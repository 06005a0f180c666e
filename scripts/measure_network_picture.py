"""What the live network picture costs training, measured on this machine.

    python -m scripts.measure_network_picture [--seconds 6] [--rounds 3] [--browser]     (from the repo's root)

In process (always): a training Worker (ui/train_worker.py) trains in its slices exactly as its process
does (worker_main), and between slices answers the page's requests at the page's rate, five a second.
Rounds alternate between

    without   the snapshot the page asks for with another look chosen (decision regions only)
    with      the same plus the network picture (every neuron on a 24 x 24 grid) and the picked
              neuron (its weights, their gradients and latest update), as the page asks while training

and report the trainer's samples per second of processor time (median of the rounds), their ratio,
and the processor time each request takes. The picture's
figure is also built as the web server builds it (ui/network_picture.py), to report its cost there.

--browser: the Train page in Debian's Chromium (or NN_CHROMIUM), training with the network look vs
with "Weights & activations", reading the trainer's rate off the page, counting the network
picture's redraws per second (plotly_afterplot events on it) and the processor time the web
server, the browser and the trainer take (cores). On a machine other work keeps busy, the
trainer's rate is noisy (it runs at a lower priority); the cores the page takes say what it costs.

The network: spirals, 600 points, features x1, x2, 6 hidden layers of 16 tanh units (the largest the
picture draws), Adam, batch 16.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

# one BLAS thread, as every training process has (ui/processes.py): set before NumPy is imported
os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})

from nn.data import load_dataset  # noqa: E402
from nn.features import LABELS  # noqa: E402
from scripts.measure_train_page import cpu_seconds  # noqa: E402
from ui.network_picture import network_figure  # noqa: E402
from ui.run_protocol import RunData, Snapshot  # noqa: E402
from ui.train_settings import defaults_for, to_query  # noqa: E402
from ui.train_worker import SLICE_SECONDS, Worker  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

PAGE_SECONDS = 0.2          # the page asks for a picture five times a second
SETTINGS = replace(defaults_for("spirals"), hidden=(16,) * 6, epochs=10_000)


def _worker() -> Worker:
    ds = load_dataset("spirals", n=SETTINGS.n_points, noise=SETTINGS.noise, val_fraction=SETTINGS.val_share,
                      seed=SETTINGS.seed)
    return Worker(SETTINGS, RunData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds))


def in_process_round(with_picture: bool, seconds: float) -> tuple[float, float]:
    """(samples per second of processor time, ms of processor time per request) over ``seconds`` of
    training. Processor time, not the clock: other work on the machine then barely moves the numbers,
    and what is left is what the picture costs the trainer itself."""
    worker = _worker()
    views = frozenset({"boundary", "network"} if with_picture else {"boundary"})
    worker.handle(Snapshot(views))                       # warm up
    worker._set_running(True)
    start, cpu_start = time.perf_counter(), time.process_time()
    next_picture = start
    asked = 0.0
    requests = 0
    while time.perf_counter() - start < seconds:
        worker.train_slice()
        if time.perf_counter() >= next_picture:          # between slices, as worker_main answers
            cpu = time.process_time()
            worker.handle(Snapshot(views, (0, 0) if with_picture else None))
            asked += time.process_time() - cpu
            requests += 1
            next_picture += PAGE_SECONDS
    used = time.process_time() - cpu_start
    return worker.trainer.samples_seen / used, 1000 * asked / max(requests, 1)


def figure_ms() -> float:
    worker = _worker()
    worker.trainer.step(200)
    view = worker.handle(Snapshot(frozenset({"network"})))["network"]
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        network_figure(view, SETTINGS.activation, SETTINGS.loss, [LABELS[f] for f in SETTINGS.features],
                       ("class 0", "class 1"), (0, 0)).to_json(validate=False)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def browser_rounds(rounds: int, seconds: float) -> dict:
    from playwright.sync_api import sync_playwright
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
         str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--browser.serverAddress", "localhost", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    idle = "[data-testid='stApp'][data-test-script-state='notRunning']"
    query = "&".join(f"{k}={v}" for k, v in to_query(SETTINGS).items())
    results: dict[str, list] = {"with": [], "without": [], "redraws": [], "cpu with": [], "cpu without": []}
    groups = {"server": server.pid, "browser": os.getpid()}
    try:
        for _ in range(150):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.2)
        executable = os.environ.get("NN_CHROMIUM", "/usr/bin/chromium")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=flags)
            for _ in range(rounds):
                for look in ("with", "without"):
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(url)
                    page.wait_for_selector(idle)
                    page.goto(f"{url}/train?{query}")
                    page.wait_for_selector(idle)
                    page.get_by_role("button", name="Start").click()
                    page.wait_for_function("() => document.querySelectorAll('.nn-live-chart').length >= 1")
                    if look == "without":
                        page.get_by_text("Weights & activations", exact=True).click()
                    time.sleep(1.5)
                    page.evaluate("""() => { window.__plots = 0; const charts = document.querySelectorAll('.nn-live-chart');
                        const target = charts[charts.length - 1];
                        target.on && target.on('plotly_afterplot', () => window.__plots++); }""")
                    first, cpu_first = _rate(page), cpu_seconds(groups)
                    time.sleep(seconds)
                    last, cpu_last = _rate(page), cpu_seconds(groups)
                    results[f"cpu {look}"].append({k: (cpu_last[k] - cpu_first[k]) / (last[1] - first[1])
                                                   for k in cpu_last})
                    rate = (last[0] - first[0]) / (last[1] - first[1]) if last[1] > first[1] else float("nan")
                    results[look].append(rate)
                    if look == "with":
                        results["redraws"].append(page.evaluate("() => window.__plots") / seconds)
                    page.get_by_role("button", name="Reset").click()
                    page.wait_for_selector(idle)
                    page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    return results


def _rate(page) -> tuple[float, float]:
    """(samples seen, seconds trained) from the page's progress text: 'Epoch 3.2 of 10000 · 12,345 samples/s'."""
    text = page.locator("[data-testid='stProgress']").first.inner_text()
    epoch = float(text.split("Epoch ")[1].split(" ")[0])
    return epoch * 480, time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    costs: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for with_picture in (False, True):
            rate, ms = in_process_round(with_picture, args.seconds)
            rates[with_picture].append(rate)
            costs[with_picture].append(ms)
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"in process, slices of {SLICE_SECONDS * 1000:.0f} ms, requests every {PAGE_SECONDS * 1000:.0f} ms:")
    print(f"  without the picture: {without:,.0f} samples per CPU second ({statistics.median(costs[False]):.2f} ms "
          "a request)")
    print(f"  with the picture:    {with_:,.0f} samples per CPU second ({statistics.median(costs[True]):.2f} ms "
          "a request)")
    extra = statistics.median(costs[True]) - statistics.median(costs[False])
    print(f"  ratio {with_ / without:.3f}; the picture's own work in the trainer: {extra:.2f} ms a request, "
          f"{extra / (PAGE_SECONDS * 1000):.1%} of its time")
    print(f"  the web server builds the picture's figure in {figure_ms():.1f} ms")
    if args.browser:
        r = browser_rounds(args.rounds, args.seconds)
        w, wo = statistics.median(r["with"]), statistics.median(r["without"])
        print("in Chromium (server, browser and trainer on this machine):")
        print(f"  without the picture: {wo:,.0f} samples/s; with: {w:,.0f} samples/s; ratio {w / wo:.3f}")
        print(f"  network picture redraws: {statistics.median(r['redraws']):.1f} per second")
        for look in ("without", "with"):
            cores = {k: statistics.median(c[k] for c in r[f"cpu {look}"]) for k in r[f"cpu {look}"][0]}
            print(f"  cores used {look} the picture: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()))


if __name__ == "__main__":
    main()
