"""One training step with numbers, in a real browser: the seeds' 2-2-1 sigmoid XOR net on the Train
page, its step traced layer by layer in four tabs, and the worksheet downloaded as a file."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from .conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser


def formula(page, text: str):
    """The code block showing ``text`` (its text is split into highlighted tokens: match the block)."""
    return page.locator("[data-testid='stCode']").filter(has_text=text).first


def test_one_training_step_with_numbers(page, app_url):
    page.goto(app_url)
    wait_idle(page)
    page.goto(f"{app_url}/train?data=xor&layers=2&act=sigmoid&loss=sigmoid_bce&opt=sgd&lr=0.5")
    wait_idle(page)
    page.get_by_role("button", name="Step").click()
    page.get_by_text("Epoch 1 of").wait_for()                 # the step's rerun is drawn
    wait_idle(page)
    page.get_by_text("One training step, with numbers").click()
    page.get_by_text("Example #0: the point").wait_for()
    wait_idle(page)
    formula(page, "z = x·W + b").wait_for()
    formula(page, "a = σ(z) = 1 / (1 + e^(−z))").wait_for()
    assert page.locator("[data-testid='stTable']").count() > 10

    page.get_by_role("tab", name="3 · Backward").click()
    formula(page, "dL/dW = xᵀ·dL/dz").wait_for()
    formula(page, "dL/dz = dL/da ⊙ f'(z)").wait_for()
    page.get_by_role("tab", name="2 · Loss").click()
    formula(page, "dL/ds = (p − y) / N").wait_for()
    page.get_by_role("tab", name="4 · Update").click()
    formula(page, "p ← p − lr·g").wait_for()

    with page.expect_download() as download:
        page.get_by_role("button", name="Worksheet to fill in (Markdown)").click()
    sheet = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == "backprop-worksheet.md"
    assert sheet.startswith("# One training step, by hand") and "____" in sheet and "## Backward" in sheet

    # for the README: the backward pass, formulas beside their numbers
    page.get_by_role("tab", name="3 · Backward").click()
    page.set_viewport_size({"width": 1400, "height": 1150})
    page.get_by_text("Example #0: the point").evaluate("e => e.scrollIntoView({block: 'start'})")
    time.sleep(0.5)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "backprop")
    page.get_by_role("button", name="Reset").click()
    wait_idle(page)


def open_step_view(page, app_url, query: str) -> None:
    page.goto(app_url)
    wait_idle(page)
    page.goto(f"{app_url}/train?{query}")
    wait_idle(page)
    page.get_by_role("button", name="Step").click()
    page.get_by_text(re.compile(r"^Epoch 1 of")).wait_for(timeout=120_000)   # the step's rerun is drawn
    wait_idle(page)
    page.get_by_text("One training step, with numbers").click()
    wait_idle(page)


def tab(page):
    """The tab of the step view on show."""
    return page.locator("[role='tabpanel']:visible")


def numbers(texts: list[str]) -> list[float]:
    """The cells of a table row that are numbers (not its name)."""
    out = []
    for t in texts:
        try:
            out.append(float(t))
        except ValueError:
            pass
    return out


def table_headers(page) -> list[list[str]]:
    """The column names of every table in the visible tab."""
    return page.evaluate("""() => [...document.querySelectorAll("[data-testid='stTable']")]
        .filter(t => t.offsetParent !== null)
        .map(t => [...t.querySelectorAll('thead th')].map(th => th.innerText.trim()))""")


def test_batch_norm_traces_the_mini_batch_and_names_chain(page, app_url, server_log):
    """Batch norm + dropout on XOR, "One training example" (the default): the mini-batch is traced with
    the reason said, no error on the page or in the console, and each layer reads what the one below wrote."""
    open_step_view(page, app_url, "data=xor&layers=4&act=tanh&bn=1&dropout=0.2")
    page.get_by_text("With batch normalisation the step is traced on the next mini-batch").wait_for()
    page.get_by_text("16 examples:").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    formula(page, "a = tanh(u)").wait_for()
    formula(page, "s = a'·W + b").wait_for()
    assert "x → z" in page.get_by_text("Hidden layer 1 · Dense").first.locator("..").inner_text()
    page.get_by_role("tab", name="2 · Loss").click()
    formula(page, "dL/ds = (p − onehot(y)) / N").wait_for()
    headers = table_headers(page)
    assert ["", "class 0", "class 1"] in headers and not any("s1" in h for h in headers)
    page.get_by_role("tab", name="3 · Backward").click()
    formula(page, "dL/du = dL/da ⊙ f'(u)").wait_for()
    page.get_by_role("tab", name="4 · Update").click()
    tab(page).get_by_text("Hidden layer 1 · γ").first.wait_for()
    assert any(h[1:3] == ["W[x₁→n1]", "W[x₁→n2]"] for h in table_headers(page))
    console = server_log.read_text()
    assert "Traceback" not in console and "ValueError" not in console, console


def test_a_digit_step_shows_inked_pixels_and_explains_float32(page, app_url):
    open_step_view(page, app_url, "data=mnist-sample&layers=16&opt=momentum")
    page.get_by_text("the tables show the 8 with the most ink").wait_for()
    wait_idle(page)
    # x, the input: the one table whose columns are inputs and whose row is the example #0
    x_table = tab(page).locator("[data-testid='stTable']").filter(has_text="#0").filter(has_text=re.compile("x[₀-₉]")).first
    x_table.wait_for()
    headers = [h.strip() for h in x_table.locator("thead th").all_inner_texts()]
    assert len(headers) == 9 and all(h.startswith("x") for h in headers[1:]), headers
    cells = numbers(x_table.locator("tbody tr").first.locator("td, th").all_inner_texts())
    assert len(cells) == 8 and all(c > 0 for c in cells)             # x of 8 pixels with ink, not corner zeros
    page.get_by_role("tab", name="4 · Update").click()
    page.get_by_text("The parameters are float32 numbers").wait_for()
    wait_idle(page)
    row = tab(page).locator("[data-testid='stTable']").first.locator("tbody tr").filter(has_text="g (gradient)")
    assert any(v != 0 for v in numbers(row.locator("td, th").all_inner_texts()))
    assert page.locator("[data-testid='stException']").count() == 0
