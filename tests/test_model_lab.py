"""The Draw page's model lab: its figures (ui/lab_charts.py) hold nn's numbers, and its three views
(ui/model_lab.py) render under AppTest from a small script that calls them, as the page does."""
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nn.calibrate import reliability_bins
from nn.hidden_map import hidden_map
from nn.model import MLP, ModelConfig
from nn.robustness import DISTORTIONS, robustness_curve
from nn.explain import verdict
from nn.hidden_map import Placement
from ui import lab_charts
from ui.model_lab import ece_change, map_sentence, taught_note

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MODEL = ROOT / "weights" / "mnist-sample.npz"
DEFAULT_CARD = ROOT / "weights" / "default.json"
DEFAULT_MODEL = ROOT / "weights" / "default.npz"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tiny_model(seed: int = 0) -> MLP:
    return MLP(ModelConfig(input_dim=784, hidden=(32, 16), output_dim=10), seed=seed)


def digits(rng, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Blob-like 'digits': a bright square whose place depends on the class, plus a little noise."""
    y = np.arange(n, dtype=np.int64) % 10
    x = np.zeros((n, 28, 28), np.float32)
    for i, k in enumerate(y):
        r, c = 4 + 2 * (k // 5) * 3, 4 + 3 * (k % 5)
        x[i, r:r + 8, c:c + 6] = 1.0
    x += rng.uniform(0, 0.1, x.shape).astype(np.float32)
    return np.clip(x, 0, 1).reshape(n, 784), y


# ----- figures ---------------------------------------------------------------------------------------

def test_reliability_bars_are_the_bins(rng):
    probs = rng.dirichlet(np.full(10, 0.3), size=400)
    y = rng.integers(0, 10, 400)
    before = reliability_bins(probs, y)
    after = reliability_bins(probs ** 0.5 / (probs ** 0.5).sum(axis=1, keepdims=True), y)
    fig = lab_charts.reliability_diagram(before, after)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [b.name for b in bars] == ["before (T = 1)", "after temperature scaling"]
    for bar, bins in zip(bars, (before, after)):
        full = [b for b in bins if b["count"]]
        assert list(bar.y) == [b["accuracy"] for b in full]
        assert [c[0] for c in bar.customdata] == [b["count"] for b in full]
        # each bar is half its bin wide and lies inside it: before on the left half, after on the right
        assert np.allclose(bar.width, [(b["upper"] - b["lower"]) / 2 for b in full])
        for x, w, b in zip(bar.x, bar.width, full):
            assert b["lower"] - 1e-9 <= x - w / 2 and x + w / 2 <= b["upper"] + 1e-9
    diagonal = next(t for t in fig.data if t.type == "scatter")
    assert list(diagonal.x) == [0, 1] and list(diagonal.y) == [0, 1]


def test_reliability_diagram_of_the_shipped_card():
    cal = json.loads(DEFAULT_CARD.read_text())["calibration"]
    fig = lab_charts.reliability_diagram(cal["bins_before"], cal["bins_after"])
    bars = [t for t in fig.data if t.type == "bar"]
    assert sum(c[0] for c in bars[0].customdata) == cal["n_check"] == sum(c[0] for c in bars[1].customdata)


def test_robustness_curve_figure_holds_the_curve(rng):
    x, y = digits(rng)
    model = tiny_model()
    amounts = DISTORTIONS["rotation"].curve
    acc = robustness_curve(model, x, y, "rotation", amounts)
    other = robustness_curve(tiny_model(1), x, y, "rotation", amounts)
    fig = lab_charts.robustness_figure(np.array(amounts), {"this model": acc, "other": other}, "rotation",
                                       "degrees", marker=(15.0, float(np.interp(15.0, amounts, acc))))
    assert [t.name for t in fig.data] == ["this model", "other", "your setting"]
    assert np.allclose(fig.data[0].y, acc) and np.allclose(fig.data[0].x, amounts)
    assert np.allclose(fig.data[1].y, other)
    assert fig.data[2].x == (15.0,) and np.isclose(fig.data[2].y[0], (acc[1] + acc[2]) / 2)


def test_hidden_map_figure_places_the_star_at_the_projection(rng):
    x, y = digits(rng, 80)
    hmap = hidden_map(tiny_model(), x, y)
    star = hmap.project(x[3])[0]
    fig = lab_charts.hidden_map_figure(hmap.coords, hmap.labels, hmap.centres, hmap.explained, star)
    classes = [t for t in fig.data if t.type == "scattergl"]
    assert [t.name for t in classes] == [str(k) for k in range(10)]
    assert sum(len(t.x) for t in classes) == len(y)
    assert np.allclose(classes[4].x, hmap.coords[y == 4, 0]) and np.allclose(classes[4].y, hmap.coords[y == 4, 1])
    centres = next(t for t in fig.data if t.mode == "text")
    assert np.allclose(centres.x, hmap.centres[:, 0]) and len(centres.text) == 10
    drawn = next(t for t in fig.data if t.name == "your drawing")
    assert drawn.marker.symbol == "star"
    assert np.allclose([drawn.x[0], drawn.y[0]], star)
    # the class labels are drawn after the star, over it, with a white halo: a star on a class's centre
    # hid which class it was
    names = [t.name for t in fig.data]
    assert names.index("class centres") > names.index("your drawing")
    assert "#fff" in centres.textfont.shadow
    assert "your drawing" not in [t.name for t in lab_charts.hidden_map_figure(
        hmap.coords, hmap.labels, hmap.centres, hmap.explained).data]


def placement(nearest: int, on_map: int, distances: dict[int, float], radii: dict[int, float]) -> Placement:
    d, r = np.full(10, 100.0), np.full(10, 30.0)
    for k, v in distances.items():
        d[k] = v
    for k, v in radii.items():
        r[k] = v
    return Placement(point=np.zeros(2, np.float32), nearest=nearest, on_map=on_map, distances=d, radii=r)


def sure_of(digit: int):
    probs = np.full(10, 0.001)
    probs[digit] = 1 - probs.sum() + 0.001
    return verdict(probs)


def test_the_map_sentence_never_contradicts_the_answer_without_saying_why():
    """A clear 4 (read 4, 100%) landed nearest the centre of the 1s on the flat map, and the page said
    "it looks most like a 1". Nearness is judged in the full layer now; the map's own suggestion is only
    mentioned, with why it can mislead."""
    # the student's 4: nearest the 4s in the layer, nearest the 1s' centre on the map
    text = map_sentence(placement(4, 1, {4: 20, 1: 25}, {}), sure_of(4), 256, 0.26)
    assert "among the **4s**" in text and "agrees with its answer, 4" in text
    assert "On the flat map the star sits nearest the centre of the **1s**, not the 4s" in text
    assert "2 of the layer's 256 dimensions (26% of its variance)" in text
    assert "looks most like a 1" not in text
    # map and layer agree: nothing about the map
    text = map_sentence(placement(4, 4, {4: 20}, {}), sure_of(4), 256, 0.26)
    assert "among the **4s**" in text and "flat map" not in text
    # nearest the 1s' average, but inside the (wider) cloud of its answer: named by the cloud it is in
    text = map_sentence(placement(1, 1, {1: 23, 4: 23.3}, {1: 20, 4: 33}), sure_of(4), 256, 0.26)
    assert "inside the cloud of the **4s**" in text and "agrees with its answer, 4" in text
    assert "the 1s form a tighter cloud" in text
    assert "On the flat map the star sits nearest the centre of the **1s**" in text
    # nearest another class, inside no cloud of its answer: the disagreement is said in plain words
    text = map_sentence(placement(9, 9, {9: 40, 4: 50}, {9: 30, 4: 30}), sure_of(4), 256, 0.26)
    assert "nearer the average **9**" in text and "farther from it than 95% of the bundled 9s" in text
    assert "Its answer is **4** all the same" in text
    # not sure: the guesses, no agreement claimed
    unsure = verdict(np.array([0.5, 0.4] + [0.0125] * 8))
    text = map_sentence(placement(0, 0, {0: 10}, {}), unsure, 256, 0.26)
    assert "not sure" in text and "0 (50%) or 1 (40%)" in text and "agrees" not in text


def test_the_calibration_change_agrees_with_the_figures_shown():
    """The shipped card's ECE 0.316% -> 0.252% was shown as "0.32%" and "0.25%" beside "-0.06% vs T = 1"."""
    card = json.loads(DEFAULT_CARD.read_text())["calibration"]
    before, after = card["ece_before"], card["ece_after"]
    change = ece_change(before, after)
    assert change == f"{float(f'{100 * after:.2f}') - float(f'{100 * before:.2f}'):+.2f}% vs T = 1"
    assert (f"{before:.2%}", f"{after:.2%}", change) == ("0.32%", "0.25%", "-0.07% vs T = 1")
    for b, a in [(0.0023, 0.0054), (0.00125, 0.00135), (0.01, 0.01), (0.00316, 0.002515)]:
        shown = float(f"{100 * a:.2f}") - float(f"{100 * b:.2f}")
        assert ece_change(b, a) == f"{shown:+.2f}% vs T = 1"


def test_the_taught_copys_note_says_it_keeps_its_base_temperature():
    note = taught_note("default", 1.6149, True)
    assert "keeps default's temperature (T = 1.61)" in note and "not fitted again" in note
    assert "default learnt from those digits" in note
    assert "learnt from those digits" not in taught_note("mnist-sample", 1.425, False)


def test_per_class_bars():
    rows = [{"class": k, "name": str(k), "n": 100, "accuracy": 0.9 + k / 100} for k in range(10)]
    fig = lab_charts.per_class_bars(rows)
    assert list(fig.data[0].y) == [r["accuracy"] for r in rows]
    assert fig.layout.yaxis.range[0] <= 0.9


@pytest.mark.parametrize("lowest", [0.99, 0.985, 0.95, 0.9, 0.7, 0.3, 0.0])
def test_per_class_axis_never_shows_the_same_label_twice(lowest):
    """With ticks every half percent, 99.5% showed as a second "100%" (and 98.5% as "99%")."""
    rows = [{"name": str(k), "n": 100, "accuracy": lowest + (1 - lowest) * k / 9} for k in range(10)]
    axis = lab_charts.per_class_bars(rows).layout.yaxis
    bottom, top = axis.range
    ticks = np.arange(np.ceil((bottom - axis.tick0) / axis.dtick - 1e-9) * axis.dtick + axis.tick0, top + 1e-9,
                      axis.dtick)
    labels = [f"{t:.0%}" for t in ticks]
    assert axis.tickformat == ".0%"
    assert 2 <= len(ticks) <= 7 and len(set(labels)) == len(labels), labels


def test_legends_below_the_plot_are_placed_from_the_figure_bottom(rng):
    """Placed from the plot's bottom (y < 0), a legend that wraps onto more rows in a narrow column grew
    up over the x-axis title; from the figure's bottom edge it grows down into the room made for it."""
    bins = reliability_bins(rng.dirichlet(np.full(10, 0.3), size=100), rng.integers(0, 10, 100))
    x, y = digits(rng, 40)
    hmap = hidden_map(tiny_model(), x, y)
    for fig in (lab_charts.reliability_diagram(bins, bins),
                lab_charts.robustness_figure(np.array([0.0, 1.0]), {"this model": np.array([1.0, 0.5])},
                                             "shift", "pixels", (0.0, 1.0)),
                lab_charts.hidden_map_figure(hmap.coords, hmap.labels, hmap.centres, hmap.explained)):
        legend = fig.layout.legend
        assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0, "bottom")


