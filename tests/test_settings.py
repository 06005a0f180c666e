"""One table of settings (nn/settings.py): a link, the Train page's widgets and ``python -m nn.train``
accept exactly the same values, and the configs check them with the same rules."""
from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from nn.cli import build_train_parser
from nn.model import ModelConfig
from nn.settings import MAX_LAYERS, SETTINGS
from nn.train import TrainConfig
from ui.train_settings import NAMES, from_query, to_query

ROOT = Path(__file__).resolve().parents[1]
# the settings whose allowed values depend on another one (classes on the dataset) are tested on the page
INDEPENDENT = [n for n in NAMES if n != "n_classes"]


def candidates(name: str) -> list[str]:
    """Texts a learner might put in a link or on the command line: valid, borderline and wrong."""
    s = SETTINGS[name]
    if s.kind is bool:
        return ["1", "0", "true", "off", "maybe", ""]
    if s.kind is str:
        return [*s.choices, "bogus", s.choices[0].upper() + "x"]
    if s.several:
        return [",".join(s.choices[:2]), s.choices[-1], ",".join(reversed(s.choices)), f" {s.choices[0]} ",
                f"{s.choices[0]},{s.choices[0]}", "", "none", "bogus", f"{s.choices[0]},bogus"]
    if s.kind is tuple:
        widest = int(s.high)
        return ["16,16", "none", "3", ",".join(["4"] * MAX_LAYERS), ",".join(["4"] * (MAX_LAYERS + 1)),
                str(widest), str(widest + 1), "0,4", "16,x", "2.5", "-3"]
    low, high = s.low, s.high
    texts = [f"{high:g}", f"{(low + high) / 3:.6g}", f"{high * 1.5 + 1:g}", "nan", "inf", "abc", "1e400"]
    texts += [f"{low:g}", f"{low - 1:g}"]
    if s.kind is int:
        texts += [f"{low + 0.5:g}", f"{int(low) + 1}"]
    if s.grid:
        between = (s.grid[1] + s.grid[2]) / 2 if s.kind is float else s.grid[-2] + 1
        texts.append(f"{between:g}")
    return texts


def url_accepts(name: str, text: str) -> bool:
    key = SETTINGS[name].url_key
    settings, warnings = from_query({key: text})
    return not any(f"'{key}=" in w for w in warnings)


def cli_accepts(name: str, text: str) -> bool:
    flag = SETTINGS[name].cli_flag
    args = [f"{flag}" if text in ("1", "true") else f"--no-{flag[2:]}"] if SETTINGS[name].kind is bool else [flag, text]
    if SETTINGS[name].kind is bool and text not in ("1", "true", "0", "off"):
        return False                 # a switch on the command line: --batchnorm / --no-batchnorm, nothing else
    try:
        build_train_parser().parse_args(args)
    except SystemExit:
        return False
    return True


@pytest.mark.parametrize("name", INDEPENDENT)
def test_a_link_and_the_command_line_accept_the_same_values(name, capsys):
    for text in candidates(name):
        assert url_accepts(name, text) == cli_accepts(name, text), (name, text)
    capsys.readouterr()


@pytest.mark.parametrize("name", INDEPENDENT)
def test_the_configs_check_with_the_same_rules(name):
    s = SETTINGS[name]
    configs = [c for c in (TrainConfig, ModelConfig) if name in {f.name for f in fields(c)}]
    for config in configs:
        for text in candidates(name):
            try:
                value = s.parse(text)
            except ValueError:
                continue
            base = {}
            if config is ModelConfig:
                base = {"input_dim": 2, "hidden": (4,), "output_dim": 1 if value == "sigmoid_bce" else 2}
            config(**{**base, name: value})                       # every value the table allows is accepted
        if s.kind in (int, float):
            base = {"input_dim": 2, "hidden": (4,), "output_dim": 2} if config is ModelConfig else {}
            with pytest.raises(ValueError, match=f"{name} must be"):
                config(**{**base, name: s.high * 2 + 1})


def test_every_setting_round_trips_through_a_link():
    for name in INDEPENDENT:
        s = SETTINGS[name]
        for text in candidates(name):
            try:
                value = s.parse(text)
            except ValueError:
                continue
            assert s.parse(s.text(value)) == value, (name, text)
            if isinstance(value, float):
                assert math.isfinite(value)


# ----- the widgets show exactly what the link asked for ---------------------------------------------

# Odd but valid values (between slider steps, at the ends of a range), in combinations that show
# every widget: the step schedule, the normal initialisation, each optimiser's own knobs.
LINKS = [
    {"data": "blobs", "n": "777", "noise": "0.123", "val": "0.9", "classes": "5", "layers": "15,2048,1",
     "act": "leaky_relu", "init": "normal", "std": "0.05", "dropout": "0.9", "bn": "1", "loss": "mse",
     "opt": "momentum", "lr": "0.03", "momentum": "0.99", "schedule": "step", "step": "1000", "gamma": "0.05",
     "batch": "50", "epochs": "10000", "l2": "0.0003", "seed": "4294967295"},
    {"data": "xor", "n": "4", "opt": "adam", "beta1": "0.01", "beta2": "0.95", "lr": "10", "layers": "none",
     "loss": "sigmoid_bce", "batch": "8192", "l2": "1", "init": "normal", "std": "10"},
    {"data": "mnist-sample", "augment": "1", "opt": "rmsprop", "rho": "0.37", "lr": "1e-05", "epochs": "1"},
]
WIDGET_KEYS = {"hidden": None}          # the network's shape is several widgets, checked below


def _widget_value(at: AppTest, key: str):
    for kind in ("selectbox", "select_slider", "slider", "number_input", "toggle"):
        try:
            return getattr(at, kind)(key=key).value
        except KeyError:
            continue
    raise KeyError(key)


@pytest.mark.slow
@pytest.mark.parametrize("link", LINKS, ids=["toy-momentum-step", "xor-adam", "digits-rmsprop"])
def test_the_widgets_show_exactly_what_a_link_asks_for(link):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    for key, value in link.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    assert not at.warning, [w.value for w in at.warning]          # every value was taken as it is
    expected, _ = from_query(link)
    by_key = {SETTINGS[n].url_key: n for n in NAMES}
    for key in link:
        name = by_key[key]
        if name == "hidden":
            widths = expected.hidden
            assert at.slider(key="train_layers").value == len(widths)
            assert tuple(at.select_slider(key=f"train_width_{i}").value for i in range(len(widths))) == widths
            continue
        assert _widget_value(at, f"train_{name}") == getattr(expected, name), name
    assert dict(at.query_params) == to_query(expected)             # and the link written back is the same
