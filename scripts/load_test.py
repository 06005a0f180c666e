"""A class on one server: N browser sessions drawing on the Draw page and M pressing Start on the
Train page, at once, against a server this script starts on 127.0.0.1; then every tab closes and it
counts the training processes that are left.

    python -m scripts.load_test --draw 30 --train 4 --seconds 120
    python -m scripts.load_test --draw 3 --train 2 --seconds 20 --after-close 60   # what CI runs

Prints one JSON report (and writes it to --out if given):

    draw_latency_ms      mouse-up to the new prediction on screen, every stroke of every drawing
                         session: count, p50, p95, max (polled on every animation frame, as
                         tests/browser/test_draw_browser.py does)
    draw_sent_ms         mouse-up to the drawing leaving the page (the canvas component waits ~200 ms
                         after a stroke): the rest of the latency is the server and the page redrawing
    strokes, wrong, lost strokes timed; drawings read as another digit than the one drawn; strokes
                         whose prediction never came (each also an error)
    training             sessions whose Start was taken, and those that showed a training loss
    errors               everything that went wrong: an exception on a page, a prediction that never
                         came, a page that did not load (each a line of text)
    server_cpu_share     CPU seconds the server used per second while the sessions worked (1.0 is a
                         whole core: its Python threads share one interpreter lock)
    memory_mb            the server's resident memory (peak, at the end) and the training
                         processes' (count, each, total), sampled twice a second from /proc
    training_processes   the most alive at once; after the tabs closed: [seconds, count] at each
                         change (polled every second), the count left at the end of the wait, and
                         the seconds until none was left (null if some still were)

Bounded in sessions (--draw, --train: at most 40 each), time (--seconds: at most 900; waiting
after the close: at most 300) and place: it starts its own server, on 127.0.0.1, and at the end
stops it and every process under it by process id. The browser is Debian's Chromium, as for the
browser tests (NN_CHROMIUM names another). All sessions share one headless Chromium on this machine,
so its latency figures include the browser's own share of the cores.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from scripts.proctree import cmdline, cpu_seconds, descendants, die_with_parent, rss_mb, terminate
from scripts.serve_cluster import free_ports
from tests.browser.conftest import CHROMIUM_FLAGS, _browser_path
from tests.browser.test_draw_browser import CANVAS, EMPTY, ONE, PREDICTION_JS, SEVEN, ZERO

ROOT = Path(__file__).resolve().parents[1]
MAX_SESSIONS, MAX_SECONDS, MAX_AFTER_CLOSE = 40, 900, 300
DIGITS = (("1", ONE), ("0", ZERO), ("7", SEVEN))      # one stroke each: every stroke changes the reading
PAUSE = 0.5                  # seconds between a learner's actions
STROKE_TIMEOUT_MS = 15_000   # a prediction later than this is lost
START_TIMEOUT_MS = 60_000
LOSS_JS = """() => {
    const box = [...document.querySelectorAll("[data-testid='stMetric']")]
        .find(m => m.querySelector("[data-testid='stMetricLabel']")?.innerText.trim() === "Train loss (recent)");
    return box ? box.querySelector("[data-testid='stMetricValue']").innerText : null; }"""
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
EXCEPTION = "[data-testid='stException']"


# ----- processes ------------------------------------------------------------------------------------

def training_processes(server: int) -> list[int]:
    """The training processes (and one-off jobs) of a server: the children of its multiprocessing
    fork server (ui/processes.py), which is itself a child of the server."""
    tree = descendants(server)
    forkservers = {pid for pid, (ppid, _) in tree.items() if ppid == server and "forkserver" in cmdline(pid)}
    return [pid for pid, (ppid, _) in tree.items() if ppid in forkservers]


@dataclass
class Memory:
    """The server's and its training processes' resident memory, sampled in the background."""

    server: int
    server_peak: float = 0.0
    workers_peak_count: int = 0
    workers_peak_total: float = 0.0
    worker_peak_each: float = 0.0
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)   # every process seen under the server

    def sample(self) -> list[int]:
        self.seen.update(descendants(self.server))
        self.server_peak = max(self.server_peak, rss_mb(self.server))
        workers = training_processes(self.server)
        rss = [rss_mb(pid) for pid in workers]
        self.workers_peak_count = max(self.workers_peak_count, len(workers))
        self.workers_peak_total = max(self.workers_peak_total, sum(rss))
        self.worker_peak_each = max([self.worker_peak_each, *rss])
        return workers


# ----- the server -----------------------------------------------------------------------------------

def start_server(models_dir: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free port of 127.0.0.1, as the browser tests start it."""
    port = free_ports(1)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--browser.serverAddress", "localhost",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NN_WEIGHTS_DIR": models_dir},
            preexec_fn=die_with_parent)  # noqa: PLW1509 (only a prctl call)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        with contextlib.suppress(OSError):
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        if proc.poll() is not None or time.time() > deadline:
            terminate([proc], {})
            raise RuntimeError(f"the Streamlit server did not start; its log:\n{log_path.read_text()}")
        time.sleep(0.2)


