"""Weight init: why the first random weights matter, layer by layer, forward and backward.

Widgets, then one call into nn.initexp, then the figures of pages/init_charts.py. The
explanations below are UI text: they read the numbers the experiment measured.
"""
from __future__ import annotations

import math
import time

import pandas as pd
import streamlit as st

from nn.initexp import (STANDARD_INITS, ExperimentConfig, ExperimentResult, InitChoice, TrainCurve,
                        TrainSettings, compare_inits, run_experiment, train_comparison)
from ui import init_charts
from ui.navigation import through_app
from ui.shared import dataset

through_app("pages/weight_init.py")

INIT_OPTIONS = {"std 1": STANDARD_INITS[0], "std 0.01": STANDARD_INITS[1],
                "Xavier": STANDARD_INITS[2], "He": STANDARD_INITS[3], "custom std": None}
ACTIVATION_NAMES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "leaky ReLU"}
STD_STEPS = (0.001, 0.002, 0.003, 0.005, 0.007, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.14, 0.2, 0.3,
             0.5, 0.7, 1.0, 2.0, 3.0, 5.0, 10.0)     # log-spaced: each step about x1.5-2
TRAIN = TrainSettings()
MAX_CACHED_RUNS = 8


def _g(v: float) -> str:
    """A number for prose: 3 significant digits, scientific when tiny or huge."""
    if not math.isfinite(v):
        return "–"
    return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.1e}"


# --------------------------------------------------------------------------- reading the numbers

def verdict(result: ExperimentResult) -> tuple[str, str]:
    """(word, colour) summing up the deepest layer: saturated / collapsed / spread for
    sigmoid and tanh, exploding / vanishing / stable for the ReLUs."""
    cfg, s = result.config, result.stats
    if cfg.activation in ("sigmoid", "tanh"):
        span = 1.0 if cfg.activation == "sigmoid" else 2.0
        if s[-1].saturated > 0.4:
            return "saturated", "red"
        if s[-1].std < 0.05 * span:
            return "collapsed", "gray"
        return "spread", "green"
    growth = _growth(result)
    if growth > 1.5:
        return "exploding", "red"
    if growth < 0.8:
        return "vanishing", "gray"
    return "stable", "green"


def _growth(result: ExperimentResult) -> float:
    """How much each layer multiplies the activations' std, measured from layer 1 to the last;
    with a single layer, the textbook factor std_w * sqrt(fan_in / 2) of a ReLU layer."""
    s = result.stats
    if len(s) > 1 and s[0].std > 0:
        return (s[-1].std / s[0].std) ** (1 / (len(s) - 1))
    return _weight_std(result.config, result.config.input_dim) * math.sqrt(result.config.input_dim / 2)


def _weight_std(cfg: ExperimentConfig, fan_in: int) -> float:
    return InitChoice("", cfg.init, cfg.std).std_for(fan_in)


