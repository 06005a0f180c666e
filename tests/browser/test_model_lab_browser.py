"""The Draw page's model lab in a real browser: its three views, read back from what the page shows.

The three views share one Draw page (opening it and drawing cost more than checking a view): a 1 is
drawn on it with the mouse, then:
- "About this model": the reliability diagram is drawn (its bars are the shipped model's card's bins,
  on screen as SVG bars) and the calibration figures (ECE before and after) are the card's;
- "Robustness lab": the accuracy-versus-distortion curve of each of the five distortions is drawn; the
  rotation slider is moved one step at a time with the keyboard and, at every step, the prediction the
  lab shows is the model's own answer for the drawing turned that far (recomputed here with nn from the
  canvas's own pixels), until the answer changes;
- "Where is my digit?": the map holds the ten classes where nn puts them, and a star where nn puts the
  drawing; opened on an empty canvas, it stays open and the star follows the drawing (a stroke, a
  second stroke, Clear, another digit), read from the Plotly figure's data in the page.
Saves docs/screenshots/model_lab_about.png, robustness_lab.png and where_is_my_digit.png (with NN_SCREENSHOTS=1).
"""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from nn.data import load_mnist_sample
from nn.explain import judge
from nn.hidden_map import hidden_map
from nn.model import MLP
from nn.preprocess import normalise_digits, preprocess
from nn.robustness import DISTORTIONS, distort
from ui.model_lab import STEPS, _curve_amounts, map_sentence
from ui.shared import SHIPPED_MODEL

from .conftest import screenshot, wait_idle
from .test_draw_browser import FOUR, ONE, ZERO, _clear, _draw, _open_draw_page, _prediction

# a 4 whose two strokes are close together: the shipped model reads it as a 4, while on the flat map
# it lands nearest the centre of the 1s (the map keeps a quarter of the layer's variance)
NARROW_FOUR = [[(150, 45), (150, 250)], [(130, 50), (110, 170), (225, 170)]]

pytestmark = pytest.mark.browser

CARD = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())

# Where the open tab of the model lab shows: its tab panel, or for "About this model" (which the page
# draws under the tabs, outside the drawing's fragment: pages/draw.py) the container under the tabs.
LAB_PANELS = "[role=tabpanel], .st-key-draw_lab_about"

# The visible tab's contents: its metrics, captions and text. null while no tab panel is shown.
TAB_JS = """() => {
    const panel = [...document.querySelectorAll('""" + LAB_PANELS + """')].find(p => p.offsetParent !== null && p.innerText.trim());
    if (!panel) return null;
    const metrics = {};
    for (const m of panel.querySelectorAll("[data-testid='stMetric']")) {
        const delta = m.querySelector("[data-testid='stMetricDelta']");
        metrics[m.querySelector("[data-testid='stMetricLabel']").innerText.trim()] = {
            value: m.querySelector("[data-testid='stMetricValue']").innerText.trim(),
            delta: delta ? delta.innerText.trim() : null};
    }
    const captions = [...panel.querySelectorAll("[data-testid='stCaptionContainer'], [data-testid='stImageCaption']")]
        .map(e => e.innerText.trim());
    return {metrics, captions, text: panel.innerText};
}"""

