"""The Weight-init page in a real browser: the classic experiment draws one histogram per layer,
forward and backward, and the compare view draws a grid of four rows."""
import pytest

from .conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser

CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def subplots(page, chart: int) -> int:
    """How many x/y subplots plotly drew in chart number ``chart``."""
    return page.locator(CHART).nth(chart).locator("g.cartesianlayer > g.subplot").count()


def test_weight_init_page(page, app_url):
    page.goto(app_url)               # a first visit runs app.py, which registers the pages
    wait_idle(page)
    page.goto(f"{app_url}/weight_init")
    wait_idle(page)
    page.wait_for_selector(f"{CHART} g.trace.bars path")

    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator(CHART).count() == 2                  # activations, then gradients
    assert subplots(page, 0) == 5 and subplots(page, 1) == 5
    assert page.locator(f"{CHART} g.trace.bars").count() == 10
    assert page.get_by_text("saturated", exact=True).first.is_visible()
    page.mouse.move(0, 0)
    screenshot(page, "weight_init")

    page.locator("[data-testid='stRadio'] label").get_by_text("Compare std 1, std 0.01, Xavier, He",
                                                             exact=True).click()
    page.wait_for_function(f"document.querySelectorAll(\"{CHART}\").length === 1")
    wait_idle(page)
    page.wait_for_selector(f"{CHART} g.trace.bars path")
    assert subplots(page, 0) == 4 * 5                         # one row per initialisation
    assert page.locator("[data-testid='stException']").count() == 0
