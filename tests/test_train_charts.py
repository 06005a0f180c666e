"""The Train page's live pictures are pixels rendered in Python: check they show what they claim
(the right class on the right side, points where the data is), and that the live chart loads
plotly.js the way it says."""
from __future__ import annotations

import base64
import io
import json
import sys

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from nn import metrics
from ui import live_chart
from ui import train_charts as charts

BOUNDS = ((-2.0, 2.0), (-1.0, 1.0))


def array(value) -> np.ndarray:
    """A plotly JSON array: a list, or {'dtype', 'bdata' (base64), 'shape'} as plotly 7 writes numpy arrays."""
    if isinstance(value, dict):
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return data.reshape([int(n) for n in str(value.get("shape", len(data))).split(",")])
    return np.asarray(value)


def decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


class SignOfY:
    """A stand-in model: class 0 above the x axis, class 1 below, sure far from it."""

    class config:
        input_dim = 2

    def predict_proba(self, x):
        p = 1 / (1 + np.exp(-8 * x[:, 1]))
        return np.stack([p, 1 - p], axis=1)


def empty_layer(size=80):
    return np.zeros((size, size, 3), np.float32), np.zeros((size, size, 1), np.float32)



def named_colorscales(spec) -> list[str]:
    """Every colour scale given by name in a figure dict. The live views send the dict to plotly.js as it
    is, and plotly.js's named scales are not plotly.py's ("Blues" runs the other way): go.Figure would
    swap in plotly.py's and hide the difference here, so a builder must spell its scales out."""
    if isinstance(spec, dict):
        return [v for k, v in spec.items() if k == "colorscale" and isinstance(v, str)] + \
            [name for v in spec.values() for name in named_colorscales(v)]
    if isinstance(spec, (list, tuple)):
        return [name for v in spec for name in named_colorscales(v)]
    return []


def validated(spec: dict) -> dict:
    """A builder's figure dict as the browser receives it, after plotly has validated every property
    (the live views send it unvalidated, for speed: this is where its validity is checked)."""
    assert named_colorscales(spec) == []
    return json.loads(go.Figure(spec).to_json())


def test_regions_are_drawn_the_right_way_up():
    _, _, proba = metrics.decision_grid(SignOfY(), BOUNDS, 40)
    img = charts.boundary_image(proba, 2, empty_layer()).astype(int)
    top, bottom = img[5, 40], img[-6, 40]
    blue, orange = charts.CLASS_RGB[0], charts.CLASS_RGB[1]
    # a sure region is the class colour mixed with 60% white; the top is class 0 (blue)
    assert np.abs(top - (0.6 * 255 + 0.4 * blue)).max() <= 2
    assert np.abs(bottom - (0.6 * 255 + 0.4 * orange)).max() <= 2
    middle = img[40, 40]                                   # on the boundary: unsure, nearly white
    assert middle.min() > 225


def test_points_land_where_the_data_is():
    x = np.array([[-1.5, 0.5]], np.float32)                # a training point, top-left quarter
    v = np.array([[1.5, -0.5]], np.float32)                # a validation point, bottom-right quarter
    layer = charts.points_layer(x, np.array([1]), v, np.array([0]), BOUNDS, size=100)
    img = charts.boundary_image(None, 2, layer).astype(int)
    col, row = int((-1.5 + 2) / 4 * 100), int((1 - 0.5) / 2 * 100)
    assert np.abs(img[row, col] - charts.CLASS_RGB[1]).max() < 40          # an orange dot there
    col, row = int((1.5 + 2) / 4 * 100), int((1 + 0.5) / 2 * 100)
    assert np.abs(img[row, col] - charts.CLASS_RGB[0]).max() < 60          # a blue cross there
    assert (img == 255).all(axis=2).mean() > 0.95                           # white elsewhere


def test_boundary_survives_a_diverged_network():
    proba = np.full((10, 10, 3), np.nan, np.float32)
    img = charts.boundary_image(proba, 3, empty_layer(50))
    assert img.shape == (50, 50, 3) and img.dtype == np.uint8


def test_live_figure_has_curves_and_the_picture():
    snap = {"batch_x": np.linspace(0, 2, 50), "batch_loss": np.linspace(2, 0.1, 50),
            "batch_acc": np.linspace(0.1, 0.9, 50), "epoch_x": [1, 2], "train_loss": [1.0, 0.5],
            "val_loss": [1.1, float("nan")], "train_acc": [0.5, 0.8], "val_acc": [0.4, 0.7]}
    _, _, proba = metrics.decision_grid(SignOfY(), BOUNDS, 20)
    picture = charts.boundary_panel(charts.boundary_image(proba, 2, empty_layer()), BOUNDS, "Decision regions")
    fig = validated(charts.live_figure(snap, picture))
    assert [t["yaxis"] for t in fig["data"]] == ["y"] * 3 + ["y2"] * 3 + ["y3"]
    assert fig["data"][2]["y"][1] is None                  # NaN becomes a gap, not invalid JSON
    image = fig["layout"]["images"][0]
    assert (image["xref"], image["x"], image["sizex"]) == ("x3", -2.0, 4.0)
    assert decode(image["source"]).shape == (80, 80, 3)
    cm = np.diag([5, 7])
    fig = validated(charts.live_figure(snap, charts.confusion_panel(cm, ["a", "b"])))
    assert fig["data"][-1]["type"] == "heatmap" and array(fig["data"][-1]["text"]).tolist() == [[5, 0], [0, 7]]
    # an empty cell (share 0) is near white, a full one (share 1) dark: the pairs it confuses stand out
    scale = charts.confusion_panel(cm, ["a", "b"])["data"][0]["colorscale"]
    brightness = lambda colour: sum(map(int, colour[colour.index("(") + 1:-1].split(",")))   # noqa: E731
    assert scale[0][0] == 0 and scale[-1][0] == 1
    assert brightness(scale[0][1]) > 700 > 200 > brightness(scale[-1][1])


