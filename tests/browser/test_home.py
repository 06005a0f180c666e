"""The app starts in a real browser and every page of the navigation opens without an error."""
from .conftest import screenshot, wait_idle


def test_every_page_opens(page, app_url):
    page.goto(app_url)
    wait_idle(page)
    screenshot(page, "home")
    for path in ("train", "weight-init", "draw"):
        page.goto(f"{app_url}/{path}")
        wait_idle(page)
        assert page.locator("[data-testid='stException']").count() == 0, path
        assert page.locator("h1").count() >= 1, path
