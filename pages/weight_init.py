"""Weight init: why the first random weights matter, layer by layer, forward and backward.

Widgets (built from ui/init_settings.py's table; the link holds their values), then one call into
nn.initexp, then the figures of ui/init_charts.py and the words and tables of ui/init_views.py.
"Does it train?" trains in its own process (ui/processes.py) and keeps every run of the session
(ui/run_history.py) until the learner clears it.
"""
from __future__ import annotations

import math
import time

import streamlit as st

from nn.initexp import TrainSettings, compare_inits, run_experiment, train_comparison, verdict
from ui import init_charts
from ui.init_settings import (ACTIVATION_NAMES, CUSTOM, INIT_LABELS, KEYS, SETTINGS, SETTINGS_KEY, VIEWS, apply,
                              from_query, from_widgets, link, restore)
from ui.init_views import (RULE_OF_THUMB, VERDICT_COLOURS, compare_table, explain, explain_compare, explain_runs,
                           layer_table, number, run_summary, runs_table)
from ui.lessons import WEIGHT_INIT, is_hidden, is_locked, lesson_card, lesson_link_box, link_params, pending_settings
from ui.navigation import through_app
from ui.processes import JobFailed, run_in_process
from ui.run_history import RunHistory, labels, versus
from ui.shared import dataset
from ui.text import plain

through_app("pages/weight_init.py")
ss = st.session_state
TRAIN = TrainSettings()
HISTORY, SHOWN = "wi_history", "wi_shown"
NO_BAR = {"displayModeBar": False}

if HISTORY not in ss:
    ss[HISTORY] = RunHistory()
history: RunHistory = ss[HISTORY]


def _restore_run(number: int) -> None:
    """Put a past run's settings back in every widget, and show the run."""
    run = history.get(number)
    if run is not None:
        apply(ss, run.settings)
        ss[SHOWN] = [n for n in ss.get(SHOWN, []) if n != number] + [number]


def _clear_runs() -> None:
    history.clear()
    ss[SHOWN] = []


def _label(name: str) -> str:
    return SETTINGS[name].label


def _help(name: str) -> str:
    return SETTINGS[name].help


def _locked(name: str) -> bool:
    return is_locked(name, WEIGHT_INIT)


def _shown(name: str) -> bool:
    return not is_hidden(name, WEIGHT_INIT)


# --------------------------------------------------------------------------- settings

link_warnings = restore(ss, st.query_params.to_dict())
lesson_params = pending_settings(WEIGHT_INIT)        # a lesson link just opened: its experiment
if lesson_params is not None:
    lesson_settings, lesson_warnings = from_query(lesson_params)
    apply(ss, lesson_settings)
    link_warnings = lesson_warnings
compare = ss[KEYS["view"]] == "compare"

st.title("Weight initialisation")
st.markdown(
    "1,000 random inputs (100 standard-normal numbers each) go through a stack of layers that has never "
    "been trained; each histogram shows where one layer's outputs land. The defaults are the classic "
    "experiment: **5 layers of 100 sigmoid units, weights drawn with std 1**. Change the settings in the "
    "sidebar and watch the picture change.")
for warning in link_warnings:
    st.warning(plain(warning), icon=":material/link_off:")
lesson_card(WEIGHT_INIT)

