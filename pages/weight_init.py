"""Weight init: why the first random weights matter, layer by layer, forward and backward.

Widgets, then one call into nn.initexp, then the figures of ui/init_charts.py and the words and
tables of ui/init_views.py.
"""
from __future__ import annotations

import math
import time

import streamlit as st

from nn.initexp import (STANDARD_INITS, ExperimentConfig, InitChoice, TrainSettings, compare_inits, run_experiment,
                        train_comparison, verdict)
from ui import init_charts
from ui.init_views import (ACTIVATION_NAMES, RULE_OF_THUMB, VERDICT_COLOURS, compare_table, explain,
                           explain_compare, explain_training, layer_table, number)
from ui.navigation import through_app
from ui.shared import dataset

through_app("pages/weight_init.py")

INIT_OPTIONS = {"std 1": STANDARD_INITS[0], "std 0.01": STANDARD_INITS[1],
                "Xavier": STANDARD_INITS[2], "He": STANDARD_INITS[3], "custom std": None}
STD_STEPS = (0.001, 0.002, 0.003, 0.005, 0.007, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.14, 0.2, 0.3,
             0.5, 0.7, 1.0, 2.0, 3.0, 5.0, 10.0)     # log-spaced: each step about x1.5-2
TRAIN = TrainSettings()
MAX_CACHED_RUNS = 8


# --------------------------------------------------------------------------- page

st.title("Weight initialisation")
st.markdown(
    "1,000 random inputs (100 standard-normal numbers each) go through a stack of layers that has never "
    "been trained; each histogram shows where one layer's outputs land. The defaults are the classic "
    "experiment: **5 layers of 100 sigmoid units, weights drawn with std 1**. Change the settings in the "
    "sidebar and watch the picture change.")

with st.sidebar:
    st.header("Experiment")
    init_label = st.radio("Initialisation (std of the random weights)", list(INIT_OPTIONS), key="wi_init",
                          help="How spread out the random starting weights are. std 1 and std 0.01 are the "
                               "classic bad choices; Xavier scales by √(1/n) and He by √(2/n), n = inputs per unit.")
    choice = INIT_OPTIONS[init_label]
    if choice is None:
        custom_std = st.select_slider("Custom weight std (log scale)", STD_STEPS, value=0.1, key="wi_std",
                                      help="Every weight is drawn from a normal distribution with this std.")
        choice = InitChoice(f"std {custom_std:g}", "normal", float(custom_std))
    activation = st.selectbox("Activation", list(ACTIVATION_NAMES), format_func=ACTIVATION_NAMES.get,
                              key="wi_act", help="The function after each layer. Sigmoid and tanh saturate "
                                                 "at their limits; ReLU zeroes every negative input.")
    n_layers = st.slider("Layers", 1, 10, 5, key="wi_layers",
                         help="How many layers the signal passes through: each one can shrink or grow it.")
    units = st.slider("Units per layer", 10, 300, 100, step=10, key="wi_units",
                      help="Inputs per unit (n) in every layer but the first: the right weight spread depends on it.")
    batchnorm = st.toggle("Batch norm", key="wi_bn",
                          help="Insert a batch-norm layer between each Dense layer and its activation.")
    seed = st.number_input("Seed", 0, 2**31 - 1, 0, step=1, key="wi_seed",
                           help="Draws the inputs, the weights and the backward signal.")

    config = ExperimentConfig(activation=activation, init=choice.init, std=choice.std, n_layers=n_layers,
                              units=units, batchnorm=batchnorm, seed=int(seed))
    w_first, w_rest = choice.std_for(config.input_dim), choice.std_for(units)
    st.caption(f"Weight std: {number(w_first)}"
               + (f" in layer 1, {number(w_rest)} in the others" if w_first != w_rest else "")
               + f". For reference, with n = {units} inputs per unit, Xavier √(1/n) = "
               f"{number(1 / math.sqrt(units))} and He √(2/n) = {number(math.sqrt(2 / units))}.")

c_view, c_kind = st.columns([2, 1])
with c_view:
    view = st.radio("View", ["One initialisation", "Compare std 1, std 0.01, Xavier, He"], horizontal=True,
                    key="wi_view", label_visibility="collapsed",
                    help="One initialisation in detail, or the four classic ones side by side.")
compare = view != "One initialisation"
if compare:
    with c_kind:
        what = st.radio("Grid shows", ["activations", "gradients"], horizontal=True, key="wi_grid_kind",
                        label_visibility="collapsed",
                        help="Forward: what each layer outputs. Backward: the gradient arriving at each layer.")