# ----- the views under AppTest -----------------------------------------------------------------------

SCRIPT = """
import threading

import numpy as np
import streamlit as st
from nn.model import MLP
from ui import model_lab as lab

path = {path!r}
model = MLP.load(path)
for p in model.state().values():
    p.flags.writeable = False              # as the app shares it: any training would raise
source = lab.source_of(path) if {with_file!r} else lab.source_of(None)


@st.cache_resource
def shared_lock():
    return threading.Lock()         # as the page shares one lock between sessions


lock = shared_lock()
x = st.session_state.get("x")
lab.about_model(model, model.meta if {with_card!r} else {{}}, **source, key="t_about", lock=lock)
lab.robustness_lab(model, x, "t_rob", **source, lock=lock)
lab.hidden_map_view(model, x, "t_map", **source, lock=lock)
"""


def lab_app(tmp_path, with_file=True, with_card=True, model=SAMPLE_MODEL) -> AppTest:
    script = tmp_path / "lab_app.py"
    script.write_text(textwrap.dedent(SCRIPT.format(path=str(model), with_file=with_file,
                                                    with_card=with_card)))
    return AppTest.from_file(str(script), default_timeout=120)


def a_drawing() -> np.ndarray:
    """A preprocessed-looking 1: a vertical bar in the middle of the 28x28 square, (1, 784)."""
    img = np.zeros((28, 28), np.float32)
    img[4:24, 13:16] = 1.0
    return img.reshape(1, 784)