# The Plotly figure in the visible tab whose title contains `part`: its traces and axis titles as
# given to Plotly, and what Plotly drew of them (SVG bars, line paths, points, legend entries,
# WebGL canvases). null while there is no such figure or it is not laid out yet (a hidden tab's
# figures have no width).
FIGURE_JS = """(part) => {
    const panel = [...document.querySelectorAll('""" + LAB_PANELS + """')].find(p => p.offsetParent !== null && p.innerText.trim());
    if (!panel) return null;
    const gd = [...panel.querySelectorAll(".js-plotly-plot")]
        .find(d => d.layout && d.layout.title && String(d.layout.title.text).includes(part));
    if (!gd || !gd.data || gd.getBoundingClientRect().width < 100) return null;
    const plain = v => (ArrayBuffer.isView(v) ? Array.from(v) : v === undefined ? null : v);
    const title = a => (gd.layout[a] && gd.layout[a].title ? String(gd.layout[a].title.text) : null);
    return {
        traces: gd.data.map(t => ({name: t.name, type: t.type, mode: t.mode || null, x: plain(t.x),
                                   y: plain(t.y), text: plain(t.text),
                                   symbol: t.marker && t.marker.symbol ? t.marker.symbol : null})),
        xtitle: title("xaxis"), ytitle: title("yaxis"),
        bars: [...gd.querySelectorAll(".barlayer .point path")].filter(p => (p.getAttribute("d") || "").length > 4).length,
        lines: [...gd.querySelectorAll(".scatterlayer .js-line")].filter(p => (p.getAttribute("d") || "").length > 10).length,
        points: [...gd.querySelectorAll(".scatterlayer .trace")].map(t => t.querySelectorAll(".points path").length),
        legend: [...gd.querySelectorAll(".legend .traces .legendtext")].map(e => e.textContent),
        gl: gd.querySelectorAll("canvas").length,
    };
}"""


@pytest.fixture(scope="module")
def draw_page(browser, app_url):
    """The Draw page, with a 1 drawn on its canvas, shared by the tests of this module (in order)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    _open_draw_page(page, app_url)
    _draw(page, ONE[0])
    yield page
    context.close()


def _tab(page) -> dict:
    return page.evaluate(TAB_JS)


def _values(v) -> np.ndarray | None:
    """A Plotly array as the page holds it: a plain list, or {"dtype", "bdata"} (plotly.py's base64
    encoding of a NumPy array)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), np.dtype(v["dtype"])).astype(float)
    return None if v is None else np.asarray(v, float)


def _figure(page, part: str, until: str = "true") -> dict:
    """The figure titled ``part`` in the visible tab, once Plotly has drawn it and ``until`` (a JS
    expression of ``f``, the figure) holds, with its traces by name and their x and y as arrays."""
    handle = page.wait_for_function(f"(part) => {{ const f = ({FIGURE_JS})(part); return f && ({until}) && f; }}",
                                    arg=part, polling="raf", timeout=15_000)
    fig = handle.json_value()
    for t in fig["traces"]:
        t["x"], t["y"] = _values(t["x"]), _values(t["y"])
    fig["by_name"] = {t["name"]: t for t in fig["traces"]}
    return fig


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_function("name => [...document.querySelectorAll('[role=tab]')].some(t => "
                           "t.innerText.trim() === name && t.getAttribute('aria-selected') === 'true')",
                           arg=name)
    wait_idle(page)


def _show_tab_for_screenshot(page) -> None:
    """Scroll the tabs to the top of the window and move the mouse off every chart (no hover labels)."""
    # the tab bar just below Streamlit's header (scrolled to the very top, the header would hide it)
    page.get_by_role("tablist").evaluate("""e => {
        e.scrollIntoView({block: "start"});
        let box = e.parentElement;
        while (box && !(box.scrollHeight > box.clientHeight && /auto|scroll/.test(getComputedStyle(box).overflowY)))
            box = box.parentElement;
        (box || document.scrollingElement).scrollBy(0, -80);
    }""")
    page.mouse.move(5, 5)
    page.wait_for_timeout(300)       # Plotly's hover label fades out


def _drawing(page) -> np.ndarray:
    """The network's input for what is on the canvas, (1, 784): the canvas's own pixels through
    nn.preprocess, as the page does with what the canvas sends it."""
    url = page.locator("[data-testid=stBidiComponentIsolated] canvas.dc-canvas.lower-canvas").evaluate(
        "c => c.toDataURL('image/png')")
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    return preprocess(image).x


def _shown(verdict) -> tuple[str, str]:
    """(Prediction, Confidence) as the page writes a verdict."""
    return (str(verdict.digit) if verdict.sure else "?"), f"{verdict.confidence:.0%}"


