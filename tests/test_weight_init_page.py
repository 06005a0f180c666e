"""The Weight-init page under Streamlit's AppTest: it renders the classic experiment, follows
every control, compares the four initialisations, keeps its settings in the link, and keeps every
"Does it train?" run of the session for comparison."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import init_charts
from ui.init_settings import InitSettings, from_query, to_query
from ui.run_history import RunHistory, labels, versus

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/weight_init.py"


def open_page(query: dict | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.run()
    app.switch_page(PAGE)
    for key, value in (query or {}).items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def at():
    return open_page()


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


def value_range(spec: dict) -> tuple[float, float]:
    """The range of values the first cell's x axis is for, without its blank margins."""
    x0, x1 = spec["layout"]["xaxis"]["range"]
    pad = (x1 - x0) * init_charts.MARGIN / (1 + 2 * init_charts.MARGIN)
    return x0 + pad, x1 - pad


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
    assert value_range(specs[0]) == pytest.approx((0, 1))
    x0, x1 = specs[0]["layout"]["xaxis"]["range"]            # blank at each end: a cell's "1" and the
    assert x0 < -0.05 and x1 > 1.05                          # next cell's "0" do not read as "10"
    for shares in act.values():                              # piled up at 0 and 1
        assert shares[0] + shares[-1] > 50
    assert "saturated" in at.subheader[0].value
    table = at.dataframe[0].value
    assert list(table["layer"]) == ["1", "2", "3", "4", "5"] and "saturated" in table.columns
    assert all(float(v.rstrip("%")) > 55 for v in table["saturated"])
    assert "**Saturated.**" in markdown(at)
    assert not any("on the server" in c.value for c in at.caption)      # no developer timing line
    assert not at.warning and dict(at.query_params) == {}                # the defaults need no link


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
    x0, x1 = value_range(spec)
    assert x0 == pytest.approx(0) and x1 > 1                                # the range follows ReLU, not (0, 1)
    zero_bars = [t for t in spec["data"] if len(values(t["y"])) == 1]
    assert len(zero_bars) == 5 and all(40 < values(t["y"])[0] < 60 for t in zero_bars)


def test_tanh_range_and_custom_std(at):
    set_and_run(at, "selectbox", "wi_act", "tanh")
    assert value_range(charts(at)[0]) == pytest.approx((-1, 1))
    set_and_run(at, "radio", "wi_init", "custom std")
    set_and_run(at, "select_slider", "wi_std", 0.05)
    assert any("Weight std: 0.05" in c.value for c in at.sidebar.caption)
    assert "collapsed" in at.subheader[0].value or "spread" in at.subheader[0].value
    set_and_run(at, "select_slider", "wi_std", 5.0)
    assert "saturated" in at.subheader[0].value


def test_layers_units_and_seed(at):
    set_and_run(at, "slider", "wi_layers", 10)
    set_and_run(at, "select_slider", "wi_units", 50)
    for spec in charts(at):
        assert len(bars_per_cell(spec)) == 10
    assert len(at.dataframe[0].value) == 10
    before = at.dataframe[0].value.copy()
    at.run()
    assert at.dataframe[0].value.equals(before)                  # same seed, same numbers
    set_and_run(at, "number_input", "wi_seed", 7)
    assert not at.dataframe[0].value.equals(before)


def test_compare_view_has_one_row_per_initialisation(at):
    set_and_run(at, "radio", "wi_view", "compare")
    assert at.radio(key="wi_init").disabled                            # it does nothing here
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
    assert at.query_params["view"] == "compare" and at.query_params["grid"] == "gradients"
    set_and_run(at, "radio", "wi_view", "one")
    assert not at.radio(key="wi_init").disabled and len(charts(at)) == 2


# ----- the link ---------------------------------------------------------------------------------

