"""More than one server: `python -m scripts.serve_cluster --apps 2` (two app processes behind Debian's
nginx), driven through the balancer in a real browser.

Checks that nginx spreads new browsers over both processes and keeps each on its own (the nn_server
cookie), that a learner draws a digit and gets its prediction through it (page, static files and the
websocket all proxied), that the learner cookie survives a reload, and that SIGTERM stops every
process the command started.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from scripts.proctree import alive, descendants
from scripts.serve_cluster import free_ports

from .conftest import ROOT, screenshot, wait_idle
from .test_draw_browser import CANVAS, ONE, _draw, _prediction

pytestmark = pytest.mark.browser


def _get(url: str, cookie: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers, response.read()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """serve_cluster with two app processes; yields (nginx URL, its Popen, its log)."""
    port = free_ports(3)
    log = tmp_path_factory.mktemp("cluster") / "serve_cluster.log"
    env = {**os.environ, "NN_WEIGHTS_DIR": str(tmp_path_factory.mktemp("weights"))}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "scripts.serve_cluster", "--apps", "2", "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while "Ready." not in log.read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"serve_cluster did not start; its output:\n{log.read_text()}")
        time.sleep(0.2)
    yield url, proc, log
    if proc.poll() is None:                 # the last test stops it; this is for a failed run
        seen = descendants(proc.pid)
        proc.kill()
        for pid in alive(seen):
            os.kill(pid, signal.SIGKILL)


def test_nginx_spreads_new_browsers_and_keeps_each_on_its_process(cluster):
    url, _, _ = cluster
    headers, body = _get(f"{url}/")                     # a new browser: it gets its cookie
    assert b"<html" in body.lower()
    cookie = next(c for c in headers.get_all("Set-Cookie") if c.startswith("nn_server="))
    assert "HttpOnly" in cookie and "Path=/" in cookie
    upstreams = {}
    for k in range(24):
        first = _get(f"{url}/_stcore/health", f"nn_server=browser-{k}")[0]["X-NN-Upstream"]
        again = _get(f"{url}/_stcore/health", f"nn_server=browser-{k}")[0]["X-NN-Upstream"]
        assert first == again                          # sticky
        set_cookies = _get(f"{url}/_stcore/health", f"nn_server=browser-{k}")[0].get_all("Set-Cookie") or []
        assert not any(c.startswith("nn_server=") for c in set_cookies)   # it has one already
        upstreams.setdefault(first, 0)
        upstreams[first] += 1
    assert len(upstreams) == 2, upstreams               # both app processes get browsers


def test_draw_a_digit_through_the_balancer(browser, cluster):
    url, _, _ = cluster
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(url)
        page.get_by_role("heading", name="Neural network, by hand").wait_for()
        wait_idle(page)
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        assert "nn_server" in cookies and len(cookies.get("nn_learner", "")) == 22
        code = cookies["nn_learner"][:6]
        assert page.get_by_text(f"{code}…").count() >= 1     # the Home page names this learner's folder

        page.goto(f"{url}/draw")
        wait_idle(page)
        page.wait_for_selector(CANVAS)
        page.evaluate("document.addEventListener('mouseup', () => { window.__mouseUp = performance.now(); },"
                      " true)")
        latency = _draw(page, ONE[0])
        assert _prediction(page) == "1"
        assert page.locator("[data-testid='stException']").count() == 0
        print(f"\nthrough nginx: mouse-up -> prediction {latency:.0f} ms")
        screenshot(page, "cluster-draw")

        page.reload()                          # the same learner after a reload: the cookie stays
        wait_idle(page)
        page.goto(url)
        page.get_by_role("heading", name="Neural network, by hand").wait_for()
        wait_idle(page)
        assert {c["name"]: c["value"] for c in context.cookies()}["nn_learner"] == cookies["nn_learner"]
        assert page.get_by_text(f"{code}…").count() >= 1
    finally:
        context.close()


def test_sigterm_stops_every_process_it_started(cluster):
    url, proc, log = cluster
    started = descendants(proc.pid)
    assert len([pid for pid, (ppid, _) in started.items() if ppid == proc.pid]) == 3   # 2 apps and nginx
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    deadline = time.time() + 10
    while alive(started) and time.time() < deadline:
        time.sleep(0.2)
    assert alive(started) == [], log.read_text()
    assert "Stopped." in log.read_text()
    with pytest.raises(OSError):
        _get(f"{url}/_stcore/health")
