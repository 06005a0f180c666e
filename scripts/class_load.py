"""A class on one server, the server's share only: N learners drawing on the Draw page and M pressing
Start on the Train page, each a lightweight client that speaks Streamlit's own websocket protocol,
replaying what a real browser sent; then every client leaves and it counts the training processes
that are left.

    python -m scripts.class_load --draw 30 --train 2 --seconds 60
    python -m scripts.class_load --draw 40 --train 0 --seconds 60          # the server's memory
    python -m scripts.class_load --record strokes.json                     # record only, then
    python -m scripts.class_load --replay strokes.json --draw 3 --seconds 10   # replay without a browser
    python -m scripts.class_load --replay strokes.json --draw 30 --train 2 --apps 2 --seconds 60
                                    # the same class on 2 app processes behind nginx (see below)

Why: scripts/load_test.py drives one real Chromium tab per learner, and on a 2-core server those tabs
take most of the cores, so its figures say more about Chromium than about the server. In a class every
learner brings their own browser; only the server and its training processes share the server's cores.
Here each learner is a websocket and a few protobufs, so the latencies are the server's.

How, in two steps:

1. Record (one real browser, Debian's Chromium through Playwright, on a server of its own that is
   stopped before the class starts; skipped with --replay). It opens the Draw page as
   tests/browser/test_draw_browser.py does, draws a 1, a 0 and a 7 (one stroke each, Clear after
   each), opens the Train page and presses Start, and keeps every websocket message the page sent
   (BackMsg protobufs). What it learnt:

   - A stroke is one ``rerun_script`` BackMsg, sent by the canvas ~200 ms after mouse-up. It holds
     ``widget_states``: the value of every widget on the page (model, input, pen width, ...) and the
     canvas's own, a ``json_value``: ``{"drawing": {"raw": <the Fabric.js objects>, "data":
     "data:image/png;base64,<the 280x280 PNG>"}, ...}`` (6-16 kB per stroke). Because the canvas and
     the reading are one ``st.fragment``, the message also names that ``fragment_id`` and the page's
     ``page_script_hash``: only the fragment reruns.
   - Clear is the same message plus the Clear button's ``trigger_value``.
   - Widget ids are ``$$ID-<hash>-<key>``, the hash over the element type, the key and the page's
     script hash (``st.Page`` hashes its url_path): the same in every session. The canvas's key is
     ``draw_canvas_<n>`` (ui/draw_session.py canvas_key), and Clear moves n on, so its id changes at
     each Clear. The fragment id is a hash of the fragment function's name and its place on the page:
     the same in every session too. A client learns them as a browser does, from what the server
     sends: the canvas element (``bidi_component``) carries its id and, in its delta, the fragment id;
     ``navigation`` carries the page's script hash. The replayed message is the recorded one with
     the current canvas id, fragment id, script hash, address and the client's cached-message hashes.
   - The answer is the ``metric`` element labelled "Prediction" (ui/draw_views.py answer); the rerun
     ends with ``script_finished`` (FINISHED_FRAGMENT_RUN_SUCCESSFULLY for a stroke).
   - The Train page's live view is a fragment with ``run_every``: the server sends ``auto_rerun``
     (interval 0.2 s, fragment id) and the browser then sends a rerun BackMsg for that fragment on a
     timer, whether or not the previous one has finished, until ``stop_auto_rerun``.

2. The class (a fresh server, started as scripts/load_test.py starts it). A teacher's visit of the Home
   page first (on a fresh server a deep link runs without app.py's navigation until someone has
   opened the app). Then every learner arrives at once: like a browser it GETs the page's HTML,
   /_stcore/health (the XSRF cookie) and /_stcore/host-config, opens the websocket
   ws://127.0.0.1:PORT/_stcore/stream with the subprotocols ``streamlit, <xsrf token>``, the page's
   Origin and its learner cookie, sends the recorded first rerun of its page and waits for it to end.
   Each client keeps Streamlit's ForwardMsg cache as the browser does (answers ``ref_hash`` messages,
   sends its cached hashes), fetches each /media/ image its page shows once (a browser's memory
   cache), and keeps the ``auto_rerun`` timers. The training learners press Start (the recorded
   message); once the training places are taken (or after 30 s) the measured window opens. Each
   drawing learner then draws (the recorded strokes in turn, starting at a different digit each),
   waits for the answer and the end of the rerun, pauses, presses Clear, waits, pauses, and so on
   until the window closes.

On several app processes (--apps K, K >= 1): the class (not the recording, which keeps a server of
its own) runs against `python -m scripts.serve_cluster --apps K` started on free ports of 127.0.0.1:
nginx on P, the app processes on P+1 ... P+K, each with NN_MAX_TRAINING = cores / K; the run begins
once nginx and every app answer /_stcore/health. The learners talk to nginx only, and stay with one
app process as a browser does: nginx's first response sets the ``nn_server`` cookie
(deploy/nginx-site.conf), the client keeps every cookie it is given and sends them with each later
request and with the websocket's upgrade. Each response names the process that answered
(``X-NN-Upstream``): a learner answered by two processes is an error, and so is an app process with
fewer websockets open (nginx -> app, from /proc/net/tcp) than learners whose pages it served. How the
learners are spread, --spread:

    nginx   (default) every learner arrives without the cookie and nginx draws it (a class's first
            visit): the spread is random, 30 learners on 2 processes make 15 +- 3 each
    even    every learner arrives with an ``nn_server`` cookie nginx maps to the processes in turn
            (returning browsers; the ids are found by asking nginx which process each reaches):
            N/K learners each, whatever the class size, e.g. for a test that needs every process

The teacher's first visit is made to each app process directly (each needs one, see above).

The pause: --pause (default 2 s, each pause drawn between 0.5x and 1.5x so that learners do not keep
in step) follows every answer, before the next action. A learner looks at the answer (about 2 s),
presses Clear, goes back to the canvas and draws the next digit (a stroke takes the hand 1-2 s, so the
second pause stands for drawing). That is one stroke (and one Clear) every ~4.5 s per learner, or
~6-7 strokes a second for 30 learners: a class in which every learner draws without stopping, the
busy end of a lesson. The loop is closed, as a learner's is: a slower server gets fewer strokes.

Prints one JSON report (and writes it to --out if given):

    answer_ms            stroke message sent -> its Prediction received: count, p50, p95, max. A browser
                         adds the canvas's own ~200 ms before it sends (recording.component_delay_ms),
                         and after it receives, its own drawing of the page:
    mouse_up_estimate_ms answer_ms p50/p95 plus the recorded component delay (median): the server's
                         part of the issue's mouse-up -> prediction figure, with the canvas's delay
    rerun_ms             stroke message sent -> script_finished (the whole fragment, chart and all)
    clear_ms             Clear sent -> its script_finished
    strokes, wrong, lost strokes timed; answers that were not the digit drawn (a "?" counts); strokes
                         without a Prediction within 15 s (each also an error)
    strokes_per_second   of the whole class over the window; reruns_per_second counts Clears and the
                         training pages' redraws too
    training             Start pressed / finished; sessions that showed a training loss; the live
                         view's redraw requests sent and reruns finished, per second and session
    media                images fetched, and fetches that failed
    errors               everything that went wrong (each a line of text)
    apps                 K (0: one app process and no nginx)
    sessions_per_app     by app process (its address): the learners whose pages it served, {draw,
                         train}; websockets_per_app: the connections nginx had open to it when the
                         window opened (null without nginx)
    server_cpu_share     the app processes' CPU seconds per second of the window (1.0 = a core),
                         summed (server_cpu_share_per_app: each); children_cpu_share: their fork
                         servers and training processes together; balancer_cpu_share: nginx's, master
                         and worker (null without nginx); cluster_script_cpu_share: serve_cluster's
                         own process; client_cpu_share: this script's own, on the same cores;
                         others_cpu_share: every other process of the machine (a run beside another
                         is disturbed)
    memory_mb            the app processes' resident memory, summed (the peak of the sum, at the end)
                         and each one's, and the training processes' (count, each, total), sampled
                         twice a second from /proc; balancer_memory_mb: nginx's (peak, at the end)
    training_processes   the most alive at once, over all app processes and each one's, beside the
                         training places (limit: the app processes' NN_MAX_TRAINING summed, = cores
                         with serve_cluster). A run has its process from Start on, also while it
                         waits for a place, so the check is: an app process never has more than one
                         per learner who pressed Start there (nor, then, more than its places when
                         no more learners than places trained). After the clients left: [seconds,
                         count] at each change, the count left at the end of the wait, the seconds
                         until none
    left_running_after_stop  processes started for the run that were still running after it
                         stopped them (each also an error)
    recording            where the messages came from; what the browser itself measured there
                         (mouse-up -> prediction on screen, mouse-up -> message sent); whether every
                         session's canvas had the recorded widget id and fragment id; recorded widget
                         ids a session's page had not shown when it sent (left out, as a browser
                         would: a timed redraw can come before the run that shows a widget ends)

Bounded: at most 60 sessions, 8 app processes, 600 s of class and 120 s of waiting after it, and
900 s in all (a watchdog ends the run); talks only to 127.0.0.1; starts its own servers (or
serve_cluster, which starts nginx and the app processes) and at the end stops them and every process
under them by process id (scripts/proctree.py), as scripts/load_test.py does, then checks that none
is left.

What this does not measure: the learners' browsers (drawing the page, ~1 GB of Chromium each, not the
server's concern), the first download of the app's JavaScript (~5 MB per learner, at arrival only,
cached after), and the network between the browsers and the server (here the loopback).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from scripts.load_test import (EXCEPTION, IDLE, ROOT, Memory, Results, _bounded, _stroke, open_drawing,
                               percentile, processes_left, start_server, training_learner)
from scripts.proctree import Seen, alive, cmdline, cpu_seconds, descendants, die_with_parent, rss_mb, terminate, under
from scripts.serve_cluster import free_ports, healthy
from tests.browser.conftest import CHROMIUM_FLAGS, _browser_path
from tests.browser.test_draw_browser import EMPTY, ONE, PREDICTION_JS, SEVEN, ZERO

MAX_SESSIONS, MAX_SECONDS, MAX_AFTER_CLOSE, MAX_TOTAL = 60, 600, 120, 900
MAX_APPS = 8                 # app processes behind nginx (--apps)
DIGITS = (("1", ONE), ("0", ZERO), ("7", SEVEN))     # one stroke each: every stroke changes the reading
PAUSE = 2.0                  # seconds after each answer before the learner's next action (see above)
STROKE_TIMEOUT = 15.0        # an answer later than this is lost
OPEN_TIMEOUT = 120.0         # a page's first run (40 arrive at once)
START_WAIT = 30.0            # for the training places to be taken before the window opens
RECORD_TIMEOUT = 240.0       # the recording in the browser (~15 s on a quiet machine, ~45 s on a busy one)
CLUSTER_TIMEOUT = 150.0      # serve_cluster: its app processes (it waits 90 s for them) and nginx
PREDICTION, TRAIN_LOSS = "Prediction", "Train loss (recent)"
FINISHED_EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN
CANVAS_COMPONENT = "drawable_canvas"          # in the canvas's component name
LEARNER_COOKIE = "nn_learner"                 # ui/shared.py: a returning learner's browser sends it
SERVER_COOKIE = "nn_server"                   # deploy/nginx-site.conf: which app process a browser reaches
UPSTREAM_HEADER = "x-nn-upstream"             # deploy/nginx-site.conf: which app process answered


# ----- 1. recording: what one real browser sends -------------------------------------------------------

@dataclass
class Template:
    """A recorded rerun BackMsg and what it depended on when it was sent."""
    msg: bytes                  # the serialised BackMsg
    canvas_id: str = ""         # the canvas's widget id on the page then ("" if none)
    fragment_id: str = ""       # the fragment the message reran ("" for a whole page)
    digit: str = ""             # for a stroke: the digit drawn

    def to_json(self) -> dict:
        return {"msg": base64.b64encode(self.msg).decode(), "canvas_id": self.canvas_id,
                "fragment_id": self.fragment_id, "digit": self.digit}

    @classmethod
    def from_json(cls, d: dict) -> Template:
        return cls(base64.b64decode(d["msg"]), d["canvas_id"], d["fragment_id"], d["digit"])


@dataclass
class Recording:
    home: Template                                              # the Home page's first rerun
    draw_open: Template                                         # the Draw page's first rerun
    strokes: list[tuple[Template, Template]]                    # (a stroke, the Clear after it)
    train_open: Template | None = None
    train_start: Template | None = None
    train_auto: Template | None = None                          # the live view's timed rerun
    browser: dict = field(default_factory=dict)                 # what the browser measured

    def to_json(self) -> dict:
        one = lambda t: t.to_json() if t is not None else None   # noqa: E731
        return {"home": one(self.home), "draw_open": one(self.draw_open),
                "strokes": [[s.to_json(), c.to_json()] for s, c in self.strokes],
                "train_open": one(self.train_open), "train_start": one(self.train_start),
                "train_auto": one(self.train_auto), "browser": self.browser}

    @classmethod
    def from_json(cls, d: dict) -> Recording:
        one = lambda x: Template.from_json(x) if x else None     # noqa: E731
        return cls(one(d["home"]), one(d["draw_open"]),
                   [(Template.from_json(s), Template.from_json(c)) for s, c in d["strokes"]],
                   one(d["train_open"]), one(d["train_start"]), one(d["train_auto"]), d["browser"])


class _Wire:
    """Every websocket message the pages of a browser context sent, in order, decoded, with the
    canvas's widget id as the page had last received it."""

    def __init__(self, context):
        self.sent: list[tuple[int, BackMsg, str]] = []        # (socket, message, canvas id)
        self.sockets = 0
        self.canvas = ""
        context.on("page", lambda page: page.on("websocket", self._socket))

    def _socket(self, ws) -> None:
        n, self.sockets = self.sockets, self.sockets + 1
        self.canvas = ""                 # a new page load: no canvas until the server sends one
        ws.on("framesent", lambda data: self._sent(n, data))
        ws.on("framereceived", self._received)

    def _sent(self, n: int, data) -> None:
        if isinstance(data, (bytes, bytearray)):
            self.sent.append((n, BackMsg.FromString(bytes(data)), self.canvas))

    def _received(self, data) -> None:
        if not isinstance(data, (bytes, bytearray)):
            return
        msg = ForwardMsg.FromString(bytes(data))
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            if el.WhichOneof("type") == "bidi_component" and CANVAS_COMPONENT in el.bidi_component.component_name:
                self.canvas = el.bidi_component.id

    def reruns(self, since: int = 0) -> list[tuple[int, BackMsg, str]]:
        return [s for s in self.sent[since:] if s[1].WhichOneof("type") == "rerun_script"]


