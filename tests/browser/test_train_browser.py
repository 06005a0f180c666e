"""The Train page in a real browser: Start on spirals, the loss falls live, Pause stops it; two runs
compared and the first restored; the controls fit a laptop and a phone.

Run with `pytest -s` to see the timings it measures (Start -> first chart update, redraws/s).
"""
from __future__ import annotations

import time

import pytest

from .conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser

METRIC_JS = """label => {
    const box = [...document.querySelectorAll("[data-testid='stMetric']")]
        .find(m => m.querySelector("[data-testid='stMetricLabel']")?.innerText.trim() === label);
    return box ? box.querySelector("[data-testid='stMetricValue']").innerText : null; }"""


def metric(page, label: str) -> str | None:
    return page.evaluate(METRIC_JS, label)


def number(text: str | None) -> float:
    return float(text.rstrip("%")) if text and text[0].isdigit() else float("nan")


def open_train(page, app_url: str, query: str) -> None:
    """Open a shared link to the Train page, as a teacher's student would."""
    page.goto(f"{app_url}/train?{query}")
    wait_idle(page)
    page.get_by_role("button", name="Start").wait_for()


def count_redraws(page, seconds: float) -> float:
    """Changes of the Epoch metric per second (each live redraw while training changes it)."""
    page.evaluate("""js => { window.__redraws = 0; window.__last = null; window.__stop = false;
        const read = eval(js);
        const tick = () => { const v = read('Epoch');
            if (v !== window.__last) { window.__redraws++; window.__last = v; }
            if (!window.__stop) requestAnimationFrame(tick); };
        requestAnimationFrame(tick); }""", METRIC_JS)
    time.sleep(seconds)
    return (page.evaluate("() => { window.__stop = true; return window.__redraws; }") - 1) / seconds


def test_start_on_spirals_loss_falls_then_pause_stops_it(page, app_url):
    # a small learning rate and many small batches: the fall of the loss takes seconds to watch
    open_train(page, app_url, "data=spirals&lr=0.0002&epochs=5000")
    assert page.get_by_role("combobox", name="Dataset").input_value() == "Spirals"
    assert metric(page, "Train loss (recent)") is None                       # nothing trained yet

    started = time.perf_counter()
    page.get_by_role("button", name="Start").click()
    page.wait_for_function(f"() => /\\d/.test(({METRIC_JS})('Train loss (recent)') || '')", polling="raf")
    first_update_ms = (time.perf_counter() - started) * 1000
    first_loss = number(metric(page, "Train loss (recent)"))
    assert first_loss > 0

    # the loss falls while we watch: within a few seconds it is below half its first value
    deadline, lowest = time.time() + 15, first_loss
    while time.time() < deadline and lowest >= first_loss / 2:
        time.sleep(0.25)
        lowest = min(lowest, number(metric(page, "Train loss (recent)")))
    assert lowest < first_loss / 2, f"loss did not fall: {first_loss} -> {lowest}"
    # the live chart is updated in place, not rebuilt: it does not blink, and a zoom stays; the
    # decision regions picture in it changes as the network learns
    picture_js = """() => { const el = document.querySelector('.nn-live-chart .imagelayer image');
        return el && (el.getAttribute('href') || el.getAttributeNS('http://www.w3.org/1999/xlink', 'href')); }"""
    page.evaluate("() => { document.querySelector('.nn-live-chart').__probe = 'same element'; }")
    first_picture = page.evaluate(picture_js)
    assert first_picture and first_picture.startswith("data:image/png")
    # plotly.js for the live charts is served by the app itself (static/, filled on first use)
    served = page.evaluate("""async () => { const r = await fetch('app/static/plotly.min.js');
        return [r.status, r.headers.get('content-type'), (await r.text()).length]; }""")
    assert served[0] == 200 and "javascript" in served[1] and served[2] > 1_000_000, served
    redraws = count_redraws(page, 3.0)
    assert page.evaluate("() => document.querySelector('.nn-live-chart').__probe") == "same element"
    assert page.evaluate(picture_js) != first_picture
    epoch_before_pause = number(metric(page, "Epoch"))
    assert epoch_before_pause > 1
    print(f"\nspirals: Start -> first chart update {first_update_ms:.0f} ms, {redraws:.1f} redraws/s, "
          f"loss {first_loss:.4f} -> {lowest:.4f}")
    # that it redraws by itself, over and over; how often (5 a second) is a speed, measured by
    # scripts/measure_train_page.py, not asserted here (a loaded machine halves it, and a busy server
    # lowers it to once a second: ui/server_load.py): at least twice in the 3 s (the first value read
    # counts as one change)
    assert redraws * 3.0 >= 3, "the page should redraw by itself, again and again, while training"

    page.get_by_role("button", name="Pause").click()
    wait_idle(page)
    page.get_by_role("button", name="Resume").wait_for()
    paused = (metric(page, "Epoch"), metric(page, "Train loss (recent)"))
    time.sleep(1.0)
    assert (metric(page, "Epoch"), metric(page, "Train loss (recent)")) == paused, "training went on after Pause"
    assert number(paused[0]) < 5000                                  # stopped mid-run, not finished
    assert page.locator("[data-testid='stException']").count() == 0

    # the picture a learner sees, for the README: charts after a few seconds of training
    page.set_viewport_size({"width": 1400, "height": 1250})
    page.locator(".js-plotly-plot").nth(1).wait_for()
    time.sleep(1.0)
    screenshot(page, "train")

    page.get_by_role("button", name="Reset").click()
    page.wait_for_function(f"() => ({METRIC_JS})('Epoch') === null")
    page.get_by_role("button", name="Start").wait_for()