def explain(result: ExperimentResult) -> str:
    """A few sentences on what this combination does and why, with its own numbers."""
    cfg, s = result.config, result.stats
    act, n, last = ACTIVATION_NAMES[cfg.activation], cfg.units, len(s)
    w = _weight_std(cfg, n)
    word, _ = verdict(result)
    grads = f"the gradient's norm goes from {_g(s[-1].grad_norm)} at the top to {_g(s[0].grad_norm)} at layer 1"
    parts = []
    if cfg.batchnorm:
        parts.append(f"**Batch norm is on.** Before each activation it shifts and rescales every unit's "
                     f"input to mean 0 and std 1 over the batch, whatever the weights' scale. So the "
                     f"initialisation hardly matters any more: layer {last}'s outputs have std {_g(s[-1].std)}, "
                     f"and {grads}. Turn it off to see what the weights alone would do.")
    elif word == "saturated":
        parts.append(f"**Saturated.** Each unit adds up {n} inputs times weights of std {_g(w)}, so its input "
                     f"is far beyond the narrow region where {act} bends. {s[-1].saturated:.0%} of layer {last}'s "
                     f"outputs sit within 5% of a limit, where the slope is almost 0: there a unit passes "
                     f"(almost) no gradient back, and learns only from the few samples that leave it unsaturated. "
                     f"Here {grads}: the large weights amplify what the unsaturated units let through.")
    elif word == "collapsed":
        centre = "0.5" if cfg.activation == "sigmoid" else "0"
        parts.append(f"**Collapsed.** Weights of std {_g(w)} make every unit's input tiny, so every unit "
                     f"outputs about {act}(0) = {centre}: layer {last}'s outputs have a std of only "
                     f"{_g(s[-1].std)}. All {n} units say the same thing, so the layer carries no more "
                     f"information than one unit. Backward, each layer multiplies the gradient by small weights "
                     f"again: {grads}, so the first layers barely learn.")
    elif word == "spread":
        parts.append(f"**Spread.** With weights of std {_g(w)} (Xavier's √(1/{n}) is {_g(1 / math.sqrt(n))}) "
                     f"the weighted sum of {n} inputs stays in the region where {act} bends, so the units "
                     f"respond differently to different inputs: layer {last}'s std is {_g(s[-1].std)}.")
        if cfg.init == "he":
            parts.append(f"He's std is √2 times Xavier's: it makes up for the half of the signal a ReLU "
                         f"zeroes, which {act} does not do, so here a few more units drift toward the limits "
                         f"({s[-1].saturated:.0%} saturated in layer {last}).")
        if cfg.activation == "sigmoid":
            parts.append(f"Backward, though, {grads}: sigmoid's slope is at most 1/4 and its outputs are not "
                         "centred on 0 (mean 0.5), so the signal shrinks at every layer even with Xavier. "
                         "tanh (slope 1 at 0, centred) keeps it; compare the two.")
        else:
            parts.append(f"Backward, {grads}.")
    elif word == "exploding":
        parts.append(f"**Exploding.** A ReLU layer passes on about half of its inputs, so it multiplies the "
                     f"signal's scale by roughly std·√({n}/2) = {_g(w * math.sqrt(n / 2))}. Layer {last}'s "
                     f"outputs reach a std of {_g(s[-1].std)}, and backward {grads}. Training with such "
                     f"weights blows up at the first steps.")
    elif word == "vanishing":
        parts.append(f"**Vanishing.** Each ReLU layer multiplies the signal's scale by roughly "
                     f"std·√({n}/2) = {_g(w * math.sqrt(n / 2))} < 1: the std falls from {_g(s[0].std)} in "
                     f"layer 1 to {_g(s[-1].std)} in layer {last}, and {grads}.")
        if cfg.init == "xavier":
            parts.append("Xavier's std √(1/n) was derived for sigmoid and tanh, which pass the whole signal; "
                         "ReLU zeroes half of it, so each layer loses a factor 1/√2. He's √(2/n) makes up "
                         "for exactly that.")
    else:
        parts.append(f"**Stable.** With weights of std {_g(w)} (He's √(2/{n}) is {_g(math.sqrt(2 / n))}), "
                     f"which makes up for the half of its inputs a ReLU zeroes, every layer keeps about the "
                     f"same std ({', '.join(_g(x.std) for x in s)}), and {grads}.")
    if cfg.activation == "relu":
        parts.append(f"About {s[-1].dead:.0%} of the outputs are exactly 0 (the grey bar): normal for ReLU, "
                     "whose units are off for inputs on the wrong side. Leaky ReLU passes 0.01·x there instead.")
    return "\n\n".join(parts)


def explain_compare(results: dict[str, ExperimentResult]) -> str:
    """One line per initialisation: its verdict and the numbers behind it."""
    lines = []
    for label, res in results.items():
        s, (word, colour) = res.stats, verdict(res)
        last = len(s)
        if word == "saturated":
            what = f"{s[-1].saturated:.0%} of layer {last} within 5% of a limit"
        else:
            what = f"std {_g(s[0].std)} in layer 1 → {_g(s[-1].std)} in layer {last}"
        lines.append(f"- **{label}**: :{colour}[{word}], {what}; gradient norm {_g(s[-1].grad_norm)} at the "
                     f"top → {_g(s[0].grad_norm)} at layer 1.")
    if next(iter(results.values())).config.batchnorm:
        lines.append("\nBatch norm is on: it re-normalises every layer, so the rows look alike. "
                     "Turn it off to see the initialisations on their own.")
    return "\n".join(lines)


RULE_OF_THUMB = (
    "**Rule of thumb.** Xavier (std = √(1/n), n inputs per unit) suits sigmoid and tanh; He "
    "(std = √(2/n)) suits ReLU. Both keep each layer's output variance equal to its input variance, "
    "so a signal neither dies out nor blows up over many layers; ReLU sets half of its inputs to 0, "
    "so He doubles the variance to make up for it. Batch norm re-normalises every layer during "
    "training and repairs a bad initialisation (try std 0.01 with batch norm on).")


def explain_training(curves: list[TrainCurve], activation: str) -> str:
    """What the training runs show, read from their final losses (ln 10 = 2.30 is guessing)."""
    learned = [c for c in curves if not c.diverged and c.final_loss < 0.5]
    slow = [c for c in curves if not c.diverged and 0.5 <= c.final_loss < 2.0]
    stalled = [c for c in curves if not c.diverged and c.final_loss >= 2.0]
    diverged = [c for c in curves if c.diverged]

    def runs(cs):
        return ", ".join(f"{c.label} (loss {c.final_loss:.2f}, {c.val_accuracy:.0%} of held-out digits right)"
                         for c in cs)
    lines = []
    if learned:
        lines.append(f"**Learned:** {runs(learned)}.")
    if slow:
        lines.append(f"**Learning slowly:** {runs(slow)}.")
    if stalled:
        lines.append("**Stuck near guessing:** " + ", ".join(f"{c.label} (loss {c.final_loss:.2f})"
                                                             for c in stalled) + ".")
    if diverged:
        lines.append("**Diverged:** " + ", ".join(c.label for c in diverged)
                     + " (the loss overflowed to infinity or NaN within the first steps: exploding activations).")
    if activation == "sigmoid" and any(c.label in ("Xavier", "He") for c in stalled):
        lines.append("Deep sigmoid stacks are hard to train with plain gradient descent: with Xavier or He the "
                     "backward pass shows the gradient shrinking about 4× per layer (sigmoid's slope is at "
                     "most 1/4), so the first layers hardly move. std 1 gets further only because its large "
                     "weights multiply the backward signal back up, and its saturated units learn slowly. "
                     "This is why deep networks moved to ReLU with He initialisation, or added batch norm: "
                     "switch the activation to ReLU or tanh, or turn batch norm on, and train again.")
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- tables