def _template(entry: tuple[int, BackMsg, str], digit: str = "") -> Template:
    _, msg, canvas_id = entry
    return Template(msg.SerializeToString(), canvas_id, msg.rerun_script.fragment_id, digit)


def _has_trigger(msg: BackMsg) -> bool:
    return any(w.WhichOneof("value") == "trigger_value" for w in msg.rerun_script.widget_states.widgets)


async def record(url: str, train: bool) -> Recording:
    """Draw a 1, a 0 and a 7 (Clear after each) in one real browser and, if ``train``, press Start on
    the Train page; keep what the pages sent."""
    from playwright.async_api import async_playwright

    results = Results()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=_browser_path(), args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            wire = _Wire(context)
            page = await open_drawing(context, url, 0, results)     # Home, then /draw (a second socket)
            if page is None:
                raise RuntimeError(f"the Draw page did not open for the recording: {results.errors}")
            home, draw_open = (next(s for s in wire.reruns() if s[0] == n) for n in (0, wire.sockets - 1))
            strokes, answer_ms, delay_ms, read = [], [], [], []
            for digit, stroke in DIGITS:
                mark = len(wire.sent)
                latency, sent = await _stroke(page, stroke[0])
                await page.wait_for_selector(IDLE)
                read.append(await page.evaluate(PREDICTION_JS))
                answer_ms.append(round(latency, 1))
                if sent is not None:
                    delay_ms.append(round(sent, 1))
                drawn = [s for s in wire.reruns(mark) if not _has_trigger(s[1])]
                mark = len(wire.sent)
                await page.get_by_role("button", name="Clear").click()
                await page.wait_for_function(f"() => ({PREDICTION_JS})() === '{EMPTY}'", polling="raf")
                await page.wait_for_selector(IDLE)
                cleared = [s for s in wire.reruns(mark) if _has_trigger(s[1])]
                if len(drawn) != 1 or len(cleared) != 1:
                    raise RuntimeError(f"expected one message per stroke and per Clear, got {len(drawn)} "
                                       f"and {len(cleared)} for the {digit}")
                strokes.append((_template(drawn[0], digit), _template(cleared[0])))
            if read != [d for d, _ in DIGITS] or await page.locator(EXCEPTION).count():
                raise RuntimeError(f"the browser read {read} for {[d for d, _ in DIGITS]}")
            rec = Recording(_template(home), _template(draw_open), strokes,
                            browser={"answer_ms": answer_ms, "component_delay_ms": delay_ms, "read": read})
            if train:                     # same tab: the app is loaded, only the page changes
                await page.goto(f"{url}/train")
                await page.wait_for_selector(IDLE)
                await page.get_by_role("button", name="Start").wait_for()
                socket = wire.sockets - 1
                await training_learner(page, 0, time.time() + 4, results)   # Start, then 4 s of live view
                reruns = [s for s in wire.reruns() if s[0] == socket]
                starts = [s for s in reruns if _has_trigger(s[1])]
                autos = [s for s in reruns if s[1].rerun_script.is_auto_rerun]
                if results.started != 1 or not starts or not autos:
                    raise RuntimeError(f"Start was not recorded (started {results.started}, {len(starts)} "
                                       f"Start and {len(autos)} timed messages): {results.errors}")
                rec.train_open, rec.train_start, rec.train_auto = (_template(reruns[0]), _template(starts[0]),
                                                                  _template(autos[-1]))
            await context.close()
        finally:
            await browser.close()
    if results.errors:
        raise RuntimeError(f"the recording went wrong: {results.errors}")
    return rec


