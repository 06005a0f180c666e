"""Plotly figures for the Weight-init page, built from what nn.initexp measured.

UI code, kept out of nn: every figure here only draws precomputed numbers. Histograms are bar
traces of the counts nn.initexp.histograms returned (30 bars per layer), never raw samples.

The grids are laid out by hand (one x/y axis pair per cell, placed by its domain) rather than
with plotly's make_subplots: for 4 x 10 cells that builds in ~50 ms instead of ~500 ms, which
matters on a page that redraws on every slider move.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from nn.initexp import ExperimentResult, Histogram, TrainCurve

ACT_COLOR = "#1f77b4"
GRAD_COLOR = "#e8710a"
ZERO_COLOR = "#9e9e9e"
CURVE_COLORS = {"std 1": "#d62728", "std 0.01": "#7f7f7f", "Xavier": "#1f77b4", "He": "#2ca02c"}
GUESS_LOSS = math.log(10)     # cross-entropy of a uniform guess over 10 digits

KINDS = {"activations": ("activation value a", ACT_COLOR),
         "gradients": ("gradient dL/da arriving at the layer's output", GRAD_COLOR)}
_FONT = dict(size=11)


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.1e}"


def _bars(hist: Histogram, color: str, layer: int, xaxis: str, yaxis: str,
          zero_share: float | None = None) -> list[dict]:
    """One layer's histogram as bars of percentages. With ``zero_share`` (ReLU) the first bin
    is split: its exact zeros (the dead outputs) as a grey bar, the rest stacked on top."""
    shares = hist.shares * 100
    text = [f"layer {layer}<br>[{_fmt(a)}, {_fmt(b)}): {s:.1f}%"
            for a, b, s in zip(hist.edges[:-1], hist.edges[1:], shares)]
    common = dict(type="bar", xaxis=xaxis, yaxis=yaxis, hoverinfo="text", showlegend=False)
    traces = []
    if zero_share is not None:
        zero = min(zero_share * 100, float(shares[0]))
        shares = shares.copy()
        shares[0] -= zero
        text[0] += f"<br>of which exactly 0: {zero:.1f}% (grey)"
        traces.append(dict(x=hist.centers[:1], y=[zero], width=np.diff(hist.edges)[:1],
                           marker=dict(color=ZERO_COLOR, line=dict(width=0)), hovertext=text[:1], **common))
    traces.append(dict(x=hist.centers, y=shares, width=np.diff(hist.edges),
                       marker=dict(color=color, line=dict(width=0)), hovertext=text, **common))
    return traces


def _zero_share(result: ExperimentResult, kind: str, layer: int) -> float | None:
    if kind == "activations" and result.config.activation == "relu":
        return result.stats[layer].dead
    return None


def _cell_title(result: ExperimentResult, kind: str, layer: int, with_layer: bool = True) -> str:
    s = result.stats[layer]
    value = f"std {_fmt(s.std)}" if kind == "activations" else f"‖g‖ {_fmt(s.grad_norm)}"
    return (f"layer {layer + 1}<br>" if with_layer else "") + f"<span style='font-size:10px'>{value}</span>"


def _top_share(hists: list[Histogram]) -> float:
    return max((float(h.shares.max()) * 100 for h in hists if h.counts.sum()), default=1.0) * 1.08


MARGIN = 0.15      # of the value range, left blank at each end of a histogram's x axis


def _ticks(low: float, high: float) -> list[float]:
    """Two or three round values within [low, high] (steps of 1, 2 or 5 times a power of ten): a
    cell can be 60 pixels wide on a phone, and its end labels sit beside its neighbour's."""
    power = 10 ** math.floor(math.log10((high - low) / 3))
    for step in (m * power for m in (1, 2, 5, 10, 20, 50)):
        first = math.ceil(low / step - 1e-9) * step
        ticks = [round(first + i * step, 12) for i in range(4) if first + i * step <= high + 1e-9 * step]
        if len(ticks) <= 3:
            return ticks
    return [low, high]


def _cell_axes(layout: dict, k: int, x_dom: list, y_dom: list, x_range, y_range,
               y_labels: bool, y_title: str | None = None) -> tuple[str, str]:
    """Add axis pair number ``k`` (1-based) for one cell; returns the trace's axis ids."""
    sfx = "" if k == 1 else str(k)
    pad = MARGIN * (x_range[1] - x_range[0])    # keeps one cell's last tick label off the next one's first
    layout[f"xaxis{sfx}"] = dict(domain=x_dom, anchor=f"y{sfx}", range=[x_range[0] - pad, x_range[1] + pad],
                                 tickvals=_ticks(*x_range), tickfont=dict(size=9), zeroline=False)
    layout[f"yaxis{sfx}"] = dict(domain=y_dom, anchor=f"x{sfx}", range=list(y_range), nticks=4,
                                 ticksuffix="%", showticklabels=y_labels, tickfont=dict(size=9),
                                 title=dict(text=y_title, font=_FONT) if y_title else None)
    return f"x{sfx}", f"y{sfx}"


def _domains(n: int, gap: float) -> list[list[float]]:
    width = (1 - gap * (n - 1)) / n
    return [[i * (width + gap), i * (width + gap) + width] for i in range(n)]


def _note(text: str, x: float, y: float, **kw) -> dict:
    return dict(text=text, x=x, y=y, xref="paper", yref="paper", showarrow=False, font=_FONT, **kw)


