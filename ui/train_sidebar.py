"""The Train page's sidebar: every knob, built from nn/settings.py's table, kept in step with the
page's Settings and its link.

Widget keys are ``train_<setting name>`` (``train_features.<name>`` for each input feature's
checkbox, and ``train_layers``, ``train_width_<i>`` for the network's shape). The first visit takes the settings from the link; later visits restore any widget that
Streamlit forgot (a hidden one, or after a visit to another page) from the last settings.
"""
from __future__ import annotations

import streamlit as st

from nn.features import DEFAULT_FEATURES
from nn.settings import MAX_LAYERS, SETTINGS
from ui.train_settings import NAMES, Settings, class_range, consistent, defaults_for, from_query
from ui.widgets import setting_widget, widget_state, widget_value, width_widget

SETTINGS_KEY, WARNINGS_KEY = "train_settings", "train_url_warnings"
DIGITS_TO_AUGMENT = ("mnist-sample", "mnist")


def widget_values(s: Settings) -> dict:
    """Session-state value of every settings widget for settings s."""
    values = {}
    for name in NAMES:
        if name != "hidden":
            values.update(widget_state(name, f"train_{name}", getattr(s, name)))
    values["train_layers"] = len(s.hidden)
    base = defaults_for(s.dataset).hidden
    for i in range(MAX_LAYERS):
        values[f"train_width_{i}"] = s.hidden[i] if i < len(s.hidden) else base[min(i, len(base) - 1)]
    return values


def restore_widgets() -> None:
    ss = st.session_state
    if SETTINGS_KEY not in ss:
        ss[SETTINGS_KEY], ss[WARNINGS_KEY] = from_query(st.query_params.to_dict())
    for key, value in widget_values(ss[SETTINGS_KEY]).items():
        if key not in ss:
            ss[key] = value


def _dataset_changed() -> None:
    """Switching between 2-D points and images loads that kind's recipe (network, optimiser...)."""
    ss = st.session_state
    new, old = ss["train_dataset"], ss[SETTINGS_KEY].dataset
    recipe = defaults_for(new)
    if recipe.is_images != defaults_for(old).is_images:
        for key, value in widget_values(recipe).items():
            if key not in ("train_dataset", "train_seed"):
                ss[key] = value
    ss["train_n_classes"] = recipe.n_classes


def settings_sidebar() -> tuple[Settings, list[str]]:
    """Draw every knob; return the chosen settings and notes on combinations that were undone."""
    ss = st.session_state
    st.header("Experiment")
    with st.expander("Data", expanded=True):
        name = setting_widget("dataset", "train_dataset", on_change=_dataset_changed)
        if not defaults_for(name).is_images:
            for knob in ("n_points", "noise", "val_share"):
                setting_widget(knob, f"train_{knob}")
            low, high = class_range(name)
            if low != high:
                ss["train_n_classes"] = min(max(ss.get("train_n_classes", low), low), high)
                st.slider(SETTINGS["n_classes"].label, low, high, key="train_n_classes",
                          help=SETTINGS["n_classes"].help)
        setting_widget("augment", "train_augment", disabled=name not in DIGITS_TO_AUGMENT)
    with st.expander("Network", expanded=True):
        images = defaults_for(name).is_images
        if not images:
            setting_widget("features", "train_features")
        layers = st.slider("Hidden layers", 0, MAX_LAYERS, key="train_layers", help=SETTINGS["hidden"].help)
        hidden = tuple(width_widget(i + 1, f"train_width_{i}") for i in range(layers))
        setting_widget("activation", "train_activation")
        if setting_widget("init", "train_init") == "normal":
            setting_widget("init_std", "train_init_std")
        for knob in ("dropout", "batchnorm", "loss"):
            setting_widget(knob, f"train_{knob}")
    with st.expander("Training", expanded=True):
        optimizer = setting_widget("optimizer", "train_optimizer")
        for knob, used_by in (("momentum", ("momentum", "nesterov")), ("beta1", ("adam",)), ("beta2", ("adam",)),
                              ("rho", ("rmsprop",))):
            if optimizer in used_by:
                setting_widget(knob, f"train_{knob}")
        if setting_widget("schedule", "train_schedule") == "step":
            setting_widget("step_epochs", "train_step_epochs")
            setting_widget("gamma", "train_gamma")
        for knob in ("batch_size", "epochs", "l2", "seed"):
            setting_widget(knob, f"train_{knob}")
    last = ss[SETTINGS_KEY]
    values = {n: widget_value(n, f"train_{n}", getattr(last, n)) for n in NAMES if n != "hidden"}
    if images:
        values["features"] = DEFAULT_FEATURES          # digits: the network reads the pixels
    if class_range(name)[0] == class_range(name)[1]:
        values["n_classes"] = defaults_for(name).n_classes
    values["hidden"] = hidden
    return consistent(values)