def record_on_own_server(tmp: Path, train: bool) -> Recording:
    """Record on a server of its own, stopped (with everything under it) before this returns."""
    proc, url = start_server(str(tmp / "record-models"), tmp / "record.log")
    memory = Memory(proc.pid)
    try:
        return asyncio.run(asyncio.wait_for(record(url, train), RECORD_TIMEOUT))
    finally:
        memory.sample()
        terminate([proc], memory.seen)


# ----- 2. the class: one protocol client per learner ---------------------------------------------------

class _Http:
    """A browser's keep-alive HTTP/1.1 connection to the server, for GETs."""

    def __init__(self, host: str, port: int, cookies: dict[str, str]):
        self.host, self.port, self.cookies = host, port, cookies
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> tuple[int, list[tuple[str, str]]]:
        """GET ``path``; (status, headers). The body is read and dropped, as an image is shown."""
        for attempt in range(2):
            if self._streams is None:
                self._streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self._streams
            try:
                cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nCookie: {cookie}\r\n"
                             "Accept: */*\r\nConnection: keep-alive\r\n\r\n".encode())
                await writer.drain()
                status = int((await reader.readuntil(b"\r\n")).split()[1])
                headers = []
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    name, _, value = line.decode("latin-1").partition(":")
                    headers.append((name.strip().lower(), value.strip()))
                h = dict(headers)
                if "content-length" in h:
                    await reader.readexactly(int(h["content-length"]))
                elif h.get("transfer-encoding", "").lower() == "chunked":
                    while (size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)) > 0:
                        await reader.readexactly(size + 2)
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                if h.get("connection", "").lower() == "close":
                    await self.close()
                return status, headers
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError, ValueError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            with contextlib.suppress(Exception):
                await self._streams[1].wait_closed()
            self._streams = None


@dataclass
class Run:
    """One rerun this client asked for: when it was sent, its answer and its end."""
    sent: float
    started: bool = False                  # its new_session came
    answer: tuple[float, str] | None = None
    finished: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class ClassResults:
    answer: list[float] = field(default_factory=list)
    rerun: list[float] = field(default_factory=list)
    clear: list[float] = field(default_factory=list)
    wrong: int = 0
    lost: int = 0
    start_pressed: int = 0
    start_finished: int = 0
    trained: int = 0
    auto_sent: int = 0
    auto_finished: int = 0
    media_fetched: int = 0
    media_failed: int = 0
    canvas_as_recorded: list[bool] = field(default_factory=list)   # per session: first canvas id, fragment
    unknown_ids: collections.Counter = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)