with st.sidebar:
    st.header("Experiment")
    init_help = _help("init") + (" The compare view shows all four classic ones side by side; switch to "
                                 "One initialisation to pick one." if compare else "")
    # a lesson (ui/lessons.py) draws its locked settings disabled and leaves out the ones it hides
    if _shown("init") and st.radio(_label("init"), INIT_LABELS, key=KEYS["init"], disabled=compare or _locked("init"),
                                   help=init_help) == CUSTOM and _shown("std"):
        st.select_slider(_label("std"), SETTINGS["std"].options(ss[KEYS["std"]]), key=KEYS["std"],
                         format_func=lambda v: f"{v:g}", disabled=compare or _locked("std"), help=_help("std"))
    if _shown("activation"):
        st.selectbox(_label("activation"), SETTINGS["activation"].choices, format_func=ACTIVATION_NAMES.get,
                     key=KEYS["activation"], disabled=_locked("activation"), help=_help("activation"))
    if _shown("n_layers"):
        st.slider(_label("n_layers"), int(SETTINGS["n_layers"].low), int(SETTINGS["n_layers"].high),
                  key=KEYS["n_layers"], disabled=_locked("n_layers"), help=_help("n_layers"))
    if _shown("units"):
        st.select_slider(_label("units"), SETTINGS["units"].options(ss[KEYS["units"]]), key=KEYS["units"],
                         disabled=_locked("units"), help=_help("units"))
    if _shown("batchnorm"):
        st.toggle(_label("batchnorm"), key=KEYS["batchnorm"], disabled=_locked("batchnorm"), help=_help("batchnorm"))
    if _shown("seed"):
        st.number_input(_label("seed"), int(SETTINGS["seed"].low), int(SETTINGS["seed"].high), step=1,
                        key=KEYS["seed"], disabled=_locked("seed"), help=_help("seed"))
    weight_note = st.empty()

c_view, c_kind = st.columns([2, 1])
if _shown("view"):
    with c_view:
        st.radio(_label("view"), list(VIEWS), format_func=VIEWS.get, horizontal=True, key=KEYS["view"],
                 disabled=_locked("view"), help=_help("view"))
if compare and _shown("grid"):
    with c_kind:
        st.radio(_label("grid"), SETTINGS["grid"].choices, horizontal=True, key=KEYS["grid"],
                 disabled=_locked("grid"), help=_help("grid"))

settings = from_widgets(ss)
ss[SETTINGS_KEY] = settings
query = link(ss, settings)
st.query_params.from_dict({**query, **link_params(WEIGHT_INIT)})      # a reload keeps the lesson too
with st.sidebar:
    lesson_link_box(WEIGHT_INIT, query)
config, choice, units = settings.experiment(), settings.choice, settings.units
act_name = ACTIVATION_NAMES[settings.activation]

if compare:
    weight_note.caption("The compare view draws the weights four ways, one row each.")
else:
    w_first, w_rest = choice.std_for(config.input_dim), choice.std_for(units)
    weight_note.caption(f"Weight std: {number(w_first)}"
                        + (f" in layer 1, {number(w_rest)} in the others" if w_first != w_rest else "")
                        + f". For reference, with n = {units} inputs per unit, Xavier √(1/n) = "
                        f"{number(1 / math.sqrt(units))} and He √(2/n) = {number(math.sqrt(2 / units))}.")

# --------------------------------------------------------------------------- the experiment

if not compare:
    result = run_experiment(config)
    word = verdict(result)
    st.subheader(f"Forward: what each layer outputs — :{VERDICT_COLOURS[word]}[{word}]")
    st.plotly_chart(init_charts.layer_histograms(result, "activations"), key="wi_act_chart", config=NO_BAR)
    st.subheader("Backward: the gradient arriving at each layer")
    st.caption("We send a random error signal G (standard normal, as if the loss were sum(G · top layer's "
               "output)) into the top layer and let every layer's backward pass carry it down. Each histogram "
               "shows dL/da, the gradient with respect to that layer's output, on one shared axis: a "
               "vanished gradient is a thin spike at 0.")
    st.plotly_chart(init_charts.layer_histograms(result, "gradients"), key="wi_grad_chart", config=NO_BAR)

    left, right = st.columns([1.1, 1])
    with left:
        st.markdown("**Per layer**")
        st.dataframe(layer_table(result), hide_index=True)
    with right:
        st.markdown(explain(result))
        st.info(RULE_OF_THUMB)
else:
    results = compare_inits(config)
    st.subheader(f"{act_name}, {settings.n_layers} layers of {units} units"
                 + (", batch norm" if settings.batchnorm else "") + f": one row per initialisation ({settings.grid})")
    st.plotly_chart(init_charts.compare_grid(results, settings.grid), key="wi_grid_chart", config=NO_BAR)
    left, right = st.columns([1.2, 1])
    with left:
        st.dataframe(compare_table(results), hide_index=True)
    with right:
        st.markdown(explain_compare(results))
    st.info(RULE_OF_THUMB)

