"""Real-browser fixtures: one Streamlit server per test session, Debian's Chromium via Playwright.

Every test here is marked ``browser`` (``pytest -m "not browser"`` for a quick run; CI runs them all).
Screenshots go to a temporary folder; ``NN_SCREENSHOTS=1`` writes the README's docs/screenshots/.
These tests never skip. Without a usable browser they fail with a message that says how to get
one: `apt-get install -y chromium` (Debian), or set NN_CHROMIUM to a Chromium/Chrome binary.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from scripts.serve_cluster import free_ports

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _browser_path() -> str | None:
    """NN_CHROMIUM, else Debian's /usr/bin/chromium, else None (Playwright's own browser)."""
    for candidate in (os.environ.get("NN_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Start `streamlit run app.py` on a free port; yield (its URL, its console log); stop it at the end."""
    port = free_ports(1)
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "NN_WEIGHTS_DIR": str(tmp_path_factory.mktemp("weights"))}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--browser.serverAddress", "localhost",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"the Streamlit server did not start; its log:\n{log.read_text()}")
        time.sleep(0.2)
    yield url, log
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def app_url(server) -> str:
    return server[0]


@pytest.fixture(scope="session")
def server_log(server) -> Path:
    """The server's console so far: what a teacher watching the terminal reads."""
    return server[1]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import Error, sync_playwright

    executable = _browser_path()
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        except Error as e:
            pytest.fail("No browser for the browser tests. On Debian run `apt-get install -y chromium`, "
                        f"or set NN_CHROMIUM to a Chromium binary. Playwright said: {e}")
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished the current rerun."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                           timeout=timeout)


def screenshot_path(name: str) -> Path:
    """Where a screenshot goes: docs/screenshots/ (the README's pictures) only when asked for with
    NN_SCREENSHOTS=1, otherwise a temporary folder, so a test run never changes tracked files."""
    folder = SCREENSHOTS if os.environ.get("NN_SCREENSHOTS") == "1" else Path(tempfile.gettempdir()) / "nn-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def screenshot(page, name: str) -> Path:
    path = screenshot_path(name)
    page.screenshot(path=str(path), full_page=False)
    return path