class Tab:
    """One learner's browser tab, as the server sees it: a websocket speaking Streamlit's protocol, the
    ForwardMsg cache, the timed reruns a fragment asked for, and the images the page shows."""

    def __init__(self, url: str, name: str, results: ClassResults, rng: random.Random,
                 cookies: dict[str, str] | None = None):
        parts = urlsplit(url)
        self.base, self.host, self.port = url, parts.hostname, parts.port
        self.name, self.results = name, results
        token = base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("=")   # as secrets.token_urlsafe(16)
        # the browser's cookies for this server: sent with every request and the websocket's upgrade
        self.cookies = {LEARNER_COOKIE: token, **(cookies or {})}
        self.http = _Http(self.host, self.port, self.cookies)
        self.upstream: str | None = None             # the app process behind nginx that answered first
        self.ws = None
        self.tasks: list[asyncio.Task] = []
        self.timers: dict[str, tuple[float, asyncio.Task]] = {}   # fragment id -> (interval, its timer)
        self.media: asyncio.Queue[str] = asyncio.Queue()
        self.media_seen: set[str] = set()
        # the ForwardMsg cache, as the browser keeps it: hash -> [message, run count when last used, fragment]
        self.cache: dict[str, list] = {}
        self.run_count, self.max_age, self.new_session = 0, 2, False
        self.page_hash = ""
        self.ids: set[str] = set()                   # ids of the elements the server sent
        self.canvas: tuple[str, str] | None = None   # (widget id, fragment id) of the canvas on screen
        self.metrics: dict[str, str] = {}
        self.run: Run | None = None
        self.auto_template: Template | None = None

    # -- connecting --

    async def open(self, page_path: str, template: Template) -> Run:
        """Arrive as a browser does: the page (the app's HTML), the health check (it sets the XSRF
        cookie), the host config, the websocket; then the page's first rerun. Returns that rerun once
        it is sent. (The app's JavaScript and CSS, ~5 MB, are left out: a browser caches them.)"""
        from websockets.asyncio.client import connect

        for path in (page_path, "/_stcore/health", "/_stcore/host-config"):
            status, headers = await self.http.get(path)
            self._answered(path, headers)
            if status != 200:
                raise RuntimeError(f"GET {path}: HTTP {status}")
        xsrf = self.cookies.get("_streamlit_xsrf", "PLACEHOLDER_AUTH_TOKEN")   # what the browser sends
        self.ws = await connect(
            f"ws://{self.host}:{self.port}/_stcore/stream", subprotocols=["streamlit", xsrf],
            origin=self.base, compression="deflate", max_size=None, ping_interval=None, proxy=None,
            open_timeout=OPEN_TIMEOUT, user_agent_header="class_load (Streamlit protocol client)",
            additional_headers={"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())})
        self.tasks += [asyncio.create_task(self._read()), asyncio.create_task(self._fetch_media())]
        return await self.rerun(template)

    def _answered(self, path: str, headers: list[tuple[str, str]]) -> None:
        """What a browser keeps of a response: its cookies (Streamlit's XSRF cookie; behind nginx,
        ``nn_server`` from the first response, which keeps this learner with one app process). And
        which app process answered (nginx's X-NN-Upstream): always the first one, or it is an error."""
        for name, value in headers:
            if name == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";")[0]
            elif name == UPSTREAM_HEADER:
                if self.upstream is None:
                    self.upstream = value
                elif value != self.upstream:
                    self.results.errors.append(f"{self.name}: GET {path} answered by {value}, its pages by "
                                               f"{self.upstream} (not sticky)")

    async def close(self) -> None:
        for _, timer in self.timers.values():
            timer.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 10)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, *(t for _, t in self.timers.values()), return_exceptions=True)
        await self.http.close()

    # -- sending --

    def _prepare(self, template: Template, fragment_id: str | None = None) -> bytes:
        """The recorded message, as this tab would send it now."""
        msg = BackMsg.FromString(template.msg)
        rerun = msg.rerun_script
        if rerun.page_script_hash:
            rerun.page_script_hash = self.page_hash
        if template.canvas_id:
            if self.canvas is None:
                raise RuntimeError("no canvas on this page")
            for w in rerun.widget_states.widgets:
                if w.id == template.canvas_id:
                    w.id = self.canvas[0]
        if fragment_id is not None:
            rerun.fragment_id = fragment_id
        elif template.canvas_id and rerun.fragment_id:
            rerun.fragment_id = self.canvas[1]
        if self.ids:                     # a browser sends the states of the widgets it has shown, only
            shown = [w for w in rerun.widget_states.widgets if w.id in self.ids]
            for w in rerun.widget_states.widgets:
                if w.id not in self.ids:
                    self.results.unknown_ids[w.id] += 1
            del rerun.widget_states.widgets[:]
            rerun.widget_states.widgets.extend(shown)
        recorded = urlsplit(rerun.context_info.url)
        rerun.context_info.url = self.base + recorded.path + (f"?{recorded.query}" if recorded.query else "")
        del rerun.cached_message_hashes[:]
        rerun.cached_message_hashes.extend(self.cache)
        return msg.SerializeToString()

    async def rerun(self, template: Template, fragment_id: str | None = None) -> Run:
        data = self._prepare(template, fragment_id)
        run = Run(time.perf_counter())
        self.run = run
        await self.ws.send(data)
        return run

    def keep_redrawing(self, template: Template) -> None:
        """Send ``template`` at every timed rerun the server asks for (the Train page's live view)."""
        self.auto_template = template

    async def _timer(self, fragment_id: str, interval: float) -> None:
        # the browser's setInterval: every ``interval`` s, whether or not the last one has finished
        from websockets.exceptions import ConnectionClosed

        next_at = time.perf_counter() + interval
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
                if self.auto_template is not None:
                    await self.ws.send(self._prepare(self.auto_template, fragment_id))
                    self.results.auto_sent += 1

    # -- receiving --

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                self._handle(ForwardMsg.FromString(raw), raw, time.perf_counter())
        except ConnectionClosed:
            pass
        except Exception as e:              # noqa: BLE001 - a broken session is a finding
            self.results.errors.append(f"{self.name}: reading: {type(e).__name__}: {e}")

    def _handle(self, msg: ForwardMsg, raw: bytes, now: float) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":            # a message the browser has cached: the server sends its hash
            entry = self.cache.get(msg.ref_hash)
            if entry is None:
                self.results.errors.append(f"{self.name}: cached message {msg.ref_hash} missing")
                return
            entry[1] = self.run_count
            full = ForwardMsg.FromString(entry[0])
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, full.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            if msg.hash in self.cache:
                self.cache[msg.hash][1] = self.run_count
            else:
                self.cache[msg.hash] = [raw, self.run_count, msg.delta.fragment_id if kind == "delta" else ""]
        run = self.run
        if kind == "new_session":
            self.new_session = True
            self.max_age = msg.new_session.config.max_cached_message_age or self.max_age
            if run is not None:
                run.started = True
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            etype = el.WhichOneof("type")
            body = getattr(el, etype)
            if "id" in body.DESCRIPTOR.fields_by_name and body.id:
                self.ids.add(body.id)
            if etype == "bidi_component" and CANVAS_COMPONENT in body.component_name:
                self.canvas = (body.id, msg.delta.fragment_id)
            elif etype == "metric":
                self.metrics[body.label] = body.body
                if body.label == PREDICTION and run is not None and run.started and run.answer is None:
                    run.answer = (now, body.body)
            elif etype == "exception":
                self.results.errors.append(f"{self.name}: exception on the page: {body.type}: {body.message[:300]}")
            elif etype == "imgs":
                for img in body.imgs:
                    if img.url.startswith("/media/") and img.url not in self.media_seen:
                        self.media_seen.add(img.url)
                        self.media.put_nowait(img.url)
        elif kind == "auto_rerun":
            fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid and self.timers.get(fid, (None,))[0] != interval:
                if fid in self.timers:
                    self.timers[fid][1].cancel()
                self.timers[fid] = (interval, asyncio.create_task(self._timer(fid, interval)))
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                if fid in self.timers:
                    self.timers.pop(fid)[1].cancel()
        elif kind == "navigation":        # which page this is: the browser sends its hash back
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_not_found":
            self.results.errors.append(f"{self.name}: page not found: {msg.page_not_found.page_name}")
        elif kind == "script_finished":
            status = msg.script_finished
            if status != FINISHED_EARLY and self.new_session:
                self._age_cache(list(msg.metadata.run.fragment_ids))
            if status != FINISHED_EARLY:
                if self.auto_template is not None:
                    self.results.auto_finished += 1
                if run is not None and run.started and run.finished is None:
                    run.finished = now
                    run.done.set()

    def _age_cache(self, fragment_ids: list[str]) -> None:
        # the browser's ForwardMsgCache.incrementRunCount: a fragment run ages only its own messages
        self.run_count += 1
        self.new_session = False
        for h, (_, used, fid) in list(self.cache.items()):
            if fragment_ids and (not fid or fid not in fragment_ids):
                continue
            if self.run_count - used > self.max_age:
                del self.cache[h]

    async def _fetch_media(self) -> None:
        while True:
            url = await self.media.get()
            try:
                status, headers = await self.http.get(url)
                self._answered(url, headers)
            except (OSError, asyncio.IncompleteReadError) as e:
                status = f"{type(e).__name__}"
            if status == 200:
                self.results.media_fetched += 1
            else:
                self.results.media_failed += 1
                self.results.errors.append(f"{self.name}: GET {url}: {status}")


