"""Comparing the Train page's runs: every run of the session is kept (ui/run_history.py) with what it
was made with and what it gave, and any of them can be overlaid, listed side by side and restored.

    facts            a run's settings in short words, by name ({"lr": "lr 0.1", "optimizer": "Adam"})
    RunResult        what a kept run gave: its per-epoch curves, how far it got, its verdict
    result_from      a RunResult from ``LiveRun.final()``
    worth_keeping    did a run get far enough to be kept (an epoch, or an end)
    keep             a live run into the history, once, if it is worth keeping
    compare_figure   the loss or accuracy of the chosen runs overlaid, each labelled by what differs
    runs_table       one row per run, side by side
    compare_section  the page's "Compare runs" section: the picker, the chart, the table, the buttons

The history lives in st.session_state (the page owns it), never in a module global; it keeps the
last MAX_RUNS runs.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from nn.settings import SETTINGS
from ui.run_history import Run, RunHistory, differing, labels, versus
from ui.train_settings import TOY_DEFAULTS, Settings

MAX_RUNS = 20
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22")


# ----- what a run was made with, in words ----------------------------------------------------------

def _name(setting: str, value: str) -> str:
    """A choice's human name, without its parenthesis: "Sigmoid binary cross-entropy"."""
    return SETTINGS[setting].name_of(value).split(" (")[0]


def _layers(hidden: tuple[int, ...]) -> str:
    if not hidden:
        return "no hidden layer"
    if len(set(hidden)) == 1:
        return f"{len(hidden)} layer{'s' if len(hidden) > 1 else ''} of {hidden[0]}"
    return "layers " + "-".join(map(str, hidden))


def _optimizer(s: Settings) -> str:
    """The optimiser's name, with its own knobs where they differ from the usual values."""
    words = [_name("optimizer", s.optimizer)]
    knobs = {"momentum": ("momentum",), "nesterov": ("momentum",), "adam": ("beta1", "beta2"),
             "rmsprop": ("rho",)}.get(s.optimizer, ())
    symbol = {"momentum": "", "beta1": "β1 ", "beta2": "β2 ", "rho": "ρ "}
    words += [f"{symbol[k]}{getattr(s, k):g}" for k in knobs if getattr(s, k) != getattr(TOY_DEFAULTS, k)]
    return " ".join(words)


def facts(s: Settings) -> dict[str, str]:
    """The settings of a run in short words, by setting name, for labels that say how runs differ
    (ui/run_history.labels: "lr 0.1 vs lr 0.01", "Adam vs SGD"). Knobs that do not apply (the
    noise of digits, Adam's β of SGD) are left out."""
    f = {"dataset": dataset_name(s.dataset)}
    if s.is_images:
        f["augment"] = "augmented" if s.augment else "not augmented"
    else:
        f.update(n_points=f"{s.n_points:,} points", noise=f"noise {s.noise:g}",
                 val_share=f"{s.val_share:.0%} validation", n_classes=f"{s.n_classes} classes",
                 features="inputs " + ", ".join(SETTINGS["features"].name_of(x) for x in s.features))
    f["hidden"] = _layers(s.hidden)
    f["activation"] = _name("activation", s.activation)
    f["init"] = (f"normal init, std {s.init_std:g}" if s.init == "normal"
                 else _name("init", s.init) + " init")
    f["dropout"] = f"dropout {s.dropout:g}" if s.dropout else "no dropout"
    f["batchnorm"] = "batch norm" if s.batchnorm else "no batch norm"
    f["loss"] = _name("loss", s.loss)
    f["optimizer"] = _optimizer(s)
    f["lr"] = f"lr {s.lr:g}"
    f["schedule"] = {"constant": "constant lr", "cosine": "cosine lr",
                     "step": f"lr ×{s.gamma:g} every {s.step_epochs} epochs"}.get(s.schedule, s.schedule)
    f["batch_size"] = f"batch {s.batch_size}"
    f["epochs"] = f"{s.epochs} epochs"
    f["l2"] = f"L2 {s.l2:g}" if s.l2 else "no L2"
    f["seed"] = f"seed {s.seed}"
    return f


def dataset_name(dataset: str) -> str:
    """A dataset's human name, whole (its parenthesis tells the digit sets apart): "Spirals"."""
    return SETTINGS["dataset"].name_of(dataset)


# ----- what a run gave -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RunResult:
    """What a kept run gave.

    epoch : epochs 1..E that finished; train_loss, val_loss, train_acc, val_acc : (E,) per epoch
    (val NaN without a validation set); progress : epochs trained (fractional) of ``epochs``;
    verdict : nn.verdict's Verdict as a dict, or None; lost : its process ended before it could be
    asked (the curves are the last the page saw)."""

    epoch: tuple[int, ...]
    train_loss: tuple[float, ...]
    val_loss: tuple[float, ...]
    train_acc: tuple[float, ...]
    val_acc: tuple[float, ...]
    progress: float
    epochs: int
    verdict: dict | None
    lost: bool = False

    def last(self, name: str) -> float:
        """The last value of a curve (NaN when empty)."""
        values = getattr(self, name)
        return float(values[-1]) if values else math.nan