async def processes_left(sample, after_close: float) -> tuple[list[list[float]], float | None]:
    """After the learners left: the training processes still alive, polled once a second with
    ``sample`` (which returns their PIDs) for at most ``after_close`` seconds.

    Returns [seconds since the call, processes alive] at each change, and the seconds until none was
    left (None if some still were at the end)."""
    closed = time.perf_counter()
    left: list[list[float]] = []
    while True:
        workers = sample()
        since = round(time.perf_counter() - closed, 1)
        if not left or left[-1][1] != len(workers):
            left.append([since, len(workers)])
        if not workers:
            return left, since
        if since >= after_close:
            return left, None
        await asyncio.sleep(1.0)


# ----- the learners -----------------------------------------------------------------------------------

@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)       # mouse-up to the drawing's message to the server
    wrong: int = 0
    lost: int = 0
    started: int = 0
    trained: int = 0
    errors: list[str] = field(default_factory=list)


async def _open(context, url: str, path: str, name: str, results: Results):
    page = await context.new_page()
    page.set_default_timeout(60_000)
    await page.add_init_script(SEND_LOG_JS)
    page.on("pageerror", lambda e: results.errors.append(f"{name}: page error: {e}"))
    # Home first, as a visitor arrives (see tests/browser/test_draw_browser.py)
    await page.goto(url)
    await page.get_by_role("heading", name="Neural network, by hand").wait_for()
    await page.wait_for_selector(IDLE)
    await page.goto(f"{url}/{path}")
    await page.wait_for_selector(IDLE)
    return page


class _Reported(Exception):
    """A session's error, already in the report: the session ends."""


async def _check(page, name: str, results: Results) -> None:
    if await page.locator(EXCEPTION).count():
        text = await page.locator(EXCEPTION).first.inner_text()
        results.errors.append(f"{name}: exception on the page: {text[:300]}")
        raise _Reported


# every message the page sends on its websocket, timed in the page's clock
SEND_LOG_JS = """window.__sends = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) { window.__sends.push(performance.now()); return send.call(this, data); };"""


async def _stroke(page, stroke) -> tuple[float, float | None]:
    """Draw one stroke; return the ms from mouse-up to the changed prediction on screen, and from
    mouse-up to the drawing's message to the server (the canvas component's own delay)."""
    canvas = page.locator(CANVAS)
    box = await canvas.bounding_box()
    before = await page.evaluate(PREDICTION_JS)
    points = []
    for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) // 8))
        points += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(n)]
    points.append(stroke[-1])
    await page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y)
    await page.mouse.up()
    changed = await page.wait_for_function(
        f"(before) => {{ const v = ({PREDICTION_JS})(); return v !== null && v !== before && performance.now(); }}",
        arg=before, polling="raf", timeout=STROKE_TIMEOUT_MS)
    up = await page.evaluate("window.__mouseUp")
    sent = await page.evaluate("up => Math.min(...window.__sends.filter(t => t >= up))", up)
    return await changed.json_value() - up, (sent - up if sent is not None and math.isfinite(sent) else None)