async def _finish(run: Run, timeout: float) -> bool:
    """Wait for ``run`` to end, at most ``timeout`` s after it was sent; True if it did."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(run.done.wait(), max(0.0, run.sent + timeout - time.perf_counter()))
    return run.finished is not None


async def open_tab(url: str, path: str, template: Template, name: str, results: ClassResults,
                   rng: random.Random, cookies: dict[str, str] | None = None) -> Tab | None:
    """A tab whose page has run once, or None (the reason in the errors). ``cookies``: those the
    browser arrives with besides the learner's own."""
    tab = Tab(url, name, results, rng, cookies)
    try:
        run = await tab.open(path, template)
        if not await _finish(run, OPEN_TIMEOUT):
            raise RuntimeError(f"the page's first run did not end within {OPEN_TIMEOUT:.0f} s")
        return tab
    except Exception as e:              # noqa: BLE001 - whatever stopped a learner goes in the report
        results.errors.append(f"{name}: opening {path}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}")
        await tab.close()
        return None


async def _pause(pause: float, deadline: float, rng: random.Random) -> bool:
    """A learner's pause (``pause`` s, give or take half), cut short at the deadline; False if the
    deadline has passed."""
    await asyncio.sleep(max(0.0, min(pause * rng.uniform(0.5, 1.5), deadline - time.perf_counter())))
    return time.perf_counter() < deadline


async def drawing_learner(tab: Tab, rec: Recording, k: int, deadline: float, pause: float,
                          results: ClassResults, rng: random.Random) -> None:
    """Draw the recorded digits in turn (from the k-th), Clear after each, until the deadline."""
    first = rec.strokes[0][0]
    results.canvas_as_recorded.append(tab.canvas is not None and tab.canvas[0] == first.canvas_id
                                      and tab.canvas[1] == first.fragment_id)
    i = k
    try:
        await asyncio.sleep(rng.uniform(0, pause))       # learners do not start in step
        while time.perf_counter() < deadline:
            stroke, clear = rec.strokes[i % len(rec.strokes)]
            i += 1
            run = await tab.rerun(stroke)
            ended = await _finish(run, STROKE_TIMEOUT)
            if run.answer is None:
                results.lost += 1
                results.errors.append(f"{tab.name}: no prediction within {STROKE_TIMEOUT:.0f} s of the stroke")
            else:
                results.answer.append((run.answer[0] - run.sent) * 1000)
                if run.answer[1] != stroke.digit:
                    results.wrong += 1
            if not ended:
                results.errors.append(f"{tab.name}: the stroke's rerun did not end within {STROKE_TIMEOUT:.0f} s")
                return
            results.rerun.append((run.finished - run.sent) * 1000)
            if not await _pause(pause, deadline, rng):
                break
            run = await tab.rerun(clear)
            if not await _finish(run, STROKE_TIMEOUT):
                results.errors.append(f"{tab.name}: Clear's rerun did not end within {STROKE_TIMEOUT:.0f} s")
                return
            results.clear.append((run.finished - run.sent) * 1000)
            if run.answer is None or run.answer[1] != EMPTY:
                results.errors.append(f"{tab.name}: Clear did not empty the Prediction ({run.answer})")
            await _pause(pause, deadline, rng)
    except Exception as e:              # noqa: BLE001
        results.errors.append(f"{tab.name}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}")


async def press_start(tab: Tab, rec: Recording, results: ClassResults) -> None:
    """Start on the Train page (the page's default settings); the live view then redraws on its timer."""
    try:
        tab.keep_redrawing(rec.train_auto)
        run = await tab.rerun(rec.train_start)
        results.start_pressed += 1
        if await _finish(run, OPEN_TIMEOUT):
            results.start_finished += 1
        else:
            results.errors.append(f"{tab.name}: Start's rerun did not end within {OPEN_TIMEOUT:.0f} s")
    except Exception as e:              # noqa: BLE001
        results.errors.append(f"{tab.name}: Start: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}")


def _trained(tab: Tab) -> bool:
    with contextlib.suppress(ValueError):
        return float(tab.metrics.get(TRAIN_LOSS, "")) >= 0
    return False


# ----- the servers: one app process, or K behind nginx ---------------------------------------------------

def _training_places(pid: int) -> int:
    """The training places of an app process: its NN_MAX_TRAINING (ui/run_slots.py; serve_cluster
    gives each of K processes cores / K), else the cores."""
    with contextlib.suppress(OSError, ValueError):
        for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            if item.startswith(b"NN_MAX_TRAINING="):
                return int(float(item.partition(b"=")[2]))
    return os.cpu_count() or 1