def result_from(final: dict, epochs: int) -> RunResult:
    """A RunResult from ``LiveRun.final()`` of a run of ``epochs`` epochs."""
    def curve(key: str) -> tuple:
        return tuple(float(v) for v in final.get(key) or ())

    return RunResult(tuple(int(e) for e in final.get("epoch_x") or ()), curve("train_loss"), curve("val_loss"),
                     curve("train_acc"), curve("val_acc"), float(final.get("progress") or 0.0), epochs,
                     final.get("verdict"), bool(final.get("lost")))


def worth_keeping(final: dict) -> bool:
    """A run is kept when it ended (finished, diverged) or trained at least one whole epoch."""
    return bool(final.get("done") or final.get("diverged") or final.get("epoch_x"))


def keep(history: RunHistory, run) -> tuple[Run | None, bool]:
    """Keep ``run`` (ui/run_client.LiveRun) in ``history`` once, if it is worth keeping (it stops
    the run first: see ``LiveRun.final``). (The kept run or None, whether it was added just now.)"""
    kept = history.find(run.key)
    if kept is not None:
        return kept, False
    final = run.final()
    if not worth_keeping(final):
        return None, False
    # a rate changed while it trained is part of the experiment ("lr 5 → 0.5"); Restore sets the first
    path = run.lr_path
    settings = replace(run.settings, lr=path[0])
    run_facts = {**facts(settings), "lr": "lr " + " → ".join(f"{lr:g}" for lr in path)}
    return history.add(run.key, settings, run_facts, result_from(final, run.settings.epochs),
                       final.get("seconds") or 0.0), True


# ----- the chart and the table ---------------------------------------------------------------------

def run_name(run: Run, label: str = "") -> str:
    """"#3" or "#3 lr 0.1": a run on the chart and in the picker."""
    return f"#{run.number}" + (f" {label}" if label else "")


def picker_names(runs: Sequence[Run]) -> dict[int, str]:
    """Run number -> its name in the picker: its data, network, optimiser and rate, and whatever else
    sets the runs apart ("#2 Two moons, 2 layers of 16, Adam, lr 0.01, 40 epochs"): two runs that
    differ in their epochs alone would otherwise look the same."""
    keys = list(dict.fromkeys(["dataset", "hidden", "optimizer", "lr", *differing(runs)]))
    return {r.number: run_name(r, ", ".join(r.facts[k] for k in keys if r.facts.get(k))) for r in runs}


def _finite(values) -> list:
    return [v if math.isfinite(v) else None for v in values]


def compare_figure(runs: Sequence[Run], names: Mapping[int, str], what: str) -> go.Figure:
    """The ``what`` ("loss" or "accuracy") per epoch of ``runs``: one colour per run, training solid
    and validation dotted; ``names`` : run number -> what sets it apart (ui/run_history.labels).
    A run whose loss exploded leaves the top of the loss chart rather than flattening the others."""
    loss = what == "loss"
    scale, fmt = (1, ".3g") if loss else (100, ".1f")
    data, firsts, highs = [], [], []
    for i, run in enumerate(runs):
        r: RunResult = run.result
        colour = COLOURS[i % len(COLOURS)]
        name = run_name(run, names.get(run.number, ""))
        if r.verdict and r.verdict.get("kind") == "diverged":
            name += " (diverged)"
        train, val = (r.train_loss, r.val_loss) if loss else (r.train_acc, r.val_acc)
        for values, part, dash in ((train, "training", "solid"), (val, "validation", "dot")):
            data.append({"type": "scatter", "mode": "lines+markers" if len(r.epoch) <= 40 else "lines",
                         "x": list(r.epoch), "y": _finite([scale * v for v in values]), "name": name,
                         "legendgroup": str(run.number), "showlegend": part == "training",
                         "line": {"color": colour, "width": 2.5 if part == "training" else 2, "dash": dash},
                         "marker": {"size": 5},
                         "hovertemplate": f"{name}<br>epoch %{{x}}<br>{part} {what} %{{y:{fmt}}}"
                                          + ("" if loss else "%") + "<extra></extra>"})
        finite = [v for v in r.train_loss if math.isfinite(v)]
        if finite:
            firsts.append(finite[0])
            highs.append(max(finite + [v for v in r.val_loss if math.isfinite(v)]))
    if loss:
        y_axis = {"title": {"text": "loss (lower is better)"}, "rangemode": "tozero"}
        if highs:
            y_axis["range"] = [0, 1.05 * min(max(highs), 3 * max(firsts))]
    else:
        y_axis = {"title": {"text": "accuracy, % right"}, "range": [0, 101]}
    layout = {"title": {"text": "Loss (lower is better)" if loss else "Accuracy (higher is better)"},
              "height": 360, "margin": {"l": 55, "r": 10, "t": 70, "b": 70},
              "xaxis": {"title": {"text": "epoch"}, "tick0": 0, "dtick": _epoch_step(runs)}, "yaxis": y_axis,
              "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
              "annotations": [{"text": "solid: training · dotted: validation", "xref": "paper", "yref": "paper",
                               "x": 1, "y": -0.22, "xanchor": "right", "yanchor": "top", "showarrow": False,
                               "font": {"size": 11}}],
              "hovermode": "closest"}
    return go.Figure({"data": data, "layout": layout})