def test_the_three_views_render_from_the_card(tmp_path):
    at = lab_app(tmp_path).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    card = json.loads((ROOT / "weights" / "mnist-sample.json").read_text())
    assert metrics["Official MNIST test"] == f"{card['evaluations']['mnist']['accuracy']:.2%}"
    assert metrics["Calibration error"] == f"{card['calibration']['ece_after']:.2%}"
    assert metrics["Prediction"] in [str(k) for k in range(10)] + ["?"]
    captions = " ".join(c.value for c in at.caption)
    assert f"ECE {card['calibration']['ece_before']:.2%} before" in captions
    assert any("calibrated" in i.value for i in at.info)
    charts = at.get("plotly_chart")
    assert len(charts) == 4          # per class, reliability, robustness curve, hidden map
    assert any("Draw a digit" in i.value for i in at.info)      # no drawing: no star yet
    # the curve is the model's robustness_curve on the first N_CURVE bundled test digits
    from nn.data import load_mnist_sample
    from nn.preprocess import normalise_digits
    from ui.model_lab import N_CURVE, _curve_amounts
    ds = load_mnist_sample()
    curve = json.loads(charts[2].proto.spec)["data"]
    kind = at.selectbox(key="t_rob_kind").value
    amounts = _curve_amounts(kind)
    expected = robustness_curve(MLP.load(SAMPLE_MODEL), normalise_digits(ds.x_val[:N_CURVE]), ds.y_val[:N_CURVE],
                                kind, amounts)
    assert np.allclose(curve[0]["x"], amounts) and np.allclose(curve[0]["y"], expected)
    assert curve[-1]["name"] == "your setting" and np.isclose(curve[-1]["y"][0],
                                                               np.interp(curve[-1]["x"][0], amounts, expected))
    # every widget key carries the prefix it was given
    for w in (*at.selectbox, *at.slider, *at.toggle, *at.number_input):
        assert w.key.startswith("t_rob_") and w.help