def test_digit_pictures():
    rng = np.random.default_rng(0)
    digits = rng.random((10, 784))
    fig = validated(charts.gallery_figure(digits, [str(i) for i in range(10)], "mistakes", cols=5))
    img = decode(fig["layout"]["images"][0]["source"])
    assert img.shape[1] == (5 * 28 + 4 * 9) * 4 and len(fig["layout"]["annotations"]) == 10
    w = np.zeros((2, 784))
    w[0, 0], w[1, 0] = 1.0, -1.0
    rgb = charts.diverging_rgb(np.array([1.0, -1.0, 0.0, np.nan]))
    assert rgb[0].tolist() == charts.RED.tolist() and rgb[1].tolist() == charts.BLUE.tolist()
    assert rgb[2].tolist() == rgb[3].tolist() == [255, 255, 255]
    fig = validated(charts.neurons_figure(w, "neurons", cols=2))
    img = decode(fig["layout"]["images"][0]["source"])
    assert img[0, 0].tolist() == charts.RED.tolist() and img[0, (28 + 2) * 4].tolist() == charts.BLUE.tolist()


def test_histograms_are_one_ridge_per_layer():
    rng = np.random.default_rng(0)
    w = [metrics.histogram(rng.normal(size=500)) for _ in range(3)]
    a = [metrics.histogram(rng.random(500)) for _ in range(2)]
    fig = validated(charts.histograms_figure(w, a, ["D1", "D2", "D3"], [("dead", 0.25), ("dead", 0.0)]))
    assert [t["xaxis"] for t in fig["data"]] == ["x"] * 3 + ["x2"] * 2
    texts = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "D3" in texts and "25% dead" in texts
    ridge = fig["data"][0]
    y = array(ridge["y"])
    assert y.min() >= 2 and y.max() <= 2 + 0.8 and y.max() > 2.5         # the first layer is the top ridge
    fig = validated(charts.histograms_figure(w[:1], [], ["D1"], []))   # no hidden layer
    assert "no hidden layer" in " ".join(a["text"] for a in fig["layout"]["annotations"])


# ----- ui/live_chart.py -----------------------------------------------------------------------

def test_plotly_js_is_copied_once_and_atomically(tmp_path, monkeypatch):
    monkeypatch.setattr(live_chart, "STATIC_DIR", tmp_path / "static")
    monkeypatch.setattr(live_chart.st, "get_option", lambda name: True)
    live_chart.plotly_url.clear()
    try:
        assert live_chart.plotly_url() == "app/static/plotly.min.js"
        copied = tmp_path / "static" / "plotly.min.js"
        assert copied.read_bytes() == live_chart.PLOTLY_JS.read_bytes()
        assert [p.name for p in copied.parent.iterdir()] == ["plotly.min.js"]    # no temporary file left
        monkeypatch.setattr(live_chart.st, "get_option", lambda name: False)
        live_chart.plotly_url.clear()
        assert live_chart.plotly_url() is None               # static serving off: use st.plotly_chart
        monkeypatch.setattr(live_chart.st, "get_option", lambda name: True)
        (tmp_path / "a-file").write_text("not a folder")
        monkeypatch.setattr(live_chart, "STATIC_DIR", tmp_path / "a-file" / "static")
        live_chart.plotly_url.clear()
        assert live_chart.plotly_url() is None               # cannot write there: same fallback
    finally:
        live_chart.plotly_url.clear()


def _page():
    import plotly.graph_objects as go

    from ui import live_chart

    live_chart.live_chart(go.Figure({"data": [{"type": "bar", "y": [1, 2]}]}), key="c")


@pytest.mark.parametrize("serving", [True, False])
def test_live_chart_on_a_page(serving, monkeypatch):
    monkeypatch.setattr(live_chart, "plotly_url", lambda: "app/static/plotly.min.js" if serving else None)
    # AppTest leaves its script as __main__, which a training worker started later would re-run
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_function(_page).run()
    assert not at.exception
    if serving:                                              # the component, with the figure and plotly.js
        data = json.loads(at.get("bidi_component")[0].proto.json)
        assert data["library"] == "app/static/plotly.min.js"
        assert json.loads(data["figure"])["data"][0]["type"] == "bar"
        assert not at.get("plotly_chart")
    else:
        assert len(at.get("plotly_chart")) == 1 and not at.get("bidi_component")
