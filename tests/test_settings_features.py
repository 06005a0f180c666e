"""The input-features setting: one row of nn/settings.py's table, taken by the link, the widgets, the
configs and ``python -m nn.train`` alike (a setting of several choices: ``Setting.several``)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from nn.cli import build_train_parser, train_main
from nn.features import DEFAULT_FEATURES, FEATURES
from nn.settings import SETTINGS
from ui.train_settings import architecture, defaults_for, from_query, n_inputs, to_query

FEATURE = SETTINGS["features"]


def test_the_table_knows_the_features():
    assert FEATURE.several and FEATURE.choices == FEATURES and FEATURE.url_key == "features"
    assert not SETTINGS["hidden"].several                       # layer widths stay a tuple of numbers
    assert FEATURE.names["x1*x2"] == "x₁·x₂" and FEATURE.help
    assert FEATURE.options(None) == FEATURES
    assert "one or more of x1, x2" in FEATURE.rule()


@pytest.mark.parametrize("text, value", [
    ("x1,x2", ("x1", "x2")), ("x2, x1", ("x1", "x2")), ("x1*x2", ("x1*x2",)),
    ("sin x2,x1^2", ("x1^2", "sin x2")), (",".join(FEATURES), FEATURES)])
def test_a_list_of_features_reads_in_the_tables_order_and_writes_back(text, value):
    assert FEATURE.parse(text) == value
    assert FEATURE.parse(FEATURE.text(value)) == value
    assert FEATURE.check(list(reversed(value))) == value


@pytest.mark.parametrize("text", ["", "none", "x3", "x1,x1", "x1,,x2", "16,16", "X1"])
def test_a_bad_list_of_features_says_what_is_allowed(text):
    with pytest.raises(ValueError, match="one or more of x1"):
        FEATURE.parse(text)


def test_check_refuses_what_is_not_a_list_of_features():
    for value in ("x1", (), ("x1", "x1"), ("x1", 2), None, {"x1"}):
        with pytest.raises(ValueError, match="features must be"):
            FEATURE.check(value)


def test_the_link_keeps_features_and_leaves_out_the_default():
    s = replace(defaults_for("circles"), features=("x1^2", "x2^2"))
    query = to_query(s)
    assert query["features"] == "x1^2,x2^2"
    assert from_query(query) == (s, [])
    assert "features" not in to_query(defaults_for("circles"))
    settings, warnings = from_query({"data": "xor", "features": "x1,banana"})
    assert settings.features == DEFAULT_FEATURES and "features=x1,banana" in warnings[0]


def test_digits_read_pixels_whatever_the_link_says():
    settings, notes = from_query({"data": "mnist-sample", "features": "x1*x2"})
    assert settings.features == DEFAULT_FEATURES and "2-D points only" in notes[0]


def test_the_network_reads_one_input_per_feature():
    s = replace(defaults_for("xor"), features=("x1", "x2", "x1*x2"), hidden=(4,))
    assert n_inputs(s, 2) == 3
    assert architecture(s, 2, 2) == ("3 → 4 → 2", (3 + 1) * 4 + (4 + 1) * 2)
    assert n_inputs(defaults_for("mnist-sample"), 784) == 784


def test_the_command_line_takes_features_too(capsys):
    args = build_train_parser().parse_args(["--features", "x1*x2"])
    assert args.features == ("x1*x2",)
    assert build_train_parser().parse_args([]).features == DEFAULT_FEATURES
    with pytest.raises(SystemExit):
        build_train_parser().parse_args(["--features", "x9"])
    assert "--features" in capsys.readouterr().err
    # x1*x2 alone separates XOR's quadrants without any hidden layer
    assert train_main(["--dataset", "xor", "--features", "x1*x2", "--hidden", "none", "--epochs", "20",
                       "--lr", "0.05", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["params"] == 4 and result["val_acc"] > 0.9
    with pytest.raises(SystemExit):
        train_main(["--dataset", "mnist-sample", "--features", "x1^2"])
    assert "2-D toy sets" in capsys.readouterr().err
