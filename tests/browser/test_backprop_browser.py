"""One training step with numbers, in a real browser: the seeds' 2-2-1 sigmoid XOR net on the Train
page, its step traced layer by layer in four tabs, and the worksheet downloaded as a file."""
from __future__ import annotations

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
    page.get_by_text("Epoch 1.0 of").wait_for()                 # the step's rerun is drawn
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
