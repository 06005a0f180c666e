"""The Weight-init page under Streamlit's AppTest: it renders the classic experiment, follows
every control, compares the four initialisations, and trains on the button."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/weight_init.py"


@pytest.fixture
def at():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception
    return app


def charts(app) -> list[dict]:
    return [json.loads(c.proto.spec) for c in app.get("plotly_chart")]


def values(array) -> np.ndarray:
    """A plotly array from the figure JSON: a plain list or a base64 typed array."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array, dtype=float)


def bars_per_cell(spec: dict) -> dict[str, np.ndarray]:
    """Percent shares per subplot (keyed by x axis), the stacked zero bar added back in."""
    cells: dict[str, np.ndarray] = {}
    for trace in spec["data"]:
        y = values(trace["y"])
        if trace["xaxis"] in cells and len(y) < len(cells[trace["xaxis"]]):
            cells[trace["xaxis"]][:len(y)] += y
        elif trace["xaxis"] in cells:
            y = y.copy()
            y[:len(cells[trace["xaxis"]])] += cells[trace["xaxis"]]
            cells[trace["xaxis"]] = y
        else:
            cells[trace["xaxis"]] = y.copy()
    return cells


def markdown(app) -> str:
    return "\n".join(m.value for m in app.markdown)


def set_and_run(app, kind: str, key: str, value):
    getattr(app, kind)(key=key).set_value(value).run()
    assert not app.exception, app.exception


def test_default_is_the_classic_experiment(at):
    specs = charts(at)
    assert len(specs) == 2                                   # activations and gradients
    for spec in specs:
        cells = bars_per_cell(spec)
        assert len(cells) == 5                               # one histogram per layer
        for shares in cells.values():
            assert len(shares) == 30 and shares.sum() == pytest.approx(100)
    act = bars_per_cell(specs[0])
    assert specs[0]["layout"]["xaxis"]["range"] == [0, 1]
    for shares in act.values():                              # piled up at 0 and 1
        assert shares[0] + shares[-1] > 50
    assert "saturated" in at.subheader[0].value
    table = at.dataframe[0].value
    assert list(table["layer"]) == ["1", "2", "3", "4", "5"] and "saturated" in table.columns
    assert all(float(v.rstrip("%")) > 55 for v in table["saturated"])
    assert "**Saturated.**" in markdown(at)
    assert any("ms on the server" in c.value for c in at.caption)


def test_std_001_collapses_and_batchnorm_repairs_it(at):
    set_and_run(at, "radio", "wi_init", "std 0.01")
    assert "collapsed" in at.subheader[0].value
    assert all(float(v) < 0.05 for v in at.dataframe[0].value["std"])
    set_and_run(at, "toggle", "wi_bn", True)
    assert "**Batch norm is on.**" in markdown(at)
    assert all(float(v) > 0.15 for v in at.dataframe[0].value["std"])


def test_relu_with_he_is_stable_and_shows_its_zeros(at):
    set_and_run(at, "selectbox", "wi_act", "relu")
    set_and_run(at, "radio", "wi_init", "He")
    assert "stable" in at.subheader[0].value
    table = at.dataframe[0].value
    assert "exactly 0 (dead)" in table.columns and "saturated" not in table.columns
    spec = charts(at)[0]
    x0, x1 = spec["layout"]["xaxis"]["range"]
    assert x0 == 0 and x1 > 1                                 # the range follows ReLU, not (0, 1)
    zero_bars = [t for t in spec["data"] if len(values(t["y"])) == 1]
    assert len(zero_bars) == 5 and all(40 < values(t["y"])[0] < 60 for t in zero_bars)


def test_tanh_range_and_custom_std(at):
    set_and_run(at, "selectbox", "wi_act", "tanh")
    assert charts(at)[0]["layout"]["xaxis"]["range"] == [-1, 1]
    set_and_run(at, "radio", "wi_init", "custom std")
    set_and_run(at, "select_slider", "wi_std", 0.05)
    assert any("Weight std: 0.05" in c.value for c in at.sidebar.caption)
    assert "collapsed" in at.subheader[0].value or "spread" in at.subheader[0].value
    set_and_run(at, "select_slider", "wi_std", 5.0)
    assert "saturated" in at.subheader[0].value


def test_layers_units_and_seed(at):
    set_and_run(at, "slider", "wi_layers", 10)
    set_and_run(at, "slider", "wi_units", 50)
    for spec in charts(at):
        assert len(bars_per_cell(spec)) == 10
    assert len(at.dataframe[0].value) == 10
    before = at.dataframe[0].value.copy()
    at.run()
    assert at.dataframe[0].value.equals(before)                  # same seed, same numbers
    set_and_run(at, "number_input", "wi_seed", 7)
    assert not at.dataframe[0].value.equals(before)


def test_compare_view_has_one_row_per_initialisation(at):
    set_and_run(at, "radio", "wi_view", "Compare std 1, std 0.01, Xavier, He")
    specs = charts(at)
    assert len(specs) == 1
    assert len(bars_per_cell(specs[0])) == 4 * 5
    table = at.dataframe[0].value
    assert list(table["initialisation"]) == ["std 1", "std 0.01", "Xavier", "He"]
    assert list(table["verdict"]) == ["saturated", "collapsed", "spread", "spread"]
    set_and_run(at, "radio", "wi_grid_kind", "gradients")
    set_and_run(at, "selectbox", "wi_act", "relu")
    assert list(at.dataframe[0].value["verdict"]) == ["exploding", "vanishing", "vanishing", "stable"]
    assert "gradients" in at.subheader[0].value


def test_does_it_train_button(at):
    set_and_run(at, "selectbox", "wi_act", "relu")
    assert len(charts(at)) == 2                             # no loss chart before the button
    at.button(key="wi_train").click().run()
    assert not at.exception, at.exception
    specs = charts(at)
    assert len(specs) == 3
    names = [t["name"] for t in specs[2]["data"] if t.get("mode") == "lines"]
    assert names == ["std 1 (diverged)", "std 0.01", "Xavier", "He"]
    text = markdown(at)
    assert "**Learned:** Xavier" in text and "He (loss" in text
    assert "**Stuck near guessing:** std 0.01" in text
    assert "**Diverged:** std 1" in text
    # kept in the session per setting: another setting and back shows it without retraining
    set_and_run(at, "slider", "wi_layers", 4)
    assert len(charts(at)) == 2
    set_and_run(at, "slider", "wi_layers", 5)
    assert len(charts(at)) == 3
    assert len(at.session_state["wi_train_runs"]) == 1


def test_every_activation_and_initialisation_renders(at):
    set_and_run(at, "slider", "wi_layers", 3)
    words = {"sigmoid": {"saturated", "collapsed", "spread"}, "tanh": {"saturated", "collapsed", "spread"},
             "relu": {"exploding", "vanishing", "stable"}, "leaky_relu": {"exploding", "vanishing", "stable"}}
    for activation in ("sigmoid", "tanh", "relu", "leaky_relu"):
        set_and_run(at, "selectbox", "wi_act", activation)
        for init in ("std 1", "std 0.01", "Xavier", "He", "custom std"):
            set_and_run(at, "radio", "wi_init", init)
            for bn in (False, True):
                set_and_run(at, "toggle", "wi_bn", bn)
                word = at.subheader[0].value.split("[")[-1].rstrip("]")
                assert word in words[activation], (activation, init, bn, word)
                assert len(charts(at)) == 2
                assert markdown(at).count("**") >= 2          # an explanation was written
