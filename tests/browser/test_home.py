"""The app starts in a real browser, every page opens (also straight from a shared link), Home starts
a newcomer on the first lesson, and nothing on Home is cut off at desktop or phone width."""
import pytest

from .conftest import wait_idle

pytestmark = pytest.mark.browser


def test_every_page_opens_from_a_direct_link(page, app_url):
    # the app works offline: nothing is fetched from anywhere but the app itself (no icon or font CDN)
    elsewhere = []
    page.on("request", lambda r: elsewhere.append(r.url) if r.url.split(":")[0] in ("http", "https")
            and not r.url.startswith(app_url) else None)
    # no visit to "/" first: a teacher's link must work for the very first visitor of a fresh server
    for path, title in (("weight_init", "Weight init"), ("train", "Train"), ("draw", "Draw"), ("", "")):
        page.goto(f"{app_url}/{path}")
        wait_idle(page)
        assert page.get_by_text("Page not found").count() == 0, path
        assert page.locator("[data-testid='stException']").count() == 0, path
        assert page.locator("h1").count() >= 1, path
    assert elsewhere == []


def test_home_starts_a_newcomer_on_the_first_lesson(page, app_url):
    page.goto(app_url)
    wait_idle(page)
    page.get_by_role("link", name="Start the first lesson").click()
    wait_idle(page)
    page.get_by_role("combobox", name="Dataset").wait_for()
    wait_idle(page)
    assert "/train" in page.url
    assert page.get_by_role("combobox", name="Dataset").is_disabled()        # the lesson's locked experiment
    assert page.get_by_role("combobox", name="Optimiser").input_value() == "SGD"


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_nothing_on_home_is_cut_off(browser, app_url, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        pg = context.new_page()
        pg.goto(app_url)
        wait_idle(pg)
        pg.get_by_text("Run it").wait_for()
        pg.get_by_role("link", name="Start the first lesson").wait_for()
        wait_idle(pg)
        clipped = pg.evaluate("""() => [...document.querySelectorAll("[data-testid='stMain'] pre")]
            .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.innerText.slice(0, 40))""")
        assert clipped == []                                  # every command box shows its whole text
        main = pg.evaluate("""() => { const m = document.querySelector("[data-testid='stMain']");
            return [m.scrollWidth, m.clientWidth]; }""")
        assert main[0] <= main[1] + 1, main                   # no sideways scrolling
    finally:
        context.close()