def layer_table(result: ExperimentResult) -> pd.DataFrame:
    """One row per layer: the activations' mean and std, the saturated or dead share, and the
    gradient norms (strings: the values span many orders of magnitude)."""
    sat = result.config.activation in ("sigmoid", "tanh")
    rows = []
    for i, s in enumerate(result.stats, start=1):
        row = {"layer": str(i), "mean": _g(s.mean), "std": _g(s.std)}
        if sat:
            row["saturated"] = f"{s.saturated:.1%}"
        else:
            row["exactly 0 (dead)"] = f"{s.dead:.1%}"
        row["‖dL/da‖ gradient"] = _g(s.grad_norm)
        row["‖dL/dW‖ weights"] = _g(s.dW_norm)
        rows.append(row)
    return pd.DataFrame(rows).set_index("layer")


def compare_table(results: dict[str, ExperimentResult]) -> pd.DataFrame:
    """One row per initialisation: its verdict and the numbers behind it."""
    rows = []
    for label, res in results.items():
        s = res.stats
        row = {"initialisation": label, "verdict": verdict(res)[0],
               "std, layer 1": _g(s[0].std), f"std, layer {len(s)}": _g(s[-1].std)}
        if res.config.activation in ("sigmoid", "tanh"):
            row[f"saturated, layer {len(s)}"] = f"{s[-1].saturated:.0%}"
        else:
            row[f"exactly 0, layer {len(s)}"] = f"{s[-1].dead:.0%}"
        row[f"‖dL/da‖ layer {len(s)} → 1"] = f"{_g(s[-1].grad_norm)} → {_g(s[0].grad_norm)}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("initialisation")


# --------------------------------------------------------------------------- page

st.title("Weight initialisation")
st.markdown(
    "1,000 random inputs (100 standard-normal numbers each) go through a stack of layers that has never "
    "been trained; each histogram shows where one layer's outputs land. The defaults are the classic "
    "experiment: **5 layers of 100 sigmoid units, weights drawn with std 1**. Change the settings in the "
    "sidebar and watch the picture change.")

with st.sidebar:
    st.header("Experiment")
    init_label = st.radio("Initialisation (std of the random weights)", list(INIT_OPTIONS), key="wi_init")
    choice = INIT_OPTIONS[init_label]
    if choice is None:
        custom_std = st.select_slider("Custom weight std (log scale)", STD_STEPS, value=0.1, key="wi_std")
        choice = InitChoice(f"std {custom_std:g}", "normal", float(custom_std))
    activation = st.selectbox("Activation", list(ACTIVATION_NAMES), format_func=ACTIVATION_NAMES.get,
                              key="wi_act")
    n_layers = st.slider("Layers", 1, 10, 5, key="wi_layers")
    units = st.slider("Units per layer", 10, 300, 100, step=10, key="wi_units")
    batchnorm = st.toggle("Batch norm", key="wi_bn",
                          help="Insert a batch-norm layer between each Dense layer and its activation.")
    seed = st.number_input("Seed", 0, 2**31 - 1, 0, step=1, key="wi_seed",
                           help="Draws the inputs, the weights and the backward signal.")

    config = ExperimentConfig(activation=activation, init=choice.init, std=choice.std, n_layers=n_layers,
                              units=units, batchnorm=batchnorm, seed=int(seed))
    w_first, w_rest = choice.std_for(config.input_dim), choice.std_for(units)
    st.caption(f"Weight std: {_g(w_first)}"
               + (f" in layer 1, {_g(w_rest)} in the others" if w_first != w_rest else "")
               + f". For reference, with n = {units} inputs per unit, Xavier √(1/n) = "
               f"{_g(1 / math.sqrt(units))} and He √(2/n) = {_g(math.sqrt(2 / units))}.")

c_view, c_kind = st.columns([2, 1])
with c_view:
    view = st.radio("View", ["One initialisation", "Compare std 1, std 0.01, Xavier, He"], horizontal=True,
                    key="wi_view", label_visibility="collapsed")
compare = view != "One initialisation"
if compare:
    with c_kind:
        what = st.radio("Grid shows", ["activations", "gradients"], horizontal=True, key="wi_grid_kind",
                        label_visibility="collapsed")

if not compare:
    start = time.perf_counter()
    result = run_experiment(config)
    act_fig = init_charts.layer_histograms(result, "activations")
    grad_fig = init_charts.layer_histograms(result, "gradients")
    elapsed = time.perf_counter() - start

    word, colour = verdict(result)
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
        st.table(layer_table(result))
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
        st.table(compare_table(results))
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

if st.button("Train once per initialisation", key="wi_train", type="primary",
             disabled=run_key in runs):
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
