"""Lessons and the calm Train sidebar in a real browser: a lesson link opened by a fresh browser shows
the locked experiment and unlocks with one click; at its defaults the sidebar fits one 1280x800
screen and no choice is cut off."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from nn.settings import SETTINGS
from ui.lessons import LESSONS, lesson_url

from .conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser

SIDEBAR = "[data-testid='stSidebarContent']"


@pytest.fixture
def screen(browser):
    """A fresh browser (no cookies, no session) with a 1280x800 window."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def open_link(page, url: str) -> None:
    page.goto(url)
    wait_idle(page)
    page.get_by_role("combobox", name="Dataset").wait_for()
    wait_idle(page)


def test_a_lesson_link_shows_the_locked_experiment_and_unlocks_in_one_click(screen, app_url):
    lesson = LESSONS[0]
    open_link(screen, app_url + lesson_url(lesson))
    sidebar = screen.locator(SIDEBAR)
    assert screen.get_by_role("combobox", name="Dataset").is_disabled()           # locked
    assert screen.get_by_role("combobox", name="Dataset").input_value() == "Spirals"
    assert screen.get_by_role("combobox", name="Optimiser").input_value() == "SGD"
    assert sidebar.get_by_text("Seed", exact=True).count() == 0                     # put away
    assert sidebar.get_by_text("Advanced settings").count() == 0
    card = screen.get_by_text(lesson.title)
    card.wait_for()
    assert screen.get_by_text("Locked for this lesson").is_visible()
    screenshot(screen, "lesson")

    screen.get_by_role("button", name="Unlock all settings").click()
    wait_idle(screen)
    screen.get_by_text("Advanced settings").wait_for()
    assert not screen.get_by_role("combobox", name="Dataset").is_disabled()
    assert screen.get_by_text(lesson.title).count() == 0
    assert "lesson=" not in screen.url
    # the experiment itself stays: the learning rate of the lesson is still set
    assert "lr=5" in screen.url


def test_the_train_sidebar_fits_one_screen_and_cuts_off_no_name(screen, app_url):
    open_link(screen, f"{app_url}/train")
    fit = screen.evaluate("""s => { const e = document.querySelector(s);
        return {scroll: e.scrollHeight, client: e.clientHeight}; }""", SIDEBAR)
    screenshot(screen, "train_sidebar")
    assert fit["scroll"] <= fit["client"], fit                                      # no scrolling needed
    for name in ("Dataset", "Epochs", "Hidden layers", "Advanced settings", "Restore defaults", "Make a lesson link"):
        box = screen.locator(SIDEBAR).get_by_text(name, exact=True).first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 800, name

    # every choice of every selectbox is shown whole (measured in the box's own font)
    screen.get_by_text("Advanced settings").click()
    wait_idle(screen)
    names = {s.label: [s.names.get(c, c) for c in s.choices] for s in SETTINGS.values() if s.kind is str}
    too_long = screen.evaluate("""names => {
        const out = [], c = document.createElement('canvas').getContext('2d');
        for (const input of document.querySelectorAll("[data-testid='stSidebar'] [data-testid='stSelectbox'] input")) {
            const st = getComputedStyle(input), label = input.getAttribute('aria-label');
            c.font = `${st.fontWeight} ${st.fontSize} ${st.fontFamily}`;
            const room = input.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
            for (const n of names[label] || []) if (c.measureText(n).width > room) out.push(`${label}: ${n}`);
        }
        return out; }""", names)
    checked = screen.locator(f"{SIDEBAR} [data-testid='stSelectbox']").count()
    assert checked >= 6 and too_long == []


def test_a_teachers_note_is_shown_as_written_with_no_link_in_it(screen, app_url):
    # anyone can write a link with a note: Markdown, HTML and bare addresses (which Markdown would
    # make clickable, escaped or not) must all stay text
    note = "See http://evil.example or www.evil.example, mail a@evil.example, [x](https://evil.example) <b>b</b>"
    open_link(screen, f"{app_url}/train?data=xor&lock=lr&note={quote(note)}")
    shown = screen.locator("[data-testid='stMarkdownContainer']", has_text="Your teacher's note")
    assert shown.inner_text().replace("\u2060", "") == "Your teacher's note: " + note
    assert screen.locator("a[href*='evil']").count() == 0 and shown.locator("a, b").count() == 0