async def open_drawing(context, url: str, k: int, results: Results):
    """A Draw page ready for strokes (mouse-ups timed in the page's own clock), or None."""
    name = f"draw {k}"
    try:
        page = await _open(context, url, "draw", name, results)
        await page.wait_for_selector(CANVAS)
        await page.locator(CANVAS).scroll_into_view_if_needed()
        await page.evaluate("document.addEventListener('mouseup', () => "
                            "{ window.__mouseUp = performance.now(); }, true)")
        return page
    except Exception as e:              # noqa: BLE001 - whatever stopped a learner goes in the report
        results.errors.append(f"{name}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}")


async def drawing_learner(page, k: int, deadline: float, results: Results) -> None:
    """Draw a 1, a 0, a 7 (one stroke each, Clear in between) until the deadline; time every stroke."""
    name = f"draw {k}"
    try:
        i = k                          # each learner starts with a different digit
        while time.time() < deadline:
            digit, strokes = DIGITS[i % len(DIGITS)]
            i += 1
            try:
                latency, sent = await _stroke(page, strokes[0])
            except Exception as e:      # noqa: BLE001 - a lost update is a finding, not a crash
                results.lost += 1
                results.errors.append(f"{name}: no prediction within {STROKE_TIMEOUT_MS / 1000:.0f} s "
                                      f"of mouse-up ({type(e).__name__})")
            else:
                results.latencies.append(latency)
                if sent is not None:
                    results.sent.append(sent)
                await page.wait_for_selector(IDLE)
                if await page.evaluate(PREDICTION_JS) != digit:
                    results.wrong += 1
            await page.wait_for_selector(IDLE)
            await _check(page, name, results)
            await asyncio.sleep(PAUSE)
            await page.get_by_role("button", name="Clear").click()
            await page.wait_for_function(f"() => ({PREDICTION_JS})() === '{EMPTY}'", polling="raf",
                                         timeout=STROKE_TIMEOUT_MS)
            await page.wait_for_selector(IDLE)
            await asyncio.sleep(PAUSE)
    except _Reported:
        pass
    except Exception as e:              # noqa: BLE001
        results.errors.append(f"{name}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}")


async def open_training(context, url: str, k: int, results: Results):
    """A Train page with its Start button, or None."""
    name = f"train {k}"
    try:
        page = await _open(context, url, "train", name, results)
        await page.get_by_role("button", name="Start").wait_for()
        return page
    except Exception as e:              # noqa: BLE001
        results.errors.append(f"{name}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}")


async def training_learner(page, k: int, deadline: float, results: Results) -> None:
    """Press Start (the page's default settings), then watch until the deadline."""
    name = f"train {k}"
    try:
        await page.get_by_role("button", name="Start").click()
        await page.wait_for_function("() => [...document.querySelectorAll('button')].some(b => "
                                     "b.innerText.includes('Start') && b.disabled)", timeout=START_TIMEOUT_MS)
        results.started += 1
        trained = False
        while time.time() < deadline:
            await _check(page, name, results)
            loss = await page.evaluate(LOSS_JS)
            if not trained and loss and loss[0].isdigit():
                trained = True
                results.trained += 1
            await asyncio.sleep(1.0)
    except _Reported:
        pass
    except Exception as e:              # noqa: BLE001
        results.errors.append(f"{name}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}")


# ----- the run ------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation, or None for no values."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return round(v[lo] + (v[hi] - v[lo]) * (pos - lo), 1)


async def _sampler(memory: Memory, stop_event: asyncio.Event) -> None:
    while not stop_event.is_set():
        memory.sample()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop_event.wait(), 0.5)


