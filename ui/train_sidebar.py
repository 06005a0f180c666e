"""The Train page's sidebar: every knob, built from nn/settings.py's table, kept in step with the
page's Settings and its link.

Calm by design: what a beginner changes first is in view (the dataset, the network's shape, the
epochs; the learning rate sits on the page itself), everything else is in one collapsed "Advanced
settings" expander, and the whole sidebar fits one 1280x800 screen at its defaults. A lesson
(ui/lessons.py) locks some knobs (drawn disabled) and puts others away (not drawn); its value
still comes from the lesson's link.

Widget keys are ``train_<setting name>`` (``train_features.<name>`` for each input feature's
checkbox, and ``train_layers``, ``train_width_<i>`` for the network's shape). The first visit takes
the settings from the link (a lesson link: from the lesson); later visits restore any widget that
Streamlit forgot (a hidden one, or after a visit to another page) from the last settings.
"""
from __future__ import annotations

import streamlit as st

from nn.features import DEFAULT_FEATURES
from nn.settings import MAX_LAYERS, SETTINGS
from ui import lessons
from ui.train_settings import (NAMES, Settings, class_range, consistent, defaults_for, from_query,
                               to_query)
from ui.widgets import setting_widget, widget_state, widget_value, width_widget

SETTINGS_KEY, WARNINGS_KEY = "train_settings", "train_url_warnings"
DIGITS_TO_AUGMENT = ("mnist-sample", "mnist")
PAGE = lessons.TRAIN


def _setting_state(name: str, s: Settings) -> dict:
    """Session-state value of the widgets of one setting for settings s (the network's shape is a
    number of layers and a width per layer; a layer beyond the shape keeps the recipe's width)."""
    if name != "hidden":
        return widget_state(name, f"train_{name}", getattr(s, name))
    values = {"train_layers": len(s.hidden)}
    base = defaults_for(s.dataset).hidden
    for i in range(MAX_LAYERS):
        values[f"train_width_{i}"] = s.hidden[i] if i < len(s.hidden) else base[min(i, len(base) - 1)]
    return values


def widget_values(s: Settings) -> dict:
    """Session-state value of every settings widget for settings s."""
    values = {}
    for name in NAMES:
        values.update(_setting_state(name, s))
    return values


def restore_widgets() -> None:
    """Call before drawing any widget. The first visit of a session (and a lesson link, whenever
    one is opened) puts the link's settings in every widget; otherwise a widget Streamlit forgot
    gets its value back from the last settings."""
    ss = st.session_state
    lesson_params = lessons.pending_settings(PAGE)
    if SETTINGS_KEY not in ss or lesson_params is not None:
        params = lesson_params if lesson_params is not None else st.query_params.to_dict()
        ss[SETTINGS_KEY], ss[WARNINGS_KEY] = from_query(params)
    overwrite = lesson_params is not None
    for key, value in widget_values(ss[SETTINGS_KEY]).items():
        if overwrite or key not in ss:
            ss[key] = value


def _set_widgets(s: Settings, names) -> None:
    ss = st.session_state
    for name in names:
        ss.update(_setting_state(name, s))


def _dataset_changed() -> None:
    """Switching data loads the new dataset's recipe, so every widget (the learning rate on the page
    too) makes sense for it:

    - to another kind of data (2-D points <-> images): the whole recipe, but the seed and any setting
      a lesson locked;
    - to the same kind: each setting still at the old dataset's default takes the new one's (the
      classes of blobs, the epochs of the full MNIST); what the learner changed is kept, so one
      network can be tried on several 2-D datasets.
    """
    ss = st.session_state
    old = ss[SETTINGS_KEY]
    new = defaults_for(ss["train_dataset"])
    old_recipe = defaults_for(old.dataset)
    same_kind = new.is_images == old_recipe.is_images
    names = [n for n in NAMES if n not in ("dataset", "seed") and not lessons.is_locked(n, PAGE)
             and (not same_kind or getattr(old, n) == getattr(old_recipe, n))]
    _set_widgets(new, names)
    low, high = class_range(new.dataset)
    ss["train_n_classes"] = min(max(ss.get("train_n_classes", new.n_classes), low), high)


def _restore_defaults() -> None:
    """Every widget back to the recipe of the chosen dataset; in a lesson, back to the lesson's own
    settings (its link)."""
    lesson = lessons.current_lesson(PAGE)
    if lesson is not None:
        settings, _ = from_query(lesson.settings)
    else:
        settings = defaults_for(st.session_state["train_dataset"])
    _set_widgets(settings, NAMES)


