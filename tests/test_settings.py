"""One table of settings (nn/settings.py): a link, the Train page's widgets and ``python -m nn.train``
accept exactly the same values, and the configs check them with the same rules."""
from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import open_app

from nn.cli import build_train_parser
from nn.model import ModelConfig
from nn.settings import MAX_LAYERS, SETTINGS
from nn.train import TrainConfig
from ui.train_settings import NAMES, defaults_for, from_query, to_query

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


# ----- names people read ---------------------------------------------------------------------------------

SIDEBAR_WIDTH_CHARS = 26          # what the Train sidebar's selectbox shows whole (measured at 1280 px)


def test_every_choice_has_a_short_human_name():
    for s in SETTINGS.values():
        for choice in s.choices:
            name = s.names.get(choice)
            assert name, (s.name, choice)
            if s.kind is str:
                assert len(name) <= SIDEBAR_WIDTH_CHARS, (s.name, name)        # never cut off in the selectbox
                assert name != choice or choice.isalpha(), (s.name, choice)    # "tanh" is a name, "mnist-sample" is not
        assert s.label and s.help, s.name


# ----- the sidebar: essentials first, switching data, restoring defaults ------------------------------------

def sidebar_order(at: AppTest) -> list[str]:
    """The sidebar's widgets, in order, with "|" where the Advanced expander starts."""
    out = []
    for node in at.sidebar:
        if type(node).__name__ == "Expander":
            out.append("|" + node.label)
        elif getattr(node, "key", None) and getattr(node, "label", None):
            out.append(node.key)
    return out


@pytest.mark.slow
def test_the_essentials_come_first_and_the_rest_is_advanced():
    at = open_app("pages/train.py")
    order = sidebar_order(at)
    advanced = order.index("|Advanced settings")
    assert set(order[:advanced]) == {"train_dataset", "train_layers", "train_width_0", "train_width_1", "train_epochs"}
    for key in ("train_activation", "train_optimizer", "train_batch_size", "train_seed", "train_noise"):
        assert order.index(key) > advanced
    assert order.index("train_restore_defaults") > order.index("train_seed")
    assert order[-3:] == ["|Make a lesson link", "train_lesson_lock", "train_lesson_note"]


@pytest.mark.slow
def test_switching_the_kind_of_data_loads_its_whole_recipe_and_back():
    at = open_app("pages/train.py", {"seed": "7"})
    at.select_slider(key="train_batch_size").set_value(32).run()
    at.selectbox(key="train_dataset").set_value("mnist-sample").run()
    digits = defaults_for("mnist-sample")
    assert at.select_slider(key="train_lr").value == digits.lr                    # the page's slider too
    assert at.slider(key="train_layers").value == 2 and at.select_slider(key="train_width_0").value == 128
    assert at.selectbox(key="train_activation").value == "relu" and at.toggle(key="train_augment").value
    assert at.select_slider(key="train_batch_size").value == digits.batch_size
    assert at.number_input(key="train_epochs").value == digits.epochs
    assert at.number_input(key="train_seed").value == 7                            # the learner's seed stays
    at.selectbox(key="train_dataset").set_value("moons").run()
    toy = defaults_for("moons")
    assert at.select_slider(key="train_lr").value == toy.lr and at.select_slider(key="train_width_0").value == 16
    assert at.number_input(key="train_epochs").value == toy.epochs
    assert at.selectbox(key="train_activation").value == "tanh"


@pytest.mark.slow
def test_switching_within_a_kind_keeps_what_the_learner_changed():
    at = open_app("pages/train.py")
    at.select_slider(key="train_width_0").set_value(32).run()
    at.selectbox(key="train_dataset").set_value("blobs").run()
    assert at.select_slider(key="train_width_0").value == 32                      # changed: kept
    assert at.slider(key="train_n_classes").value == 3                            # blobs' own default
    assert at.select_slider(key="train_lr").value == defaults_for("blobs").lr
    at.selectbox(key="train_dataset").set_value("spirals").run()
    assert at.slider(key="train_n_classes").value == 2 and at.select_slider(key="train_width_0").value == 32
    at.selectbox(key="train_dataset").set_value("fashion-mnist").run()
    at.selectbox(key="train_dataset").set_value("mnist-sample").run()
    assert at.toggle(key="train_augment").value                                   # the sample's recipe again
    assert at.number_input(key="train_epochs").value == defaults_for("mnist-sample").epochs


@pytest.mark.slow
def test_restore_defaults_resets_every_widget_but_the_dataset():
    at = open_app("pages/train.py", {"data": "circles", "lr": "0.5", "layers": "3,3,3", "act": "relu", "opt": "rmsprop",
                     "noise": "0.4", "epochs": "77", "features": "x1,x1^2"})
    at.button(key="train_restore_defaults").click().run()
    assert not at.exception
    recipe = defaults_for("circles")
    assert at.selectbox(key="train_dataset").value == "circles"
    assert at.select_slider(key="train_lr").value == recipe.lr and at.slider(key="train_layers").value == 2
    assert at.selectbox(key="train_activation").value == recipe.activation
    assert at.selectbox(key="train_optimizer").value == recipe.optimizer
    assert at.slider(key="train_noise").value == recipe.noise
    assert at.number_input(key="train_epochs").value == recipe.epochs
    assert at.checkbox(key="train_features.x2").value and not at.checkbox(key="train_features.x1^2").value
    assert dict(at.query_params) == {"data": "circles"}


def test_the_default_runs_are_long_enough_to_watch():
    """About 30 s in the app on this machine (measured; see ui/train_settings.py): the recipes must
    not quietly shrink back to runs that end before a learner has looked."""
    toy, digits = defaults_for("spirals"), defaults_for("mnist-sample")
    assert toy.epochs >= 1000 and toy.lr <= 5e-4
    assert digits.augment and digits.epochs >= 12
    assert not defaults_for("fashion-mnist").augment                  # clothes are not digits


def test_a_choice_is_shown_by_its_human_name_or_as_itself():
    assert SETTINGS["optimizer"].name_of("momentum") == "SGD + momentum"
    assert SETTINGS["activation"].name_of("leaky_relu") == "Leaky ReLU"
    assert SETTINGS["optimizer"].name_of("lion") == "lion"          # a name from an old file
    assert SETTINGS["batch_size"].name_of(64) == "64"