async def drive(url: str, memory: Memory, n_draw: int, n_train: int, seconds: float,
                after_close: float) -> dict:
    from playwright.async_api import async_playwright

    results = Results()
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(_sampler(memory, stop_sampling))
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=_browser_path(), args=CHROMIUM_FLAGS)
        contexts = [await browser.new_context(viewport={"width": 1400, "height": 1000})
                    for _ in range(n_draw + n_train)]
        # every page open first (as a class arriving), then S seconds of work, all at once
        opening = time.time()
        pages = await asyncio.gather(
            *(open_drawing(contexts[k], url, k, results) for k in range(n_draw)),
            *(open_training(contexts[n_draw + k], url, k, results) for k in range(n_train)))
        began = time.time()
        cpu_began = cpu_seconds(memory.server)
        deadline = began + seconds
        await asyncio.gather(
            *(drawing_learner(pg, k, deadline, results) for k, pg in enumerate(pages[:n_draw]) if pg),
            *(training_learner(pg, k, deadline, results) for k, pg in enumerate(pages[n_draw:]) if pg))
        for context in contexts:
            await context.close()
        closed = time.time()
        server_cpu = (cpu_seconds(memory.server) - cpu_began) / (closed - began)
        await browser.close()
    left, until_none = await processes_left(memory.sample, after_close)
    stop_sampling.set()
    await sampler
    return {
        "sessions": {"draw": n_draw, "train": n_train},
        "seconds_to_open_all_pages": round(began - opening, 1),
        "seconds": round(closed - began, 1),
        "cores": os.cpu_count(),
        "draw_latency_ms": {"count": len(results.latencies),
                            "p50": percentile(results.latencies, 50),
                            "p95": percentile(results.latencies, 95),
                            "max": round(max(results.latencies), 1) if results.latencies else None},
        "draw_sent_ms": {"p50": percentile(results.sent, 50), "p95": percentile(results.sent, 95)},
        "strokes": len(results.latencies),
        "wrong": results.wrong,
        "lost": results.lost,
        "training": {"started": results.started, "trained": results.trained},
        "errors": results.errors,
        "server_cpu_share": round(server_cpu, 2),
        "memory_mb": {"server_peak": round(memory.server_peak, 1),
                      "server_end": round(rss_mb(memory.server), 1),
                      "training_processes_peak": memory.workers_peak_count,
                      "training_process_peak_each": round(memory.worker_peak_each, 1),
                      "training_processes_peak_total": round(memory.workers_peak_total, 1)},
        "training_processes": {"peak": memory.workers_peak_count,
                               "after_close": left,
                               "left_after_close": left[-1][1],
                               "seconds_until_none": until_none,
                               "waited_at_most": after_close},
    }


def _bounded(low: float, high: float, kind=int):
    def parse(text: str):
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text}")
        return value
    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.load_test", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draw", type=_bounded(0, MAX_SESSIONS), default=3, help="drawing sessions")
    parser.add_argument("--train", type=_bounded(0, MAX_SESSIONS), default=2, help="training sessions")
    parser.add_argument("--seconds", type=_bounded(5, MAX_SECONDS, float), default=20.0,
                        help="how long the sessions work before their tabs close")
    parser.add_argument("--after-close", type=_bounded(0, MAX_AFTER_CLOSE, float), default=60.0,
                        help="how long to wait for the training processes to end after the tabs closed")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    if args.draw + args.train == 0:
        parser.error("give at least one session (--draw or --train)")

    with tempfile.TemporaryDirectory(prefix="nn-load-") as tmp:
        log = Path(tmp) / "streamlit.log"
        proc, url = start_server(str(Path(tmp) / "models"), log)
        memory = Memory(proc.pid)
        try:
            report = asyncio.run(drive(url, memory, args.draw, args.train, args.seconds, args.after_close))
        finally:
            memory.sample()
            terminate([proc], memory.seen)
        console = log.read_text()
        if "Traceback" in console:
            report["errors"].append("the server's console shows a traceback: "
                                    + console[console.index("Traceback"):][:500])
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
