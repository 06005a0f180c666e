"""The Optimisers page in a real browser: every optimiser's path over the bowl's contours, and the
step slider unfolding them."""
from __future__ import annotations

import pytest

from .conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser

CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def test_the_optimisers_race(page, app_url):
    page.goto(app_url)
    wait_idle(page)
    page.goto(f"{app_url}/race")
    wait_idle(page)
    page.wait_for_selector(f"{CHART} g.contourlayer path")
    assert page.locator(f"{CHART} g.scatterlayer g.trace").count() >= 6 * 3      # each: rest, path, where it is
    assert page.locator(f"{CHART} .legendtext").filter(has_text="Adam").count() == 1
    title = page.locator(f"{CHART} .gtitle")
    assert "step 100" in title.text_content()

    slider = page.locator("input[type=range][aria-label='Step']")
    slider.focus()
    slider.press("Home")
    page.wait_for_function(f"() => /step 0$/.test(document.querySelector(\"{CHART} .gtitle\")?.textContent)")
    wait_idle(page)
    # a click on the track, a third of the way along: the paths unfold to about step 33
    track = page.locator("[data-testid='stSlider']").filter(has=slider).locator("[role='group'] > div").first
    box = track.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.wait_for_function(f"""() => {{ const m = /step (\\d+)$/.exec(document.querySelector("{CHART} .gtitle")?.textContent);
                                        return m && +m[1] > 20 && +m[1] < 45; }}""")
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    # for the README: the paths after 30 steps, the rest of each dotted
    page.set_viewport_size({"width": 1400, "height": 1250})
    page.get_by_role("heading", name="Optimisers race").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    screenshot(page, "race")


def test_the_race_table_fits_a_phone(page, app_url):
    # a 390 px phone: every cell of the table, the note column included, stays on screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{app_url}/race")
    wait_idle(page)
    page.wait_for_selector("[data-testid='stTable'] table")
    page.locator("[data-testid='stTable']").scroll_into_view_if_needed()
    right = page.evaluate("() => Math.max(...[...document.querySelectorAll(\"[data-testid='stTable'] th, "
                          "[data-testid='stTable'] td\")].map(e => e.getBoundingClientRect().right))")
    assert right <= 390, right
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.get_by_text("In this race, at step 100:").count() == 1