def layer_histograms(result: ExperimentResult, kind: str = "activations", height: int = 215) -> go.Figure:
    """One histogram per layer in a row, all on the same axes. ``kind`` is "activations"
    (a_i) or "gradients" (dL/da_i)."""
    label, color = KINDS[kind]
    hists = result.act_hists if kind == "activations" else result.grad_hists
    x_range = result.act_range if kind == "activations" else result.grad_range
    y_range = [0, _top_share(hists)]
    cols = _domains(len(hists), 0.02 if len(hists) > 6 else 0.035)
    layout: dict = dict(height=height, bargap=0, barmode="stack", showlegend=False,
                        margin=dict(l=10, r=10, t=40, b=42))
    data, notes = [], []
    for i, (h, x_dom) in enumerate(zip(hists, cols)):
        xa, ya = _cell_axes(layout, i + 1, x_dom, [0, 1], x_range, y_range, y_labels=i == 0,
                            y_title="share of values" if i == 0 else None)
        data += _bars(h, color, i + 1, xa, ya, _zero_share(result, kind, i))
        notes.append(_note(_cell_title(result, kind, i), (x_dom[0] + x_dom[1]) / 2, 1.0, yanchor="bottom",
                           xanchor="center"))     # plotly's "auto" pulls titles left of 1/3 and right of 2/3 inwards
    notes.append(_note(label, 0.5, 0, yanchor="top", yshift=-20))
    layout["annotations"] = notes
    return go.Figure(dict(data=data, layout=layout))


def compare_grid(results: dict[str, ExperimentResult], kind: str = "activations",
                 height_per_row: int = 140) -> go.Figure:
    """One row per initialisation, one column per layer. Each row shares its own axes (an
    exploding row would flatten every other row on a common axis)."""
    label, color = KINDS[kind]
    names = list(results)
    n_layers = len(results[names[0]].act_hists)
    cols = _domains(n_layers, 0.02 if n_layers > 6 else 0.035)
    rows = _domains(len(names), 0.07)[::-1]          # first row on top
    layout: dict = dict(height=height_per_row * len(names) + 70, bargap=0, barmode="stack", showlegend=False,
                        margin=dict(l=10, r=10, t=36, b=40))
    data, notes = [], []
    for r, (name, y_dom) in enumerate(zip(names, rows)):
        res = results[name]
        hists = res.act_hists if kind == "activations" else res.grad_hists
        x_range = res.act_range if kind == "activations" else res.grad_range
        y_range = [0, _top_share(hists)]
        for c, (h, x_dom) in enumerate(zip(hists, cols)):
            xa, ya = _cell_axes(layout, r * n_layers + c + 1, x_dom, y_dom, x_range, y_range,
                                y_labels=c == 0, y_title=f"<b>{name}</b>" if c == 0 else None)
            data += _bars(h, color, c + 1, xa, ya, _zero_share(res, kind, c))
            notes.append(_note(_cell_title(res, kind, c, with_layer=False), (x_dom[0] + x_dom[1]) / 2,
                               y_dom[1], yanchor="bottom", xanchor="center"))
    for c, x_dom in enumerate(cols):
        notes.append(_note(f"layer {c + 1}", (x_dom[0] + x_dom[1]) / 2, 1.0, yanchor="bottom", yshift=14))
    notes.append(_note(f"{label} (each row on its own axes)", 0.5, 0, yanchor="top", yshift=-20))
    layout["annotations"] = notes
    return go.Figure(dict(data=data, layout=layout))


DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")     # one per overlaid run


def loss_curves(runs: list[tuple[str, list[TrainCurve]]], window: int = 20) -> go.Figure:
    """Training loss against epochs: one line per initialisation (its colour) of each run (its dash),
    a trailing mean over ``window`` batches, with the loss of guessing (ln 10) as a dashed line.

    runs : (label, curves) per run; the label says what sets the run apart ("ReLU, 10 layers") and
    is added to each line's name, "" for a run shown alone."""
    top = GUESS_LOSS * 1.3
    data = []
    for i, (run_label, curves) in enumerate(runs):
        dash = DASHES[i % len(DASHES)]
        for curve in curves:
            name = curve.label + (f" · {run_label}" if run_label else "")
            colour = CURVE_COLORS.get(curve.label, "#9467bd")
            y = np.minimum(curve.smoothed(window), 100.0)    # a diverged run reaches 1e20: keep it on the page
            data.append(dict(type="scatter", x=curve.steps, y=y, mode="lines",
                             name=name + (" (diverged)" if curve.diverged else ""),
                             line=dict(color=colour, width=2.5, dash=dash),
                             hovertemplate=f"{name}<br>epoch %{{x:.2f}}<br>loss %{{y:.3f}}<extra></extra>"))
            if curve.diverged and len(curve.steps):
                data.append(dict(type="scatter", x=[curve.steps[-1]], y=[top * (0.93 - 0.06 * i)],
                                 mode="markers+text", marker=dict(symbol="x", size=12, color=colour),
                                 text=[f"{name}: diverged"], textposition="middle right", showlegend=False,
                                 hovertemplate=f"{name}: the loss overflowed here<extra></extra>"))
    lines = sum(len(curves) for _, curves in runs)
    legend_rows = max(1, -(-lines // (4 if len(runs) > 1 else 5)))
    layout = dict(height=310 + 22 * legend_rows, margin=dict(l=10, r=10, t=20 + 22 * legend_rows, b=40),
                  xaxis=dict(title=dict(text="epoch")),
                  yaxis=dict(title=dict(text="training loss (cross-entropy)"), range=[0, top]),
                  legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0),
                  shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=GUESS_LOSS, y1=GUESS_LOSS,
                               line=dict(dash="dash", color="#555", width=1))],
                  annotations=[dict(text="guessing (ln 10)", xref="paper", x=1, y=GUESS_LOSS,
                                    xanchor="right", yanchor="bottom", showarrow=False, font=_FONT)])
    return go.Figure(dict(data=data, layout=layout))