def _lab_answer(page) -> tuple[str, str]:
    """(Prediction, Confidence) shown in the robustness lab."""
    tab = _tab(page)
    confidence = next(c for c in tab["captions"] if c.startswith("Confidence "))
    return tab["metrics"]["Prediction"]["value"], confidence.removeprefix("Confidence ")


def test_about_this_model_shows_the_reliability_diagram_and_calibration(draw_page):
    page = draw_page
    assert page.get_by_role("combobox", name="Model").input_value() == "default (shipped)"
    assert _prediction(page) == "1"

    _open_tab(page, "About this model")
    cal = CARD["calibration"]
    full_before = [b for b in cal["bins_before"] if b["count"]]
    full_after = [b for b in cal["bins_after"] if b["count"]]
    fig = _figure(page, "Reliability", until=f"f.bars === {len(full_before) + len(full_after)}")
    before, after = fig["by_name"]["before (T = 1)"], fig["by_name"]["after temperature scaling"]
    assert before["type"] == after["type"] == "bar"
    # the bars are the card's bins (accuracy of each non-empty confidence band), before and after
    assert np.allclose(before["y"], [b["accuracy"] for b in full_before])
    assert np.allclose(after["y"], [b["accuracy"] for b in full_after])
    assert list(fig["by_name"]["perfectly calibrated"]["x"]) == [0, 1]
    assert fig["xtitle"] == "confidence (top probability)" and fig["ytitle"] == "share right"
    # and Plotly drew them: one SVG bar per band, the dashed diagonal, the three legend entries
    assert fig["bars"] == len(full_before) + len(full_after) and fig["lines"] >= 1
    assert fig["legend"] == ["before (T = 1)", "after temperature scaling", "perfectly calibrated"]

    tab = _tab(page)
    assert tab["metrics"]["Official MNIST test"]["value"] == f"{CARD['evaluations']['mnist']['accuracy']:.2%}"
    assert tab["metrics"]["Calibration error"]["value"] == f"{cal['ece_after']:.2%}"
    # the change is the difference of the two figures as shown (0.32% -> 0.25%: -0.07%, not the
    # unrounded -0.064% shown as "-0.06%" beside them)
    shown_change = float(f"{100 * cal['ece_after']:.2f}") - float(f"{100 * cal['ece_before']:.2f}")
    assert tab["metrics"]["Calibration error"]["delta"] == f"{shown_change:+.2f}% vs T = 1"
    ece = next(c for c in tab["captions"] if c.startswith("ECE "))
    assert ece.startswith(f"ECE {cal['ece_before']:.2%} before, {cal['ece_after']:.2%} after temperature scaling")
    assert f"{cal['n_check']:,} held-out official test digits" in ece
    assert page.locator("[data-testid='stException']").count() == 0

    _show_tab_for_screenshot(page)
    screenshot(page, "model_lab_about")


