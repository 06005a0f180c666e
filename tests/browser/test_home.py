"""The app starts in a real browser and every page opens, also straight from a shared link."""
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