def test_query_round_trip_and_defaults():
    assert to_query(InitSettings()) == {}
    every = InitSettings(activation="leaky_relu", init="normal", std=0.3, n_layers=10, units=300, batchnorm=True,
                         seed=2**31 - 1, view="compare", grid="gradients")
    query = to_query(every)
    assert query == {"act": "leaky_relu", "std": "0.3", "layers": "10", "units": "300", "bn": "1",
                     "seed": "2147483647", "view": "compare", "grid": "gradients"}
    assert from_query(query) == (every, [])
    assert from_query({"init": "xavier", "std": "0.3"})[0] == InitSettings(init="xavier")   # std: normal only
    assert from_query({"embed": "true", "data": "moons"}) == (InitSettings(), [])          # others' keys


def test_runs_are_labelled_by_what_differed():
    history = RunHistory()
    a = InitSettings(activation="relu")
    b = InitSettings(activation="relu", n_layers=3)
    c = InitSettings(activation="tanh", n_layers=3, std=0.05)
    for s in (a, b, c):
        history.add(s.training_key(), s, s.training_facts(), [])
    runs = list(history)
    assert labels(runs[:1]) == {1: ""}
    assert labels(runs[:2]) == {1: "5 layers", 2: "3 layers"}
    assert versus(runs[1:]) == "ReLU, no custom std vs tanh, + std 0.05"
    assert history.find(b.training_key()).number == 2 and history.find(InitSettings().training_key()) is None
    history.clear()
    assert len(history) == 0 and history.add(a.training_key(), a, {}, []).number == 1


def test_a_link_opens_the_same_experiment():
    at = open_page({"act": "tanh", "std": "0.05", "layers": "3", "units": "50", "bn": "1", "seed": "7",
                    "view": "compare", "grid": "gradients"})
    assert not at.warning
    assert at.selectbox(key="wi_act").value == "tanh" and at.radio(key="wi_init").value == "custom std"
    assert at.select_slider(key="wi_std").value == 0.05 and at.slider(key="wi_layers").value == 3
    assert at.select_slider(key="wi_units").value == 50 and at.toggle(key="wi_bn").value
    assert at.number_input(key="wi_seed").value == 7 and at.radio(key="wi_grid_kind").value == "gradients"
    assert len(bars_per_cell(charts(at)[0])) == 4 * 3
    assert at.query_params["std"] == "0.05" and at.query_params["seed"] == "7"


def test_a_link_value_between_slider_steps_is_shown_as_asked():
    at = open_page({"init": "normal", "std": "0.04", "units": "15"})
    assert at.select_slider(key="wi_std").value == 0.04 and at.select_slider(key="wi_units").value == 15
    assert any("Weight std: 0.04" in c.value for c in at.sidebar.caption)


def test_bad_link_values_fall_back_to_defaults_with_plain_warnings():
    at = open_page({"act": "swish", "layers": "99", "std": "[click](http://x)", "init": "he", "seed": "-1"})
    texts = [w.value for w in at.warning]
    assert len(texts) == 4
    assert any("act=swish" in t for t in texts) and any("layers=99" in t for t in texts)
    assert not any("[click](http" in t for t in texts)          # escaped: shown as text, never as a link
    assert at.selectbox(key="wi_act").value == "sigmoid" and at.slider(key="wi_layers").value == 5
    assert at.radio(key="wi_init").value == "He" and at.number_input(key="wi_seed").value == 0
    assert dict(at.query_params) == {"init": "he"}              # the link now says what is shown
    at.run()
    assert not at.warning                                       # said once