def test_moving_the_slider_distorts_and_rereads(tmp_path):
    at = lab_app(tmp_path)
    at.session_state["x"] = a_drawing()
    at.run()
    assert not at.exception
    assert any("your drawing" in m.value and "last hidden layer" in m.value for m in at.markdown)
    at.selectbox(key="t_rob_kind").select("rotation").run()
    at.slider(key="t_rob_amount_rotation").set_value(90.0).run()
    assert not at.exception
    assert any(img.caption == "rotation 90 degrees" for el in at.image for img in el.proto.imgs)
    # a bar turned a quarter is a dash: not a digit the network can be sure of
    assert next(m.value for m in at.metric if m.label == "Prediction") == "?"
    assert at.warning and "Not sure" in at.warning[0].value
    assert at.toggle(key="t_rob_compare").disabled      # the chosen model is the one it would overlay


def test_the_sample_trained_model_can_be_overlaid(tmp_path):
    at = lab_app(tmp_path, model=DEFAULT_MODEL).run()
    assert not at.exception
    # the shipped model's calibration: the change shown is the difference of the two figures shown
    ece = next(m for m in at.metric if m.label == "Calibration error")
    assert (ece.value, ece.delta) == ("0.25%", "-0.07% vs T = 1")
    assert any("ECE 0.32% before, 0.25% after" in c.value for c in at.caption)
    at.toggle(key="t_rob_compare").set_value(True).run()
    assert not at.exception
    curve = json.loads(at.get("plotly_chart")[2].proto.spec)
    assert [t["name"] for t in curve["data"]] == ["this model", "sample-trained model", "your setting"]


def test_views_measure_a_model_without_card_or_file(tmp_path):
    at = lab_app(tmp_path, with_file=False, with_card=False)
    at.session_state["x"] = a_drawing()
    at.run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Bundled test digits" in labels and "Calibration error" in labels
    assert any("the bundled sample's 2,000 test digits" in c.value for c in at.caption)
    assert any("In the network's last hidden layer" in m.value for m in at.markdown)
    assert "t_map_hidden_map" in at.session_state      # a model without a file keeps its map in the session


def test_views_work_inside_a_fragment_as_the_page_calls_them(tmp_path):
    """The page draws the lab inside its drawing fragment: the views' own fragments nest in it."""
    script = tmp_path / "fragment_app.py"
    script.write_text(textwrap.dedent(f"""
        import numpy as np
        import streamlit as st
        from nn.model import MLP
        from ui import model_lab as lab

        model = MLP.load({str(SAMPLE_MODEL)!r})

        @st.fragment
        def page_fragment():
            x = np.zeros((1, 784), np.float32)
            x[0, 100:110] = 1.0
            lab.robustness_lab(model, x, "f_rob", **lab.source_of({str(SAMPLE_MODEL)!r}))
            lab.hidden_map_view(model, x, "f_map", **lab.source_of({str(SAMPLE_MODEL)!r}))

        page_fragment()
    """))
    at = AppTest.from_file(str(script), default_timeout=120).run()
    assert not at.exception
    at.slider(key="f_rob_amount_" + at.selectbox(key="f_rob_kind").value).set_value(
        DISTORTIONS[at.selectbox(key="f_rob_kind").value].high).run()
    assert not at.exception and len(at.get("plotly_chart")) == 2