def _training(tree: Seen, server: int) -> list[int]:
    """An app process's training processes (and one-off jobs): the children of its fork server, as
    scripts/load_test.py's training_processes finds them, here in a tree read once for every app."""
    forkservers = {pid for pid, (ppid, _) in tree.items() if ppid == server and "forkserver" in cmdline(pid)}
    return [pid for pid, (ppid, _) in tree.items() if ppid in forkservers]


class Servers:
    """The app processes the class talks to and everything under them, sampled from /proc: one
    Streamlit process (--apps 0), or K of them and nginx under scripts/serve_cluster.py. The memory
    figures are over all the app processes at once (the peak of their sum, not the sum of their
    peaks), with each one's beside them."""

    def __init__(self, root: int, apps: dict[str, int], balancer: int | None = None):
        self.root = root                 # everything under it was started for the class
        self.apps = apps                 # address (as nginx's X-NN-Upstream names it) -> the app's pid
        self.balancer = balancer         # nginx's master process (its worker is under it), or None
        self.cluster_script = root if balancer is not None else None      # serve_cluster's own process
        self.places = {app: _training_places(pid) for app, pid in apps.items()}
        self.seen: Seen = {}             # every process seen under root: stopped at the end
        self.under_apps: Seen = {}       # the app processes' fork servers and training processes
        self.server_peak, self.server_peak_each = 0.0, dict.fromkeys(apps, 0.0)
        self.workers_peak_count, self.workers_peak_each = 0, dict.fromkeys(apps, 0)
        self.worker_peak_rss = self.workers_peak_total = self.balancer_peak = 0.0

    def sample(self) -> list[int]:
        """Sample the memory now; the training processes alive, of every app process."""
        tree = descendants(self.root)
        self.seen.update(tree)
        workers = {app: _training(tree, pid) for app, pid in self.apps.items()}
        rss = self.server_rss()
        for app, pid in self.apps.items():
            self.under_apps.update(under(tree, pid))
            self.server_peak_each[app] = max(self.server_peak_each[app], rss[app])
            self.workers_peak_each[app] = max(self.workers_peak_each[app], len(workers[app]))
        self.server_peak = max(self.server_peak, sum(rss.values()))
        every = [pid for pids in workers.values() for pid in pids]
        each = [rss_mb(pid) for pid in every]
        self.workers_peak_count = max(self.workers_peak_count, len(every))
        self.workers_peak_total = max(self.workers_peak_total, sum(each))
        self.worker_peak_rss = max([self.worker_peak_rss, *each])
        self.balancer_peak = max(self.balancer_peak, self.balancer_rss())
        return every

    def server_rss(self) -> dict[str, float]:
        return {app: rss_mb(pid) for app, pid in self.apps.items()}

    def balancer_processes(self) -> list[int]:
        """nginx's master and worker processes (none without nginx)."""
        return [] if self.balancer is None else [self.balancer, *under(self.seen, self.balancer)]

    def balancer_rss(self) -> float:
        return sum(rss_mb(pid) for pid in self.balancer_processes())


def start_cluster(n_apps: int, models_dir: str, log_path: Path) -> tuple[subprocess.Popen, str, Servers]:
    """`python -m scripts.serve_cluster --apps K` on free ports of 127.0.0.1 (nginx on P, the app
    processes on P+1 ... P+K), its output and theirs in ``log_path``; returns once nginx and every app
    process answer /_stcore/health. The processes are found under it: the app processes by their
    --server.port, nginx by its name."""
    port = free_ports(n_apps + 1)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.serve_cluster", "--apps", str(n_apps), "--port", str(port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NN_WEIGHTS_DIR": models_dir},
            preexec_fn=die_with_parent)  # noqa: PLW1509 (only a prctl call)
    url = f"http://127.0.0.1:{port}"
    names = [f"127.0.0.1:{port + k}" for k in range(1, n_apps + 1)]
    seen: Seen = {}
    deadline = time.monotonic() + CLUSTER_TIMEOUT
    while True:
        tree = descendants(proc.pid)
        seen.update(tree)
        apps, nginx = {}, None
        for pid, (ppid, _) in tree.items():
            words = cmdline(pid).split() if ppid == proc.pid else []
            if words[:1] == ["nginx:"]:                         # "nginx: master process ..."
                nginx = pid
            elif "--server.port" in words:
                apps[f"127.0.0.1:{words[words.index('--server.port') + 1]}"] = pid
        if (nginx is not None and sorted(apps) == sorted(names)
                and all(healthy(u) for u in [url, *(f"http://{app}" for app in names)])):
            return proc, url, Servers(proc.pid, {app: apps[app] for app in names}, nginx)
        if proc.poll() is not None or time.monotonic() > deadline:
            terminate([proc], seen)
            raise RuntimeError(f"serve_cluster did not start {n_apps} app processes and nginx within "
                               f"{CLUSTER_TIMEOUT:.0f} s; its output:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)


async def spread_evenly(url: str, apps: list[str], n: int, rng: random.Random) -> list[dict[str, str]]:
    """--spread even: for each of ``n`` learners an ``nn_server`` cookie that nginx sends to the app
    processes in turn (the k-th learner to the (k mod K)-th). nginx maps the cookie to a process by a
    consistent hash over the processes' addresses, so the ids are drawn at random as nginx draws them
    and each is tried with one request, whose X-NN-Upstream says where it went (~n tries in all)."""
    wanted = [apps[k % len(apps)] for k in range(n)]
    need = collections.Counter(wanted)
    found: dict[str, list[str]] = {app: [] for app in apps}
    cookies: dict[str, str] = {}
    probe = _Http(urlsplit(url).hostname, urlsplit(url).port, cookies)
    try:
        for _ in range(20 * n + 100):
            if all(len(found[app]) >= need[app] for app in apps):
                break
            cookies[SERVER_COOKIE] = rng.randbytes(16).hex()          # 32 hex digits, as nginx's $request_id
            _, headers = await probe.get("/_stcore/health")
            app = dict(headers).get(UPSTREAM_HEADER)
            if app in found and len(found[app]) < need[app]:
                found[app].append(cookies[SERVER_COOKIE])
    finally:
        await probe.close()
    short = {app: need[app] - len(ids) for app, ids in found.items() if len(ids) < need[app]}
    if short:
        raise RuntimeError(f"--spread even: no nn_server cookie found for {short} (does nginx send "
                           f"{UPSTREAM_HEADER}?)")
    return [{SERVER_COOKIE: found[app].pop()} for app in wanted]


def _websockets(app: str) -> int:
    """The TCP connections open to an app process's port (/proc/net/tcp, state 01 = established):
    behind nginx, one per websocket (nginx keeps no idle connection to the apps; a request in
    flight adds one)."""
    port = int(app.rsplit(":", 1)[1])
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if (f := line.split())[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port)


def _still_running(seen: Seen, wait: float = 5.0) -> list[int]:
    """The processes of ``seen`` still running after they were stopped (one only waiting to be
    reaped is not); those being killed get up to ``wait`` s to go."""
    def state(pid: int) -> str:
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{pid}/stat").read_text()
            return text[text.rfind(")") + 2:].split()[0]
        return "gone"

    deadline = time.monotonic() + wait
    while True:
        running = [pid for pid in alive(seen) if state(pid) not in ("Z", "gone")]
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.2)