def test_robustness_lab_curves_and_the_answer_as_the_drawing_turns(draw_page):
    page = draw_page
    model = MLP.load(SHIPPED_MODEL)
    x = _drawing(page)
    # the drawing recomputed here is the one the page read: same answer, same confidence
    main = (_prediction(page), page.evaluate(
        "() => [...document.querySelectorAll(\"[data-testid='stMetric']\")].find(m => m.innerText"
        ".startsWith('Confidence')).querySelector(\"[data-testid='stMetricValue']\").innerText.trim()"))
    assert main == _shown(judge(model, x)) == ("1", "100%")

    _open_tab(page, "Robustness lab")
    assert "your drawing" in _tab(page)["captions"]
    slider = page.get_by_role("slider", name="Amount of rotation (degrees)")
    assert slider.input_value() == "0"
    assert _lab_answer(page) == main            # undistorted: the page's own answer

    # turn the drawing one slider step at a time until the network's answer changes
    step, answers = STEPS["rotation"], []
    slider.focus()
    for k in range(1, int(DISTORTIONS["rotation"].high / step) + 1):
        amount = k * step
        page.keyboard.press("ArrowRight")
        page.wait_for_function("a => ((" + TAB_JS + ")() || {captions: []}).captions.includes(a)",
                               arg=f"rotation {amount:g} degrees", polling="raf")
        wait_idle(page)
        shown = _lab_answer(page)
        answers.append((amount, *shown))
        # what the lab shows is the model's answer for the drawing turned that far
        assert shown == _shown(judge(model, distort(x, "rotation", amount))), answers
        # and the diamond on the curve sits at the slider's amount
        assert _figure(page, "Accuracy as the rotation", until=f"f.traces.some(t => t.name === 'your setting' "
                       f"&& t.x[0] === {amount})")["by_name"]["your setting"]["x"][0] == amount
        if shown[0] != main[0]:
            break
    print(f"\nrotation -> (prediction, confidence): {answers}")
    assert answers[0][1] == "1"                  # turned 5 degrees, a 1 is still a 1
    assert answers[-1][1] != "1", answers         # turned far enough, it no longer is

    _show_tab_for_screenshot(page)
    screenshot(page, "robustness_lab")

    # every distortion draws its accuracy-versus-distortion curve over the slider's whole range
    for kind, d in DISTORTIONS.items():
        if kind != "rotation":
            page.get_by_role("combobox", name="Distortion").click()
            page.get_by_role("option", name=kind.capitalize(), exact=True).click()
            wait_idle(page)
        amounts = _curve_amounts(kind)
        fig = _figure(page, f"Accuracy as the {kind}", until=f"f.points[0] === {len(amounts)} && f.lines >= 1")
        curve = fig["by_name"]["this model"]
        assert fig["xtitle"] == f"{kind} ({d.unit})", kind
        assert np.allclose(curve["x"], amounts) and ((0 <= curve["y"]) & (curve["y"] <= 1)).all(), kind
        at_neutral = curve["y"][list(amounts).index(d.neutral)]
        # untouched, the bundled test digits are read right; pushed to the end of the range, they are not
        assert at_neutral >= 0.9 and curve["y"].min() < at_neutral - 0.1, (kind, curve["y"])
    assert page.locator("[data-testid='stException']").count() == 0


def _star(page, until: str = "true") -> tuple[np.ndarray | None, dict]:
    """The drawing's place on the map (None when there is no star) and the figure."""
    fig = _figure(page, "Where the network puts each digit", until=until)
    star = fig["by_name"].get("your drawing")
    return (None if star is None else np.array([star["x"][0], star["y"][0]])), fig


def _said(page) -> str:
    """What the map view says about the drawing: its sentence (and the map's note), as shown."""
    text = _tab(page)["text"]
    return text[text.index("★"):].split("Each dot is one of", 1)[0].strip()


def _moved(star: np.ndarray) -> str:
    """A JS condition on the figure ``f``: its star is not at ``star`` any more."""
    return (f"f.traces.some(t => t.name === 'your drawing' && Math.hypot(t.x[0] - ({star[0]}), "
            f"t.y[0] - ({star[1]})) > 1e-6)")


