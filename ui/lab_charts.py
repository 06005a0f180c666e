"""Figures of the Draw page's model lab: plotly figures built from nn's numbers (UI code only, no streamlit).

    reliability_diagram   confidence bins against accuracy, before and after temperature scaling
    per_class_bars        accuracy of each class
    robustness_figure     accuracy against the amount of one distortion, one line per model, a marker
                          at the amount chosen
    hidden_map_figure     the PCA map of the last hidden layer, one colour per class, the drawing a star

Each builder takes plain arrays and dicts (nn.calibrate's bins, nn.robustness's curves, a HiddenMap's
arrays) and returns a go.Figure, so tests can read the traces back.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ui.draw_charts import ACCENT

BEFORE = "#9a9a9a"
AFTER = "#2e86ab"
SECOND = "#7b6d8d"       # the second model of a robustness comparison
# ten distinguishable classes (plotly's D3 palette)
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white", paper_bgcolor="white",
               font=dict(size=13))
_GRID = dict(gridcolor="#eee", zeroline=False)
# a legend below the plot, placed from the figure's bottom edge: placed from the plot's (y < 0), a
# legend that wraps onto a second or third row in a narrow column grows up over the x-axis title
_LEGEND_BELOW = dict(orientation="h", x=0, y=0, yref="container", yanchor="bottom")
# steps for a percentage axis: the finest that gives at most 6 ticks, so that no two ticks round
# to the same label (99.5% shown as "100%" next to 100%)
_PERCENT_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25)
# a white outline around a label (CSS text-shadow), so that it reads over the star and the dots
LABEL_HALO = "-1px -1px 0 #fff, 1px -1px 0 #fff, -1px 1px 0 #fff, 1px 1px 0 #fff, 0 0 4px #fff"


def _title(text: str) -> dict:
    return dict(text=text, x=0, font=dict(size=14))


def reliability_diagram(bins_before: list[dict], bins_after: list[dict]) -> go.Figure:
    """Bars of accuracy per confidence bin, before (T = 1) and after temperature scaling, and the diagonal.

    bins_before, bins_after : nn.calibrate.reliability_bins output (one dict per bin: lower, upper,
        count, confidence, accuracy; confidence and accuracy None for an empty bin), same edges.
    Each bin holds two bars side by side, each half the bin wide: before on the left, after on the
    right; an empty bin has no bar. Hovering a bar gives its count and mean confidence.
    """
    traces = []
    for name, bins, colour, side in (("before (T = 1)", bins_before, BEFORE, 0),
                                     ("after temperature scaling", bins_after, AFTER, 1)):
        full = [b for b in bins if b["count"]]
        half = [(b["upper"] - b["lower"]) / 2 for b in full]
        traces.append(go.Bar(
            x=[b["lower"] + (side + 0.5) * w for b, w in zip(full, half)], y=[b["accuracy"] for b in full],
            width=half, name=name, marker=dict(color=colour, line=dict(color="white", width=0.5)),
            customdata=[[b["count"], b["confidence"], b["lower"], b["upper"]] for b in full],
            hovertemplate=(f"{name}<br>confidence %{{customdata[2]:.2f}}–%{{customdata[3]:.2f}}: "
                           "%{customdata[0]} answers<br>mean confidence %{customdata[1]:.1%}, "
                           "right %{y:.1%}<extra></extra>")))
    traces.append(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                             line=dict(color="#444", dash="dash", width=1), hoverinfo="skip"))
    return go.Figure(data=traces, layout=dict(
        height=340, title=_title("Reliability: how often it is right, at each confidence"),
        barmode="overlay", legend=_LEGEND_BELOW,
        xaxis=dict(title="confidence (top probability)", range=[0, 1], tickformat=".0%", **_GRID),
        yaxis=dict(title="share right", range=[0, 1.02], tickformat=".0%", **_GRID), **_LAYOUT))


def per_class_bars(per_class: list[dict]) -> go.Figure:
    """One bar per class: its accuracy. per_class : dicts with "name" (or "class"), "n" and "accuracy"."""
    rows = [r for r in per_class if r.get("accuracy") is not None]
    acc = [r["accuracy"] for r in rows]
    low = min(acc) if acc else 0.0
    bottom = max(0.0, np.floor((low - 0.01) * 100) / 100)     # zoom in: the differences are small
    step = next((s for s in _PERCENT_STEPS if (1.004 - bottom) / s <= 6), _PERCENT_STEPS[-1])
    return go.Figure(data=[go.Bar(
        x=[str(r.get("name", r.get("class"))) for r in rows], y=acc, marker=dict(color=AFTER),
        text=[f"{a:.1%}" for a in acc], textposition="outside", cliponaxis=False,
        customdata=[r.get("n") for r in rows],
        hovertemplate="digit %{x}: %{y:.2%} of %{customdata} right<extra></extra>")], layout=dict(
        height=260, title=_title("Accuracy on each digit"), showlegend=False,
        xaxis=dict(type="category"),
        yaxis=dict(range=[bottom, 1.004], tickformat=".0%", tick0=0, dtick=step, **_GRID), **_LAYOUT))


def robustness_figure(amounts: np.ndarray, curves: dict[str, np.ndarray], kind: str, unit: str,
                      marker: tuple[float, float] | None = None) -> go.Figure:
    """Accuracy against the amount of one distortion.

    amounts : (K,) the amounts tried, increasing
    curves : model name -> (K,) accuracies in [0, 1] (nn.robustness.robustness_curve), the chosen
        model first (drawn in the accent colour)
    marker : (amount, accuracy) of the slider's position on the first curve, or None
    """
    traces = []
    for i, (name, acc) in enumerate(curves.items()):
        colour = ACCENT if i == 0 else SECOND
        traces.append(go.Scatter(x=list(map(float, amounts)), y=list(map(float, acc)), mode="lines+markers",
                                 name=name, line=dict(color=colour, width=2.5 if i == 0 else 1.8,
                                                      dash="solid" if i == 0 else "dot"),
                                 hovertemplate=f"{name}<br>{kind} %{{x}} {unit}: %{{y:.1%}} right<extra></extra>"))
    if marker is not None:
        traces.append(go.Scatter(x=[float(marker[0])], y=[float(marker[1])], mode="markers", name="your setting",
                                 marker=dict(symbol="diamond", size=14, color=ACCENT,
                                             line=dict(color="black", width=1.5)),
                                 hovertemplate=f"your setting: {kind} %{{x}} {unit}, about %{{y:.1%}} right"
                                               "<extra></extra>"))
    return go.Figure(data=traces, layout=dict(
        height=330, title=_title(f"Accuracy as the {kind} grows"), legend=_LEGEND_BELOW,
        xaxis=dict(title=f"{kind} ({unit})", **_GRID),
        yaxis=dict(title="share of test digits read right", range=[0, 1.03], tickformat=".0%", **_GRID),
        **_LAYOUT))


def hidden_map_figure(coords: np.ndarray, labels: np.ndarray, centres: np.ndarray, explained: np.ndarray,
                      star: np.ndarray | None = None) -> go.Figure:
    """The last hidden layer's PCA map: one scattergl trace per class, the drawing as a big star, and
    the class centres as labels drawn over it.

    coords : (N, 2) map positions, labels : (N,) int classes, centres : (C, 2) (NaN for an absent class),
    explained : (2,) share of the variance along each axis, star : (2,) the drawing's position or None
    """
    coords, labels = np.asarray(coords), np.asarray(labels)
    traces = []
    for k in range(len(centres)):
        pts = coords[labels == k]
        traces.append(go.Scattergl(x=pts[:, 0], y=pts[:, 1], mode="markers", name=str(k),
                                   marker=dict(size=4, color=CLASS_COLOURS[k % len(CLASS_COLOURS)], opacity=0.45),
                                   hovertemplate=f"a {k}<extra></extra>"))
    if star is not None:
        star = np.asarray(star, float).ravel()
        traces.append(go.Scatter(x=[star[0]], y=[star[1]], mode="markers", name="your drawing",
                                 marker=dict(symbol="star", size=26, color=ACCENT, line=dict(color="black", width=2)),
                                 hovertemplate="your drawing<extra></extra>"))
    # the labels after the star, so drawn over it, each with a white halo: a star landing on a class's
    # centre must not hide which class that is
    present = ~np.isnan(np.asarray(centres, float)).any(axis=1)
    traces.append(go.Scatter(
        x=centres[present, 0], y=centres[present, 1], mode="text", name="class centres", showlegend=False,
        text=[f"<b>{k}</b>" for k in np.flatnonzero(present)],
        textfont=dict(size=22, color="black", shadow=LABEL_HALO),
        hovertemplate="centre of the %{text}s<extra></extra>"))
    ex = np.asarray(explained, float)
    return go.Figure(data=traces, layout=dict(
        # a short title (plotly never wraps one: a long one is cut off on a phone); the axes and the
        # page's caption say the rest. The legend goes below, so that on a phone the map keeps its width.
        height=520, title=_title("Where the network puts each digit"),
        legend=dict(title="digit", itemsizing="constant", **_LEGEND_BELOW),
        xaxis=dict(title=f"1st direction ({ex[0]:.0%} of the variance)", showticklabels=False, **_GRID),
        yaxis=dict(title=f"2nd direction ({ex[1]:.0%} of the variance)", showticklabels=False, **_GRID),
        **_LAYOUT))