def _epoch_step(runs: Sequence[Run]) -> int:
    """Epochs between ticks: 1, 2, 5, 10, 20, ... for at most about 8 ticks, never "epoch 1.5"."""
    longest = max((len(r.result.epoch) for r in runs), default=1)
    power = 1
    while True:
        for step in (power, 2 * power, 5 * power):
            if longest <= 8 * step:
                return step
        power *= 10


def epochs(progress: float) -> str:
    """Epochs trained: "12" when whole, "12.4" while one is under way."""
    return f"{progress:.0f}" if abs(progress - round(progress)) < 1e-9 else f"{progress:.1f}"


def _percent(v: float) -> str:
    return f"{v:.1%}" if math.isfinite(v) else "–"


def loss_text(v: float) -> str:
    """A loss as every view shows it: four decimals side by side (0.0996 beside 0.1621, not 0.09964),
    tiny ones in scientific notation (0.0001 would hide 6.5e-05), huge ones to four figures."""
    if not math.isfinite(v):
        return "–"
    return f"{v:.1e}" if 0 < v < 1e-3 else f"{v:.4f}" if v < 10 else f"{v:.4g}"


def runs_table(runs: Sequence[Run]) -> list[dict]:
    """One row per run, side by side: its number, each setting that sets it apart (one column each),
    its final accuracies and losses, how many epochs it trained, its verdict and its seconds."""
    names = labels(runs)
    columns = differing(runs) if len(runs) > 1 else []
    rows = []
    for run in runs:
        r: RunResult = run.result
        row = {"run": f"#{run.number}"}
        if not columns:                   # otherwise each differing setting has its own column below
            row["what differs"] = names[run.number] or "–"
        for name in columns:
            row[SETTINGS[name].label] = run.facts.get(name, "–")
        row.update({"train accuracy (last epoch)": _percent(r.last("train_acc")),
                    "validation accuracy": _percent(r.last("val_acc")),
                    "train loss (last epoch)": loss_text(r.last("train_loss")),
                    "validation loss": loss_text(r.last("val_loss")),
                    # trained, beside the setting's own column when epochs differ: named apart
                    "epochs trained": f"{epochs(r.progress)} of {r.epochs}" if r.progress < r.epochs else str(r.epochs),
                    # its kind only ("Learned"): the headline's figure ("97% right") is an average of the
                    # last epochs, and would sit beside this table's last-epoch columns as a contradiction
                    "verdict": (r.verdict or {}).get("headline", "").split(":")[0]
                    or ("its process ended" if r.lost else "–"),
                    "seconds": f"{run.seconds:.1f}"})
        rows.append(row)
    return rows


# ----- the section on the page ---------------------------------------------------------------------

def compare_section(history: RunHistory, shown_key: str, current: Settings,
                    restore: Callable[[int], None], clear: Callable[[], None]) -> None:
    """The "Compare runs" section: pick runs to overlay (``shown_key`` holds the picked numbers;
    default the last two), their loss and accuracy, every run side by side, a button per run that
    restores its settings (``restore(number)``, a callback) and one that forgets them all (``clear``)."""
    ss = st.session_state
    st.subheader("Compare runs")
    st.caption(f"Every run of this session is kept here until you clear them (the last {MAX_RUNS}): a run "
               "joins when it ends, and when you Reset or replace it after at least one epoch.")
    numbers = [r.number for r in history]
    ss[shown_key] = [n for n in ss.get(shown_key, numbers[-2:]) if n in numbers]
    names = picker_names(list(history))
    picked = st.multiselect("Runs on the chart", numbers, key=shown_key, format_func=names.get,
                            help="Overlay any runs of this session; each is labelled by what sets it apart.")
    shown = [history.get(n) for n in picked]
    if shown:
        if len(shown) > 1:
            st.markdown(f"**{versus(shown)}**")
        names = labels(shown)
        for column, what in zip(st.columns(2), ("loss", "accuracy")):      # side by side; stacked on phones
            column.plotly_chart(compare_figure(shown, names, what), key=f"train_compare_{what}",
                                config={"displayModeBar": False})
    # a plain table (not a canvas grid): readable as text, by screen readers too; at most MAX_RUNS rows
    st.table(pd.DataFrame(runs_table(list(history))).set_index("run"))
    with st.container(horizontal=True):
        for r in history:
            same = r.settings == current
            st.button(f"Restore #{r.number}", key=f"train_runs_restore_{r.number}", on_click=restore,
                      args=(r.number,), icon=":material/settings_backup_restore:", disabled=same,
                      help="These are the settings in the sidebar now." if same else
                           f"Put the settings of run #{r.number} back in the sidebar (the current run, if "
                           "any, is closed and kept here), ready to Start.")
        st.button("Clear runs", key="train_clear_runs", on_click=clear, icon=":material/delete:",
                  help="Forget every kept run of this session.")