def test_where_is_my_digit_places_the_drawing_and_follows_it(draw_page):
    page = draw_page
    # the map as nn makes it: the shipped model's last hidden layer for the 2,000 bundled test digits
    ds = load_mnist_sample()
    hmap = hidden_map(MLP.load(SHIPPED_MODEL), normalise_digits(ds.x_val), ds.y_val)
    spread = float(np.ptp(hmap.coords, axis=0).max())
    tolerance = 1e-4 * spread

    # the tab is opened on an empty canvas: it must stay open as the learner draws
    _clear(page)
    _open_tab(page, "Where is my digit?")
    star, fig = _star(page)
    assert star is None and "Draw a digit: a star will show" in _tab(page)["text"]

    # the map: ten classes of dots (WebGL traces) where nn puts them, their centres labelled
    classes = [t for t in fig["traces"] if t["type"] == "scattergl"]
    assert [t["name"] for t in classes] == [str(k) for k in range(10)]
    for k, t in enumerate(classes):
        assert np.allclose(t["x"], hmap.coords[hmap.labels == k, 0], atol=tolerance), k
        assert np.allclose(t["y"], hmap.coords[hmap.labels == k, 1], atol=tolerance), k
    centres = fig["by_name"]["class centres"]
    assert [t.replace("<b>", "").replace("</b>", "") for t in centres["text"]] == [str(k) for k in range(10)]
    assert np.allclose(np.c_[centres["x"], centres["y"]], hmap.centres, atol=tolerance)
    assert fig["gl"] >= 1 and fig["legend"][:10] == [str(k) for k in range(10)]
    assert fig["xtitle"].startswith("1st direction (") and fig["ytitle"].startswith("2nd direction (")

    model = MLP.load(SHIPPED_MODEL)
    units, explained = model.config.hidden[-1], float(hmap.explained.sum())

    def placed(star: np.ndarray) -> None:
        """The star is where nn puts what is on the canvas; the text is what nn says of it (judged in
        the full layer, beside the page's answer), and never names another digit than the answer
        without saying why."""
        x = _drawing(page)
        where = hmap.place(x)
        assert np.allclose(star, where.point, atol=tolerance), star
        said = " ".join(_said(page).split())
        expected = map_sentence(where, judge(model, x), units, explained).replace("**", "")
        assert said == " ".join(expected.split()), (said, expected)
        answer = _prediction(page)
        assert f"agrees with its answer, {answer}" in said or "all the same" in said or "not sure" in said

    # the first stroke of a 4 (a 1): the tab is still open, and a star appears, drawn by Plotly
    _draw(page, FOUR[0])
    assert page.get_by_role("tab", name="Where is my digit?").get_attribute("aria-selected") == "true", \
        "the first stroke sent the learner back to another tab"
    one, fig = _star(page, until="f.traces.some(t => t.name === 'your drawing')")
    assert _prediction(page) == "1"
    placed(one)
    assert fig["by_name"]["your drawing"]["symbol"] == "star" and fig["legend"][-1] == "your drawing"
    # Plotly drew the star (one point), then the class labels over it (text, no points)
    assert fig["points"][-2:] == [1, 0]

    # the second stroke makes it a 4: the star moves with it
    _draw(page, FOUR[1])
    four, fig = _star(page, until=_moved(one))
    assert _prediction(page) == "4"
    placed(four)
    assert np.hypot(*(four - one)) > 0.05 * spread
    # the class labels are drawn over the star (after it), so that it never hides which class it is on
    names = [t["name"] for t in fig["traces"]]
    assert names.index("class centres") > names.index("your drawing")

    # a student's narrow 4, read as a 4, landed nearest the centre of the 1s on the flat map and the page
    # said it "looks most like a 1": in the full layer it is a 4, and the map's suggestion is explained
    _clear(page)
    _star(page, until="!f.traces.some(t => t.name === 'your drawing')")
    for stroke in NARROW_FOUR:
        _draw(page, stroke)
    narrow, fig = _star(page, until="f.traces.some(t => t.name === 'your drawing')")
    assert _prediction(page) == "4"
    placed(narrow)
    where = hmap.place(_drawing(page))
    said = _said(page)
    assert "looks most like" not in said and "4s" in said.split("\n")[0]
    if where.on_map != 4:
        assert f"On the flat map the star sits nearest the centre of the {where.on_map}s, not the 4s" in said
    four = narrow

    _show_tab_for_screenshot(page)
    screenshot(page, "where_is_my_digit")

    # Clear: no star; a 0 lands somewhere else again
    _clear(page)
    star, _ = _star(page, until="!f.traces.some(t => t.name === 'your drawing')")
    assert star is None
    _draw(page, ZERO[0])
    zero, fig = _star(page, until=_moved(four))
    assert _prediction(page) == "0"
    placed(zero)
    assert np.hypot(*(zero - four)) > 0.05 * spread
    # the tab stayed open through the strokes and Clear
    assert page.get_by_role("tab", name="Where is my digit?").get_attribute("aria-selected") == "true"
    assert page.locator("[data-testid='stException']").count() == 0
