"""The Optimisers page under AppTest: every optimiser of nn.optim on one surface, paths from nn.race
over the contours, step by step, with settings the learner changes; and its figure builders."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nn.optim import OPTIMIZERS
from nn.race import SURFACES, contour_grid, race
from ui.race_charts import race_figure, race_summary, race_table

ROOT = Path(__file__).resolve().parents[1]


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/race.py")
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def at():
    return open_page()


def figure(app) -> dict:
    return json.loads(app.get("plotly_chart")[0].proto.spec)


def values(array) -> np.ndarray:
    if isinstance(array, dict):
        data = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
        return data.reshape([int(n) for n in str(array.get("shape", len(data))).split(",")])
    return np.asarray(array, dtype=float)


def paths(spec: dict) -> dict[str, np.ndarray]:
    """The solid path of each optimiser: name -> (k, 2) points."""
    return {t["name"]: np.stack([values(t["x"]), values(t["y"])], axis=1) for t in spec["data"]
            if t.get("mode") == "lines+markers"}


def test_every_optimiser_races_on_the_bowl(at):
    assert at.title[0].value == "Optimisers race"
    spec = figure(at)
    assert spec["data"][0]["type"] == "contour"
    drawn = paths(spec)
    assert len(drawn) == len(OPTIMIZERS) and "Adam" in drawn and "SGD" in drawn
    expected = race("bowl", {name: SURFACES["bowl"].settings[name] for name in OPTIMIZERS}, steps=100)
    np.testing.assert_allclose(drawn["Adam"], expected["adam"].points, atol=1e-4)
    assert all(len(p) == 101 for p in drawn.values())
    assert at.slider(key="race_step").value == 100 and "step 100" in spec["layout"]["title"]["text"]
    assert len(at.table[0].value) == len(OPTIMIZERS)
    for kind in ("selectbox", "slider", "select_slider", "number_input"):
        for w in getattr(at, kind):
            assert w.help, f"{kind} {w.label!r} has no help text"


def test_the_step_slider_shows_the_paths_step_by_step(at):
    at.slider(key="race_step").set_value(7).run()
    drawn = paths(figure(at))
    assert all(len(p) == 8 for p in drawn.values())
    assert "step 7" in figure(at)["layout"]["title"]["text"]
    at.slider(key="race_steps").set_value(200).run()                  # longer race: the step stays put
    assert at.slider(key="race_step").value == 7
    at.slider(key="race_step").set_value(200).run()
    at.slider(key="race_steps").set_value(50).run()                   # shorter: the step follows the end
    assert at.slider(key="race_step").value == 50


def test_a_learners_setting_changes_that_path_only(at):
    before = paths(figure(at))
    at.select_slider(key="race_bowl_sgd_lr").set_value(0.1).run()
    after = paths(figure(at))
    assert not np.allclose(before["SGD"], after["SGD"])
    np.testing.assert_array_equal(before["Adam"], after["Adam"])
    np.testing.assert_allclose(after["SGD"], race("bowl", {"sgd": {"lr": 0.1}}, steps=100)["sgd"].points, atol=1e-4)


def test_each_surface_brings_its_own_settings_and_start(at):
    at.selectbox(key="race_surface").set_value("rosenbrock").run()
    assert not at.exception
    spec = figure(at)
    assert "Rosenbrock" not in spec["layout"]["title"]["text"] and "(1 − x)²" in spec["layout"]["title"]["text"]
    assert at.select_slider(key="race_rosenbrock_sgd_lr").value == SURFACES["rosenbrock"].settings["sgd"]["lr"]
    start = next(t for t in spec["data"] if t.get("name") == "start")
    assert (start["x"][0], start["y"][0]) == SURFACES["rosenbrock"].start
    at.number_input(key="race_rosenbrock_x").set_value(0.5).run()
    assert all(p[0, 0] == pytest.approx(0.5) for p in paths(figure(at)).values())
    at.pills(key="race_optimizers").set_value(["adam"]).run()
    assert list(paths(figure(at))) == ["Adam"]
    at.pills(key="race_optimizers").set_value([]).run()
    assert any("at least one" in i.value for i in at.info)


def test_the_figure_marks_a_diverged_path_and_logs_rosenbrock():
    surface = SURFACES["rosenbrock"]
    result = race("rosenbrock", {"sgd": {"lr": 0.01}, "adam": {"lr": 0.1}}, steps=60)
    assert result["sgd"].diverged_at is not None
    grid = contour_grid("rosenbrock", n=40)
    spec = json.loads(race_figure(surface, grid, result, 60).to_json())
    names = [t.get("name", "") for t in spec["data"]]
    assert any("diverged at step" in n for n in names)
    np.testing.assert_allclose(values(spec["data"][0]["z"]), np.log10(grid[2] - grid[2].min() + 1e-2), atol=1e-3)
    table = race_table(surface, result, 60)
    assert table["optimiser"] == ["SGD", "Adam"] and table["note"][0].startswith("diverged at step")
    assert table["note"][1] == ""
    before = race_table(surface, result, 0)                  # nothing diverged yet: no empty note column
    assert "note" not in before and before["(x, y)"][0] == "(-1.2, 1)"


def summary(app) -> str:
    return next(m.value for m in app.markdown if m.value.startswith("**In this race"))


def test_the_words_under_the_race_follow_the_race_shown(at):
    # the defaults: SGD ends 2nd nearest and RMSprop farthest, so no caption may say SGD crawls
    # or that the adaptive methods head straighter for the middle
    text = summary(at) + " ".join(c.value for c in at.caption)
    assert "crawls along the flat one" not in text and "head much straighter" not in text
    table = at.table[0].value
    order = list(table.sort_values("to a minimum", key=lambda c: c.astype(float))["optimiser"])
    said = summary(at)
    assert f"nearest a minimum {order[0]} (" in said and f") and {order[1]} (" in said
    assert f"farthest {order[-1]} (" in said
    assert (order[0], order[1], order[-1]) == ("AdaGrad", "SGD", "RMSprop")
    assert "SGD (99 times in 100 steps)" in said and "zigzagged" in said
    # a gentler SGD rate makes another race, and the words follow it
    at.select_slider(key="race_bowl_sgd_lr").set_value(0.1).run()
    said = summary(at)
    assert "SGD (" not in said.split("farthest SGD (")[1] and "zigzag" in said        # only RMSprop zigzags now
    table = at.table[0].value
    order = list(table.sort_values("to a minimum", key=lambda c: c.astype(float))["optimiser"])
    assert f"farthest {order[-1]} (" in said and order[-1] == "SGD"
    at.slider(key="race_step").set_value(0).run()
    assert "still at the start" in summary(at)


def test_race_summary_is_computed_from_the_paths():
    bowl = SURFACES["bowl"]
    paths = race(bowl, {"sgd": {"lr": 0.95}, "momentum": {"lr": 0.1, "momentum": 0.9}, "adagrad": {"lr": 1.5}},
                 steps=100)
    text = race_summary(bowl, paths, 100)
    assert "nearest a minimum AdaGrad (1.88e-05), then SGD (0.000328), then SGD + momentum (0.0193)." in text
    assert "SGD (99 times in 100 steps) zigzagged" in text
    assert "SGD + momentum (by 1.1) ran past the minimum" in text
    assert "The straightest path is AdaGrad's" in text
    diverging = race(bowl, {"sgd": {"lr": 200.0}, "adam": {"lr": 0.3}}, steps=2000)
    text = race_summary(bowl, diverging, 2000)
    assert f"SGD (at step {diverging['sgd'].diverged_at}) diverged." in text and "Adam is" in text