# ----- the run -------------------------------------------------------------------------------------------

@dataclass
class Cpu:
    """CPU seconds, at one moment, of each app process, of every process under them (fork servers,
    training processes), of nginx and of serve_cluster's own process (0 without), and of this script."""
    apps: dict[str, float]
    children: dict[int, float]
    balancer: float
    cluster_script: float
    client: float
    machine: float               # every core's busy time, whoever used it (/proc/stat)

    @classmethod
    def now(cls, servers: Servers) -> Cpu:
        servers.sample()                 # brings servers.under_apps up to date
        # the first line of /proc/stat: cpu user nice system idle iowait irq softirq steal ...
        busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        machine = sum(int(busy[i]) for i in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")
        return cls({app: cpu_seconds(pid) for app, pid in servers.apps.items()},
                   {pid: cpu_seconds(pid) for pid in servers.under_apps},
                   sum(cpu_seconds(pid) for pid in servers.balancer_processes()),
                   cpu_seconds(servers.cluster_script) if servers.cluster_script else 0.0,
                   cpu_seconds(os.getpid()), machine)

    def children_since(self, before: Cpu) -> float:
        """CPU seconds the processes under the app processes used since ``before`` (a process that
        ended in between is not counted; one that began is, whole)."""
        return sum(max(0.0, cpu - before.children.get(pid, 0.0)) for pid, cpu in self.children.items())


async def _sampler(servers: Servers, stop: asyncio.Event) -> None:
    while not stop.is_set():
        servers.sample()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def _stats(values: list[float]) -> dict:
    return {"count": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "max": round(max(values), 1) if values else None}


async def drive(url: str, servers: Servers, rec: Recording, n_draw: int, n_train: int, seconds: float,
                pause: float, after_close: float, spread: str = "nginx") -> dict:
    results = ClassResults()
    cluster = servers.balancer is not None
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(_sampler(servers, stop_sampling))
    # the teacher opens the app first (see the docstring), in each app process
    for app in servers.apps:
        teacher = await open_tab(f"http://{app}", "/", rec.home, f"teacher ({app})" if cluster else "teacher",
                                 results, random.Random("teacher"))
        if teacher is not None:
            await teacher.close()
    rngs = [random.Random(f"learner {k}") for k in range(n_draw + n_train)]
    cookies = (await spread_evenly(url, list(servers.apps), n_draw + n_train, random.Random("spread"))
               if cluster and spread == "even" else [None] * (n_draw + n_train))
    opening = time.perf_counter()
    tabs = await asyncio.gather(
        *(open_tab(url, "/draw", rec.draw_open, f"draw {k}", results, rngs[k], cookies[k]) for k in range(n_draw)),
        *(open_tab(url, "/train", rec.train_open, f"train {k}", results, rngs[n_draw + k], cookies[n_draw + k])
          for k in range(n_train)))
    drawing, training = tabs[:n_draw], tabs[n_draw:]
    opened = time.perf_counter()
    # which app process each learner reached (without nginx: the one there is)
    sessions_per_app = {app: {"draw": 0, "train": 0} for app in servers.apps}
    for kind, group in (("draw", drawing), ("train", training)):
        for t in group:
            if t is not None:
                app = t.upstream or (next(iter(servers.apps)) if not cluster else "unknown")
                sessions_per_app.setdefault(app, {"draw": 0, "train": 0})[kind] += 1
    await asyncio.gather(*(press_start(t, rec, results) for t in training if t))
    # the window opens once the training places (of every app process) are taken, or after START_WAIT s
    places = min(n_train, sum(servers.places.values()))
    wait_until = time.perf_counter() + START_WAIT
    while places and len(servers.sample()) < places and time.perf_counter() < wait_until:
        await asyncio.sleep(0.5)
    websockets = {app: _websockets(app) for app in servers.apps} if cluster else None
    for app, count in (websockets or {}).items():
        if count < sum(sessions_per_app[app].values()):
            results.errors.append(f"{app}: {count} websockets open for {sum(sessions_per_app[app].values())} "
                                  "learners whose pages it served (a websocket went elsewhere: not sticky)")
    auto_before, finished_before = results.auto_sent, results.auto_finished
    began, cpu_began = time.perf_counter(), Cpu.now(servers)
    load_at_start = os.getloadavg()[0]
    deadline = began + seconds
    await asyncio.gather(*(drawing_learner(t, rec, k, deadline, pause, results, rngs[k])
                           for k, t in enumerate(drawing) if t))
    remaining = deadline - time.perf_counter()
    if remaining > 0:                        # no drawing learner left (e.g. --draw 0): the window still lasts
        await asyncio.sleep(remaining)
    ended, cpu_ended = time.perf_counter(), Cpu.now(servers)
    window = ended - began
    results.trained = sum(_trained(t) for t in training if t)
    auto_sent, auto_finished = results.auto_sent - auto_before, results.auto_finished - finished_before
    await asyncio.gather(*(t.close() for t in tabs if t))
    # after the clients left: the training processes still alive (in every app process)
    left, until_none = await processes_left(servers.sample, after_close)
    stop_sampling.set()
    await sampler
    # one process per run, and a run per learner who pressed Start (it has its process while it waits
    # for a place too): more is a process too many
    for app, peak in servers.workers_peak_each.items():
        if peak > sessions_per_app.get(app, {}).get("train", 0):
            results.errors.append(f"{app}: {peak} training processes at once for "
                                  f"{sessions_per_app.get(app, {}).get('train', 0)} learners who pressed Start there")
    delays = sorted(rec.browser.get("component_delay_ms", []))
    delay = delays[len(delays) // 2] if delays else None
    answer = _stats(results.answer)
    n_auto_sessions = max(1, sum(1 for t in training if t))

    def share(cpu_seconds_used: float) -> float:
        return round(cpu_seconds_used / window, 2)

    server_cpu = {app: cpu_ended.apps[app] - cpu_began.apps[app] for app in servers.apps}
    children_cpu = cpu_ended.children_since(cpu_began)
    balancer_cpu = max(0.0, cpu_ended.balancer - cpu_began.balancer)
    script_cpu = cpu_ended.cluster_script - cpu_began.cluster_script
    client_cpu = cpu_ended.client - cpu_began.client
    server_end = servers.server_rss()
    return {
        "sessions": {"draw": n_draw, "train": n_train},
        "apps": len(servers.apps) if cluster else 0,
        "sessions_per_app": sessions_per_app,
        "websockets_per_app": websockets,
        "pause_s": pause,
        "seconds_to_open_all_pages": round(opened - opening, 1),
        "seconds": round(window, 1),
        "cores": os.cpu_count(),
        "answer_ms": answer,
        "mouse_up_estimate_ms": {"p50": round(answer["p50"] + delay, 1) if answer["count"] and delay else None,
                                 "p95": round(answer["p95"] + delay, 1) if answer["count"] and delay else None,
                                 "component_delay_ms": delay},
        "rerun_ms": _stats(results.rerun),
        "clear_ms": _stats(results.clear),
        "strokes": len(results.answer) + results.lost,
        "wrong": results.wrong,
        "lost": results.lost,
        "strokes_per_second": round((len(results.answer) + results.lost) / window, 2),
        "reruns_per_second": round((len(results.rerun) + len(results.clear) + auto_finished) / window, 2),
        "training": {"start_pressed": results.start_pressed, "start_finished": results.start_finished,
                     "trained": results.trained,
                     "redraws_sent_per_second_each": round(auto_sent / window / n_auto_sessions, 2),
                     "redraws_finished_per_second_each": round(auto_finished / window / n_auto_sessions, 2)},
        "media": {"fetched": results.media_fetched, "failed": results.media_failed},
        "errors": results.errors,
        "server_cpu_share": share(sum(server_cpu.values())),
        "server_cpu_share_per_app": {app: share(used) for app, used in server_cpu.items()},
        "children_cpu_share": share(children_cpu),
        "balancer_cpu_share": share(balancer_cpu) if cluster else None,
        "cluster_script_cpu_share": share(script_cpu) if cluster else None,
        "client_cpu_share": share(client_cpu),
        # whatever else ran on the machine meanwhile (another measurement, say): it disturbs the figures
        "others_cpu_share": share(max(0.0, cpu_ended.machine - cpu_began.machine - sum(server_cpu.values())
                                      - children_cpu - balancer_cpu - script_cpu - client_cpu)),
        "load_average_at_start": round(load_at_start, 2),
        "memory_mb": {"server_peak": round(servers.server_peak, 1),
                      "server_end": round(sum(server_end.values()), 1),
                      "server_peak_per_app": {app: round(mb, 1) for app, mb in servers.server_peak_each.items()},
                      "server_end_per_app": {app: round(mb, 1) for app, mb in server_end.items()},
                      "training_processes_peak": servers.workers_peak_count,
                      "training_process_peak_each": round(servers.worker_peak_rss, 1),
                      "training_processes_peak_total": round(servers.workers_peak_total, 1)},
        "balancer_memory_mb": ({"peak": round(servers.balancer_peak, 1), "end": round(servers.balancer_rss(), 1)}
                               if cluster else None),
        "training_processes": {"peak": servers.workers_peak_count,
                               "peak_per_app": servers.workers_peak_each,
                               "limit": sum(servers.places.values()),
                               "limit_per_app": servers.places,
                               "after_close": left,
                               "left_after_close": left[-1][1],
                               "seconds_until_none": until_none,
                               "waited_at_most": after_close},
        "recording": {"browser_answer_ms": rec.browser.get("answer_ms"),
                      "component_delay_ms": rec.browser.get("component_delay_ms"),
                      "stroke_message_bytes": [len(s.msg) for s, _ in rec.strokes],
                      "sessions_with_the_recorded_canvas_id": f"{sum(results.canvas_as_recorded)} of "
                                                              f"{len(results.canvas_as_recorded)}",
                      # left out of the message (the page had not shown them yet): times each
                      "recorded_widget_ids_not_on_the_page": dict(results.unknown_ids)},
    }


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(prog="python -m scripts.class_load", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draw", type=_bounded(0, MAX_SESSIONS), default=3, help="drawing learners")
    parser.add_argument("--train", type=_bounded(0, MAX_SESSIONS), default=2,
                        help="learners pressing Start on the Train page")
    parser.add_argument("--seconds", type=_bounded(5, MAX_SECONDS, float), default=20.0,
                        help="how long the class draws (the measured window)")
    parser.add_argument("--pause", type=_bounded(0.2, 30, float), default=PAUSE,
                        help="seconds after each answer before a learner's next action (each drawn "
                             "between 0.5x and 1.5x)")
    parser.add_argument("--after-close", type=_bounded(0, MAX_AFTER_CLOSE, float), default=60.0,
                        help="how long to wait for the training processes to end after the clients left")
    parser.add_argument("--apps", type=_bounded(0, MAX_APPS), default=0,
                        help="run the class on K app processes behind nginx (scripts/serve_cluster.py); "
                             "0 (default): on one app process, without nginx")
    parser.add_argument("--spread", choices=("nginx", "even"), default="nginx",
                        help="with --apps: how the learners are spread over the app processes: by nginx "
                             "at random, as on a first visit (default), or evenly, N/K each")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--record", type=Path, metavar="FILE",
                        help="only record (in a real browser) and write the recording to FILE")
    source.add_argument("--replay", type=Path, metavar="FILE",
                        help="replay a recording made with --record instead of recording first")
    args = parser.parse_args(argv)
    if args.draw + args.train == 0 and not args.record:
        parser.error("give at least one session (--draw or --train)")
    if args.draw + args.train > MAX_SESSIONS:
        parser.error(f"at most {MAX_SESSIONS} sessions in all")

    with tempfile.TemporaryDirectory(prefix="nn-class-") as tmp:
        if args.replay:
            rec = Recording.from_json(json.loads(args.replay.read_text()))
            if args.train and rec.train_start is None:
                parser.error(f"{args.replay} holds no Train page: record it with training")
            source_text = str(args.replay)
        else:
            rec = record_on_own_server(Path(tmp), train=bool(args.train) or bool(args.record))
            source_text = "a real browser, on a server of its own, just before the class"
        if args.record:
            args.record.write_text(json.dumps(rec.to_json()) + "\n")
            print(f"recorded {len(rec.strokes)} strokes and the Train page's Start in {args.record}; "
                  f"the browser's own figures: {json.dumps(rec.browser)}")
            return 0
        log = Path(tmp) / "streamlit.log"
        models = str(Path(tmp) / "models")
        if args.apps:
            proc, url, servers = start_cluster(args.apps, models, log)
        else:
            proc, url = start_server(models, log)
            servers = Servers(proc.pid, {urlsplit(url).netloc: proc.pid})
        budget = MAX_TOTAL - (time.monotonic() - started)
        try:
            report = asyncio.run(asyncio.wait_for(
                drive(url, servers, rec, args.draw, args.train, args.seconds, args.pause, args.after_close,
                      args.spread),
                budget))
        except asyncio.TimeoutError:
            report = {"errors": [f"the run passed {MAX_TOTAL} s and was stopped"]}
        finally:
            servers.sample()
            terminate([proc], servers.seen)
        # everything started for the run is stopped: check it
        report["left_running_after_stop"] = _still_running(servers.seen)
        for pid in report["left_running_after_stop"]:
            report["errors"].append(f"still running after the stop: pid {pid}, {cmdline(pid)[:120]}")
        report.setdefault("recording", {})["source"] = source_text
        console = log.read_text()
        if "Traceback" in console:
            report["errors"].append("the server's console shows a traceback: "
                                    + console[console.index("Traceback"):][:500])
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 1 if "strokes" not in report else 0


if __name__ == "__main__":
    sys.exit(main())