def test_changes_are_written_to_the_link_and_survive_another_page(at):
    set_and_run(at, "selectbox", "wi_act", "relu")
    set_and_run(at, "radio", "wi_init", "std 0.01")
    set_and_run(at, "slider", "wi_layers", 7)
    assert dict(at.query_params) == {"act": "relu", "std": "0.01", "layers": "7"}
    set_and_run(at, "radio", "wi_init", "He")
    assert dict(at.query_params) == {"act": "relu", "init": "he", "layers": "7"}
    at.switch_page("pages/home.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.selectbox(key="wi_act").value == "relu" and at.radio(key="wi_init").value == "He"
    assert at.slider(key="wi_layers").value == 7
    at.query_params.clear()                                         # another page sends settings along
    at.query_params["act"] = "tanh"
    at.run()
    assert at.selectbox(key="wi_act").value == "tanh" and at.slider(key="wi_layers").value == 5


# ----- does it train? ------------------------------------------------------------------------------

def loss_lines(app) -> list[str]:
    spec = charts(app)[-1]
    return [t["name"] for t in spec["data"] if t.get("mode") == "lines"]


def test_does_it_train_keeps_every_run_to_compare_and_restore(at):
    set_and_run(at, "selectbox", "wi_act", "relu")
    assert len(charts(at)) == 2                             # no loss chart before the button
    at.button(key="wi_train").click().run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 3
    assert loss_lines(at) == ["std 1 (diverged)", "std 0.01", "Xavier", "He"]
    text = markdown(at)
    assert "**Learned:** Xavier" in text and "He (loss" in text
    assert "**Stuck near guessing:** std 0.01" in text
    assert "**Diverged:** std 1" in text
    assert at.button(key="wi_train").disabled               # the same settings are already run #1

    # a second, small run: both kept, overlaid, labelled by what differed
    set_and_run(at, "selectbox", "wi_act", "tanh")
    set_and_run(at, "slider", "wi_layers", 1)
    set_and_run(at, "select_slider", "wi_units", 10)
    assert not at.button(key="wi_train").disabled
    at.button(key="wi_train").click().run()
    assert not at.exception, at.exception
    assert at.multiselect(key="wi_shown").value == [1, 2]
    lines = loss_lines(at)
    assert len(lines) == 8 and "He · ReLU, 5 layers, 100 units" in lines and "He · tanh, 1 layer, 10 units" in lines
    assert "**ReLU, 5 layers, 100 units vs tanh, 1 layer, 10 units**" in markdown(at)
    table = at.dataframe[-1].value
    assert list(table["run"]) == ["#1", "#2"] and list(table["activation"]) == ["ReLU", "tanh"]
    assert table["std 1"][0] == "diverged" and "·" in table["He"][1]

    # one run alone, then one click restores run #1's settings
    at.multiselect(key="wi_shown").set_value([2]).run()
    assert loss_lines(at) == ["std 1", "std 0.01", "Xavier", "He"]
    at.button(key="wi_restore_1").click().run()
    assert not at.exception
    assert at.selectbox(key="wi_act").value == "relu" and at.slider(key="wi_layers").value == 5
    assert at.select_slider(key="wi_units").value == 100 and at.query_params["act"] == "relu"
    assert at.button(key="wi_train").disabled and at.multiselect(key="wi_shown").value == [2, 1]

    # kept until cleared
    at.button(key="wi_clear").click().run()
    assert len(at.session_state["wi_history"]) == 0 and len(charts(at)) == 2
    assert not at.button(key="wi_train").disabled


def test_compare_view_trains_the_four_classic_inits_only():
    at = open_page({"act": "tanh", "std": "0.05", "layers": "1", "units": "10"})
    assert "std 0.05" in markdown(at)                       # one view: the custom std is trained too
    set_and_run(at, "radio", "wi_view", "compare")
    assert "std 0.05" not in markdown(at)
    at.button(key="wi_train").click().run()
    assert loss_lines(at) == ["std 1", "std 0.01", "Xavier", "He"]


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


# ----- lessons (ui/lessons.py) ----------------------------------------------------------------------

def test_a_teacher_link_from_this_page_opens_the_experiment_locked():
    from urllib.parse import parse_qsl, urlsplit

    at = open_page({"act": "tanh", "layers": "3"})
    assert not any(b.key == "wi_lesson_unlock" for b in at.button)            # no lesson, no card
    at.multiselect(key="wi_lesson_lock").set_value(["activation", "n_layers"]).run()
    at.text_input(key="wi_lesson_note").input("Find the std that keeps tanh alive").run()
    link = next(c.value for c in at.sidebar.code)
    params = dict(parse_qsl(urlsplit(link).query))
    assert urlsplit(link).path.endswith("/weight_init")
    assert params == {"act": "tanh", "layers": "3", "lock": "activation,n_layers",
                      "note": "Find the std that keeps tanh alive"}
    learner = open_page(params)                                                # a fresh session opens it
    assert learner.selectbox(key="wi_act").disabled and learner.slider(key="wi_layers").disabled
    assert learner.selectbox(key="wi_act").value == "tanh" and not learner.radio(key="wi_init").disabled
    assert learner.number_input(key="wi_seed").value == 0                      # a teacher's link hides nothing
    assert any("Find the std that keeps tanh alive" in m.value for m in learner.markdown)
    learner.button(key="wi_lesson_unlock").click().run()
    assert not learner.selectbox(key="wi_act").disabled and "lock" not in learner.query_params


@pytest.mark.parametrize("low, high", [(0, 1), (-1, 1), (-7.5, 7.5), (0, 3.2), (0, 0.3), (-3e-7, 3e-7),
                                       (-2500, 2500), (0, 7.3)])
def test_histogram_ticks_are_few_round_and_inside_the_values(low, high):
    # a cell can be 60 px wide on a phone: two or three labels, none past the values' range
    ticks = init_charts._ticks(low, high)
    assert 2 <= len(ticks) <= 3 and all(low <= t <= high for t in ticks)
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** np.floor(np.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-6


# ----- the explanation follows the numbers it sits beside -------------------------------------------

def _number(text: str) -> float:
    return float(text.replace("–", "nan"))


def contradictions(text: str, table, activation: str, init: str, std: float) -> list[str]:
    """Every claim of the explanation that its own table, activation or initialisation contradicts."""
    import re

    found = []
    grads = [_number(v) for v in table["‖dL/da‖ gradient"]]
    top, bottom = grads[-1], grads[0]
    m = re.search(r"goes from (\S+) at the top to (\S+) at layer 1 \(([^)]+)\)", text)
    if len(table) > 1:
        if not m:
            found.append("no gradient change in words")
        else:
            if (_number(m[1]), _number(m[2])) != (top, bottom):
                found.append(f"gradient norms {m[1]}, {m[2]} are not the table's {top}, {bottom}")
            if ("larger" in m[3]) != (bottom > top * 1.05) or ("smaller" in m[3]) != (bottom < top / 1.05):
                found.append(f"'{m[3]}' for {top} -> {bottom}")
    if re.search(r"amplif(y|ies) (what|the)", text) and not bottom > top:
        found.append(f"says the weights amplify, but the gradient goes {top} -> {bottom}")
    if "amplify more than" in text and not bottom > 1.25 * top:
        found.append("says amplified more than held back, but it did not grow")
    if "hold back more than" in text and not bottom < 0.8 * top:
        found.append("says held back more, but it did not shrink")
    if "shrinks on its way down" in text and not bottom < top:
        found.append("says the gradient shrinks, but it did not")
    column = "saturated" if "saturated" in table.columns else "exactly 0 (dead)"
    shares = [float(v.rstrip("%")) for v in table[column]]
    for pct, layer in re.findall(r"(\d+)% (?:saturated in layer|of layer) (\d+)", text):
        if abs(float(pct) - shares[int(layer) - 1]) > 0.51:
            found.append(f"{pct}% in layer {layer}, the table says {shares[int(layer) - 1]}%")
    for pct, layer in re.findall(r"more[^.:]*?\((\d+)% saturated in layer (\d+)\)", text):
        if float(pct) == 0:
            found.append(f"'more' units toward the limits, with {pct}% in layer {layer}")
    if "none of its outputs are within 5%" in text and shares[-1] != 0:
        found.append(f"says none saturated, the table says {shares[-1]}%")
    if "keeps about the same std" in text:
        stds = [_number(v) for v in table["std"]]
        if max(stds) > 1.5 * min(stds):
            found.append(f"says the std stays the same, the table says {stds}")
    # the initialisation named is the one chosen, and the activation named is the one chosen
    named = {"Xavier": "Xavier's weights", "He": "He's weights"}.get(init, f"weights of std {std:g}")
    if not text.startswith("**Batch norm") and named not in text:
        found.append(f"does not name the chosen initialisation ({named})")
    for other in {"Xavier", "He"} - {init}:
        if f"even with {other}" in text or f"With weights of std {'0.141' if other == 'He' else '0.1'} ({other}" in text:
            found.append(f"speaks of {other}, but {init} is chosen")
    if init == "He" and "(Xavier's √(1/" in text:
        found.append("quotes Xavier's std as if it were the chosen one")
    if activation == "leaky_relu" and re.search(r"(?<!leaky )ReLU layer", text):
        found.append("says 'ReLU layer' for leaky ReLU")
    return found


def test_every_explanation_agrees_with_its_table_initialisation_and_activation(at):
    # the student's reading, done for every combination: each sentence against the table beside it
    problems = []
    for activation in ("sigmoid", "tanh", "relu", "leaky_relu"):
        set_and_run(at, "selectbox", "wi_act", activation)
        for init in ("std 1", "std 0.01", "Xavier", "He", "custom std"):
            set_and_run(at, "radio", "wi_init", init)
            for std in ((0.1, 0.3, 2.0) if init == "custom std" else (None,)):
                if std is not None:
                    set_and_run(at, "select_slider", "wi_std", std)
                for bn in (False, True):
                    set_and_run(at, "toggle", "wi_bn", bn)
                    text = next(m.value for m in at.markdown if m.value.startswith("**") and "." in m.value[:40])
                    chosen = std if std is not None else float(init.split()[1]) if init.startswith("std") else init
                    name = init if init in ("Xavier", "He") else "custom"
                    for p in contradictions(text, at.dataframe[0].value, activation, name,
                                            chosen if isinstance(chosen, float) else 0.0):
                        problems.append(f"{activation}, {init} {std or ''}, bn {bn}: {p}")
    assert not problems, "\n".join(problems)


def test_he_with_sigmoid_names_he_and_its_own_numbers():
    at = open_page({"act": "sigmoid", "init": "he"})
    text = markdown(at)
    assert "He's weights (std √(2/100) = 0.141)" in text
    assert "Xavier's √(1/100) is 0.1" not in text and "even with Xavier" not in text and "even with He" in text
    assert "(0% saturated in layer 5)" not in text
    assert "4% of layer 1's outputs are within 5% of a limit" in text          # the table: 4.0% in layer 1


def test_sigmoid_std_1_says_the_gradient_shrinks_a_little_not_amplified():
    at = open_page()
    text = markdown(at)
    assert "from 316 at the top to 290 at layer 1 (8% smaller)" in text
    assert "amplify what" not in text and "roughly make up for what the saturated units hold back" in text


def test_leaky_relu_texts_name_leaky_relu():
    for init in ("normal", "xavier", "he"):
        text = markdown(open_page({"act": "leaky_relu", "init": init}))
        assert "leaky ReLU layer" in text or "leaky ReLU all but zeroes" in text, text
        assert "A ReLU layer" not in text and "Each ReLU layer" not in text


def test_change_words_follow_direction_and_size():
    from ui.init_views import change, direction

    assert change(316, 290) == "8% smaller" and direction(316, 290) == "keeps"
    assert change(316, 9300) == "29.4 times larger" and direction(316, 9300) == "grows"
    assert change(316, 0.944) == "335 times smaller" and direction(316, 0.944) == "shrinks"
    assert change(316, 321) == "about the same" and change(316, 454) == "44% larger"
