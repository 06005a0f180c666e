"""The Weight-init page in a real browser: the classic experiment draws one histogram per layer,
forward and backward; the compare view draws a grid of four rows with the Initialisation control
greyed out; a link opens an experiment, changes go back into the address bar, and two "Does it
train?" runs are overlaid and one restored with a click. Also: no Deploy button, a working menu."""
import pytest

from .conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser

CHART = "[data-testid='stPlotlyChart'] .js-plotly-plot"


def subplots(page, chart: int) -> int:
    """How many x/y subplots plotly drew in chart number ``chart``."""
    return page.locator(CHART).nth(chart).locator("g.cartesianlayer > g.subplot").count()


def legend(page, chart: int) -> list[str]:
    return page.locator(CHART).nth(chart).locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)")


def open_page(page, url: str) -> None:
    page.goto(url.split("/weight_init")[0])       # a first visit runs app.py, which registers the pages
    wait_idle(page)
    page.goto(url)
    wait_idle(page)
    page.wait_for_selector(f"{CHART} g.trace.bars path")


def test_weight_init_page(page, app_url):
    open_page(page, f"{app_url}/weight_init")
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator(CHART).count() == 2                  # activations, then gradients
    assert subplots(page, 0) == 5 and subplots(page, 1) == 5
    assert page.locator(f"{CHART} g.trace.bars").count() == 10
    assert page.get_by_text("saturated", exact=True).first.is_visible()
    assert page.get_by_text("on the server").count() == 0   # no developer timing line
    page.mouse.move(0, 0)
    screenshot(page, "weight_init")

    # Streamlit's toolbar in "viewer" mode: no Deploy button, and the main menu still opens
    assert page.get_by_test_id("stAppDeployButton").count() == 0
    page.get_by_test_id("stMainMenu").click()
    page.get_by_test_id("stMainMenuItem-print").wait_for()
    page.keyboard.press("Escape")

    page.locator("[data-testid='stRadio'] label").get_by_text("Compare std 1, std 0.01, Xavier, He",
                                                             exact=True).click()
    page.wait_for_function(f"document.querySelectorAll(\"{CHART}\").length === 1")
    wait_idle(page)
    page.wait_for_selector(f"{CHART} g.trace.bars path")
    assert subplots(page, 0) == 4 * 5                         # one row per initialisation
    assert page.locator("[data-testid='stSidebar'] [data-testid='stRadio'] input[disabled]").count() == 5
    page.wait_for_function("location.search.includes('view=compare')")
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_link_two_runs_compared_and_one_restored(page, app_url):
    open_page(page, f"{app_url}/weight_init?act=tanh&layers=1&units=10")
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_role("combobox", name="Activation").input_value() == "tanh"

    page.get_by_role("button", name="Train once per initialisation").click()
    page.wait_for_function(f"document.querySelectorAll(\"{CHART}\").length === 3", timeout=60_000)
    wait_idle(page)
    assert legend(page, 2) == ["std 1", "std 0.01", "Xavier", "He"]

    seed = sidebar.get_by_test_id("stNumberInput").locator("input")
    seed.fill("1")
    seed.press("Enter")
    page.wait_for_function("location.search.includes('seed=1')")
    wait_idle(page)
    page.get_by_role("button", name="Train once per initialisation").click()
    page.wait_for_function(f"document.querySelectorAll(\"{CHART} .legendtext\").length === 8", timeout=60_000)
    wait_idle(page)
    names = legend(page, 2)
    assert "He · seed 0" in names and "He · seed 1" in names
    assert page.get_by_text("seed 0 vs seed 1").is_visible()
    page.get_by_text("Runs on the chart").evaluate("e => e.scrollIntoView({block: 'start'})")
    screenshot(page, "weight_init_runs")

    page.get_by_role("button", name="Restore #1").click()
    page.wait_for_function("!location.search.includes('seed=')")
    wait_idle(page)
    assert seed.input_value() == "0"
    assert page.get_by_role("button", name="Train once per initialisation").is_disabled()
    assert page.locator("[data-testid='stException']").count() == 0