# --------------------------------------------------------------------------- does it train?

st.header("Does it train?")
train_inits = settings.training_inits()
st.markdown(
    f"Train this deep network ({settings.n_layers} × {units} {act_name} units"
    + (" with batch norm" if settings.batchnorm else "") + f", then 10 outputs) on {TRAIN.n_train:,} bundled "
    f"digits for {TRAIN.epochs} epochs of SGD with momentum (learning rate {TRAIN.lr}, batches of "
    f"{TRAIN.batch_size}), once per initialisation: {', '.join(c.label for c in train_inits)}. "
    "No adaptive optimiser on purpose: Adam rescales every gradient and would hide much of the "
    "difference. Every run is kept until you clear it: change a setting, train again, and compare.")

same = history.find(settings.training_key())
if st.button("Train once per initialisation", key="wi_train", type="primary", disabled=same is not None,
             help="Trains the same network once per initialisation and overlays their loss curves."):
    try:
        digits = dataset("mnist-sample")
    except (FileNotFoundError, ValueError) as e:
        st.error(f"The bundled digits could not be loaded: {e}")
        st.stop()
    bar = st.progress(0.0, text="Starting…")
    started = time.perf_counter()
    try:       # in its own process: the web server's other sessions go on meanwhile
        curves = run_in_process(
            train_comparison, digits.x_train[:TRAIN.n_train], digits.y_train[:TRAIN.n_train],
            digits.x_val[:TRAIN.n_val], digits.y_val[:TRAIN.n_val], activation=settings.activation,
            n_layers=settings.n_layers, units=units, batchnorm=settings.batchnorm, inits=train_inits,
            settings=TRAIN, seed=settings.seed, on_progress=lambda i, total, label: bar.progress(
                i / total, text=f"Training with {label} ({i + 1} of {total})…"))
    except (JobFailed, TimeoutError) as e:
        bar.empty()
        st.error(f"Training stopped: {e}")
        st.stop()
    bar.empty()
    before = [n for n in ss.get(SHOWN, []) if history.get(n) is not None]
    same = history.add(settings.training_key(), settings, settings.training_facts(), curves,
                       time.perf_counter() - started)
    ss[SHOWN] = before[-1:] + [same.number]          # the new run beside the one shown before it
    st.rerun()                                         # drawn again with the button greyed out
if same is not None:
    st.caption(f"These settings were trained as run #{same.number}: change one and train again to compare.")

if len(history):
    ss[SHOWN] = [n for n in ss.get(SHOWN, []) if history.get(n) is not None]
    picked = st.multiselect("Runs on the chart", [r.number for r in history], key=SHOWN,
                            format_func=lambda n: run_summary(history.get(n)),
                            help="Overlay any runs of this session: each initialisation keeps its colour, "
                                 "each run has its own line style.")
    shown = [history.get(n) for n in picked]
    if shown:
        names = labels(shown)
        if len(shown) > 1:
            st.markdown(f"**{versus(shown)}** (solid, dashed, dotted… in that order)")
        st.plotly_chart(init_charts.loss_curves([(names[r.number], r.result) for r in shown]),
                        key="wi_loss_chart", config=NO_BAR)
        st.markdown(explain_runs(shown))
        st.caption("A trailing mean over 20 batches is drawn.")
    st.markdown("**Every run of this session**: final training loss · share of held-out digits right")
    st.dataframe(runs_table(list(history)), hide_index=True)
    with st.container(horizontal=True):
        for r in history:
            st.button(f"Restore #{r.number}", key=f"wi_restore_{r.number}", on_click=_restore_run, args=(r.number,),
                      icon=":material/settings_backup_restore:", disabled=r is same,
                      help=f"Put the settings of {run_summary(r)} back in the sidebar.")
        st.button("Clear all runs", key="wi_clear", on_click=_clear_runs, icon=":material/delete:",
                  help="Forget every run of this session.")
else:
    st.caption("Press the button: about ten seconds (longer while others train on this server). Every run is "
               "kept for this session, so you can compare them.")