if not compare:
    start = time.perf_counter()
    result = run_experiment(config)
    act_fig = init_charts.layer_histograms(result, "activations")
    grad_fig = init_charts.layer_histograms(result, "gradients")
    elapsed = time.perf_counter() - start

    word = verdict(result)
    colour = VERDICT_COLOURS[word]
    st.subheader(f"Forward: what each layer outputs — :{colour}[{word}]")
    st.plotly_chart(act_fig, key="wi_act_chart", config={"displayModeBar": False})
    st.subheader("Backward: the gradient arriving at each layer")
    st.caption("We send a random error signal G (standard normal, as if the loss were sum(G · top layer's "
               "output)) into the top layer and let every layer's backward pass carry it down. Each histogram "
               "shows dL/da, the gradient with respect to that layer's output, on one shared axis: a "
               "vanished gradient is a thin spike at 0.")
    st.plotly_chart(grad_fig, key="wi_grad_chart", config={"displayModeBar": False})

    left, right = st.columns([1.1, 1])
    with left:
        st.markdown("**Per layer**")
        st.dataframe(layer_table(result), hide_index=True)
    with right:
        st.markdown(explain(result))
        st.info(RULE_OF_THUMB)
else:
    start = time.perf_counter()
    results = compare_inits(config)
    grid = init_charts.compare_grid(results, what)
    elapsed = time.perf_counter() - start

    st.subheader(f"{ACTIVATION_NAMES[activation]}, {n_layers} layers of {units} units"
                 + (", batch norm" if batchnorm else "") + f": one row per initialisation ({what})")
    st.plotly_chart(grid, key="wi_grid_chart", config={"displayModeBar": False})
    left, right = st.columns([1.2, 1])
    with left:
        st.dataframe(compare_table(results), hide_index=True)
    with right:
        st.markdown(explain_compare(results))
    st.info(RULE_OF_THUMB)

st.caption(f"Forward, backward, histograms and figures: {elapsed * 1000:.0f} ms on the server.")

# --------------------------------------------------------------------------- does it train?

st.header("Does it train?")
train_inits = list(STANDARD_INITS) + ([choice] if choice not in STANDARD_INITS else [])
st.markdown(
    f"Train this deep network ({n_layers} × {units} {ACTIVATION_NAMES[activation]} units"
    + (" with batch norm" if batchnorm else "") + f", then 10 outputs) on {TRAIN.n_train:,} bundled "
    f"digits for {TRAIN.epochs} epochs of SGD with momentum (learning rate {TRAIN.lr}, batches of "
    f"{TRAIN.batch_size}), once per initialisation: {', '.join(c.label for c in train_inits)}. "
    "No adaptive optimiser on purpose: Adam rescales every gradient and would hide much of the "
    "difference.")

run_key = (activation, n_layers, units, batchnorm, int(seed), tuple(train_inits))
if "wi_train_runs" not in st.session_state:
    st.session_state.wi_train_runs = {}
runs: dict = st.session_state.wi_train_runs

if st.button("Train once per initialisation", key="wi_train", type="primary", disabled=run_key in runs,
             help="Trains the same network once per initialisation and overlays their loss curves."):
    try:
        digits = dataset("mnist-sample")
    except (FileNotFoundError, ValueError) as e:
        st.error(f"The bundled digits could not be loaded: {e}")
        st.stop()
    bar = st.progress(0.0, text="Starting…")
    started = time.perf_counter()
    curves = train_comparison(
        digits.x_train, digits.y_train, digits.x_val, digits.y_val, activation=activation,
        n_layers=n_layers, units=units, batchnorm=batchnorm, inits=tuple(train_inits), settings=TRAIN,
        seed=int(seed), on_progress=lambda i, total, label: bar.progress(
            i / total, text=f"Training with {label} ({i + 1} of {total})…"))
    bar.empty()
    runs[run_key] = (curves, time.perf_counter() - started)
    while len(runs) > MAX_CACHED_RUNS:
        runs.pop(next(iter(runs)))

if run_key in runs:
    curves, seconds = runs[run_key]
    st.plotly_chart(init_charts.loss_curves(curves), key="wi_loss_chart", config={"displayModeBar": False})
    st.markdown(explain_training(curves, activation))
    st.caption(f"{len(curves)} runs in {seconds:.1f} s; a trailing mean over 20 batches is drawn.")
else:
    st.caption("Press the button: a few seconds. Results are kept for this session, per setting.")