def test_each_tab_trains_its_own_network(browser, app_url):
    pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in range(2)]
    try:
        for p in pages:
            open_train(p, app_url, "data=moons&epochs=3000")
        pages[0].get_by_role("button", name="Step").click()
        pages[0].wait_for_function(f"() => ({METRIC_JS})('Epoch') === '1'", polling="raf")
        pages[1].reload()
        wait_idle(pages[1])
        assert metric(pages[1], "Epoch") is None                     # the other tab has no run
        assert pages[1].get_by_role("button", name="Start").is_enabled()
        pages[1].get_by_role("button", name="Step").click()
        pages[1].wait_for_function(f"() => ({METRIC_JS})('Epoch') === '1'", polling="raf")
        assert metric(pages[0], "Epoch") == "1"                      # and did not move the first one
    finally:
        for p in pages:
            p.get_by_role("button", name="Reset").click()
            p.context.close()


def test_the_server_console_stays_clean(page, app_url, server_log):
    """A teacher watching the terminal sees no warning or traceback after a learner trains."""
    open_train(page, app_url, "data=xor&epochs=5")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Reset").wait_for()
    page.wait_for_function(f"() => ({METRIC_JS})('Epoch') === '5'", polling="raf")
    page.get_by_role("button", name="Reset").click()
    wait_idle(page)
    console = server_log.read_text()
    for noise in ("Traceback", "missing ScriptRunContext", "Session state does not function",
                  "no static folder found", "Error", "does not exist anymore"):
        assert noise not in console, console


LEGEND_JS = """() => [...document.querySelectorAll("[data-testid='stPlotlyChart'] .legendtext")]
    .map(e => e.textContent)"""
TABLE_ROWS_JS = """() => [...document.querySelectorAll("[data-testid='stTable'] tbody tr")]
    .map(r => r.innerText.replace(/\\s+/g, ' ').trim()).filter(t => t.startsWith('#'))"""
BUTTONS_JS = """() => [...document.querySelectorAll(".st-key-train_controls button[data-testid^='stBaseButton']")]
    .filter(b => b.offsetParent !== null)
    .map(b => ({text: b.innerText.trim(), cut: b.scrollWidth > b.clientWidth + 1,
                right: b.getBoundingClientRect().right, width: window.innerWidth}))"""


def alerts(page) -> list[str]:
    return [a.inner_text() for a in page.locator("[data-testid='stAlert']").all()]


def test_two_runs_compared_and_the_first_restored(page, app_url):
    """Run 1 to its verdict, another learning rate, Reset, run 2; Compare runs overlays both, lists
    both, and one click puts run 1's settings back."""
    open_train(page, app_url, "data=spirals&n=200&layers=8&epochs=5&lr=0.05")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("heading", name="Compare runs").wait_for()          # run 1 ended and is kept
    wait_idle(page)
    verdicts = [a for a in alerts(page) if "Compare runs" in a]
    assert len(verdicts) == 1 and any(word in verdicts[0] for word in
                                      ("Learned", "Still improving", "Stuck", "Overfitting", "Diverged"))
    assert not any("Finished all" in a for a in alerts(page))

    page.get_by_role("slider", name="Learning rate").focus()
    page.keyboard.press("ArrowRight")                                     # one step up: 0.05 -> 0.1
    page.wait_for_url("**lr=0.1**")
    wait_idle(page)
    page.get_by_role("button", name="Reset").click()
    wait_idle(page)
    page.get_by_role("button", name="Start").click()
    page.wait_for_function(f"() => ({TABLE_ROWS_JS})().length === 2")
    page.wait_for_function(f"() => ({LEGEND_JS})().includes('#2 lr 0.1')")
    wait_idle(page)
    legend = page.evaluate(LEGEND_JS)
    assert legend.count("#1 lr 0.05") == 2 and legend.count("#2 lr 0.1") == 2    # loss chart, accuracy chart
    rows = page.evaluate(TABLE_ROWS_JS)
    assert rows[0].startswith("#1 lr 0.05") and rows[1].startswith("#2 lr 0.1"), rows
    page.get_by_role("heading", name="Compare runs").evaluate("e => e.scrollIntoView({block: 'start'})")
    time.sleep(0.3)                                                        # the charts' own transition
    screenshot(page, "train_compare")

    page.get_by_role("button", name="Restore #1").click()
    page.wait_for_url("**lr=0.05**")
    wait_idle(page)
    assert any("run #1 are back" in a for a in alerts(page))
    assert page.get_by_role("button", name="Restore #1").is_disabled()     # these are the settings now
    assert page.get_by_role("button", name="Start").is_enabled()
    assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.parametrize("width", [1280, 390])
def test_no_control_is_cut_off(browser, app_url, width):
    """The Start ... Reset row and the learning rate fit a laptop and a phone (wrapping, not cutting)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        open_train(page, app_url, "data=spirals&epochs=5")
        page.get_by_role("button", name="Start").scroll_into_view_if_needed()
        # all five laid out (on a busy machine the row can still be arriving when Start shows)
        page.wait_for_function(f"() => ({BUTTONS_JS})().length >= 5")
        buttons = page.evaluate(BUTTONS_JS)
        assert [b["text"].split()[-1] for b in buttons] == ["Start", "Pause", "Resume", "Step", "Reset"]
        for b in buttons:
            assert not b["cut"] and b["right"] <= b["width"], b
        assert page.evaluate("document.documentElement.scrollWidth") <= width     # nothing sticks out
        assert page.get_by_role("slider", name="Learning rate").is_visible()
        screenshot(page, f"train_controls_{width}")
    finally:
        context.close()