def _widget(name: str, **kwargs):
    """Draw setting ``name``'s widget unless the lesson puts it away; disabled when locked."""
    if lessons.is_hidden(name, PAGE):
        return widget_value(name, f"train_{name}", getattr(st.session_state[SETTINGS_KEY], name))
    disabled = kwargs.pop("disabled", False) or lessons.is_locked(name, PAGE)
    return setting_widget(name, f"train_{name}", disabled=disabled, **kwargs)


def _shape_and_epochs() -> tuple[tuple[int, ...], int]:
    """Hidden layers beside the epochs, then the neurons of each layer, two layers a row: the
    essentials in as few rows as the sidebar can take."""
    ss = st.session_state
    hide_shape, hide_epochs = lessons.is_hidden("hidden", PAGE), lessons.is_hidden("epochs", PAGE)
    if hide_shape or hide_epochs:
        depth_box = epochs_box = st.container()
    else:
        depth_box, epochs_box = st.columns(2)
    with epochs_box:
        epochs = _widget("epochs")
    if hide_shape:
        return tuple(ss[f"train_width_{i}"] for i in range(ss["train_layers"])), epochs
    locked = lessons.is_locked("hidden", PAGE)
    with depth_box:
        layers = st.slider(SETTINGS["hidden"].label, 0, MAX_LAYERS, key="train_layers",
                           help=SETTINGS["hidden"].help, disabled=locked)
    widths = []
    for row in range(0, layers, 2):             # two layers a row: the sidebar stays one screen tall
        for i, column in zip(range(row, min(row + 2, layers)), st.columns(2)):
            with column:
                widths.append(width_widget(i + 1, f"train_width_{i}", disabled=locked))
    return tuple(widths), epochs


def _classes(name: str) -> None:
    ss = st.session_state
    low, high = class_range(name)
    if low == high:
        return
    ss["train_n_classes"] = min(max(ss.get("train_n_classes", low), low), high)
    if not lessons.is_hidden("n_classes", PAGE):
        st.slider(SETTINGS["n_classes"].label, low, high, key="train_n_classes", help=SETTINGS["n_classes"].help,
                  disabled=lessons.is_locked("n_classes", PAGE))


def _group(title: str) -> None:
    """A group's title in the Advanced expander (a lesson's few knobs need none)."""
    lesson = lessons.current_lesson(PAGE)
    if lesson is None or lesson.shown is None:
        st.markdown(f"**{title}**")


def _advanced(name: str, images: bool) -> None:
    """Every knob but the essentials, grouped as data, network, training."""
    _group("Data")
    if images:
        _widget("augment", disabled=name not in DIGITS_TO_AUGMENT)
    else:
        _classes(name)
        for knob in ("n_points", "noise", "val_share"):
            _widget(knob)
        _widget("features")
    _group("Network")
    _widget("activation")
    if _widget("init") == "normal":
        _widget("init_std")
    for knob in ("dropout", "batchnorm", "loss"):
        _widget(knob)
    _group("Training")
    optimizer = _widget("optimizer")
    for knob, used_by in (("momentum", ("momentum", "nesterov")), ("beta1", ("adam",)), ("beta2", ("adam",)),
                          ("rho", ("rmsprop",))):
        if optimizer in used_by:
            _widget(knob)
    if _widget("schedule") == "step":
        _widget("step_epochs")
        _widget("gamma")
    for knob in ("batch_size", "l2", "seed"):
        _widget(knob)


def settings_sidebar() -> tuple[Settings, list[str]]:
    """Draw every knob; return the chosen settings and notes on combinations that were undone."""
    ss = st.session_state
    lesson = lessons.current_lesson(PAGE)
    name = _widget("dataset", on_change=_dataset_changed)
    images = defaults_for(name).is_images
    hidden, _ = _shape_and_epochs()
    if lesson is not None and lesson.shown is not None:
        _advanced(name, images)              # a lesson shows only a few knobs: nothing to fold away
    else:
        with st.expander("Advanced settings", icon=":material/tune:"):
            _advanced(name, images)
    last = ss[SETTINGS_KEY]
    values = {n: widget_value(n, f"train_{n}", getattr(last, n)) for n in NAMES if n != "hidden"}
    if images:
        values["features"] = DEFAULT_FEATURES          # digits: the network reads the pixels
    if class_range(name)[0] == class_range(name)[1]:
        values["n_classes"] = defaults_for(name).n_classes
    values["hidden"] = hidden
    settings, notes = consistent(values)
    st.button("Restore defaults" if lesson is None else "Restore the lesson's settings", key="train_restore_defaults",
              on_click=_restore_defaults, type="tertiary", icon=":material/restart_alt:",
              help="Put every setting back to this dataset's recipe (in a lesson: to the lesson's own "
                   "settings). A run in progress keeps its settings until Reset.")
    lessons.lesson_link_box(PAGE, to_query(settings))
    return settings, notes
