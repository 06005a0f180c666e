"""Plotly figures for the Train page, built from plain arrays (UI code, kept out of nn).

Each builder is a pure function of its arguments and returns a ``go.Figure``, validated once
here: ``st.plotly_chart`` re-validates a dict on every call (~5 ms a figure, ~30 ms on a busy
machine), which adds up when the page redraws a figure several times a second.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#ff7f0e"
CONFIG = {"displayModeBar": False}          # pass to st.plotly_chart(config=...)


def _layout(title: str, height: int = 300, **extra) -> dict:
    layout = {"title": {"text": title, "font": {"size": 15}}, "height": height,
              "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
              "legend": {"orientation": "h", "y": -0.22, "x": 0},
              "uirevision": "keep",          # keep the learner's zoom across live redraws
              "hovermode": "x unified"}
    layout.update(extra)
    return layout


def _title(text: str, x: float, y: float, size: int) -> dict:
    """A caption centred at (x, y) in figure coordinates (plotly would left/right-align it near the edges)."""
    return {"text": text, "x": x, "y": y, "xref": "paper", "yref": "paper", "xanchor": "center",
            "yanchor": "bottom", "showarrow": False, "font": {"size": size}}


def _finite(values) -> list:
    """Plotly's JSON has no NaN: use None (a gap in the line) instead."""
    return [v if v is not None and math.isfinite(v) else None for v in map(float, values)]


# ----- curves ---------------------------------------------------------------------------------

def curves_figure(snap: dict) -> go.Figure:
    """Loss (left) and accuracy (right) against epochs: per batch (smoothed) and per epoch, for
    training and validation. One figure with two panels: the browser redraws it several times a
    second, and one plot costs it about half as much as two."""
    x_batch = np.round(snap["batch_x"], 4)
    x_epoch = snap["epoch_x"]
    markers = "lines+markers" if len(x_epoch) <= 60 else "lines"
    data = []
    for panel, (batch, train, val) in enumerate(((snap["batch_loss"], snap["train_loss"], snap["val_loss"]),
                                                 (100 * np.asarray(snap["batch_acc"]),
                                                  [100 * v for v in snap["train_acc"]],
                                                  [100 * v for v in snap["val_acc"]]))):
        axes = {"xaxis": "x" if panel == 0 else "x2", "yaxis": "y" if panel == 0 else "y2",
                "legendgroup": None, "showlegend": panel == 0}
        data += [
            {"type": "scatter", "mode": "lines", "name": "train, per batch (smoothed)", "x": x_batch,
             "y": np.round(batch, 5), "line": {"color": TRAIN_COLOUR, "width": 1}, "opacity": 0.45, **axes},
            {"type": "scatter", "mode": markers, "name": "train, per epoch", "x": x_epoch, "y": _finite(train),
             "line": {"color": TRAIN_COLOUR, "width": 2}, "marker": {"size": 4}, **axes},
            {"type": "scatter", "mode": markers, "name": "validation, per epoch", "x": x_epoch,
             "y": _finite(val), "line": {"color": VAL_COLOUR, "width": 2}, "marker": {"size": 4}, **axes},
        ]
    for trace in data:
        trace["legendgroup"] = trace["name"]
    layout = _layout("", height=330,
                     xaxis={"domain": [0, 0.46], "title": {"text": "epoch"}, "anchor": "y"},
                     yaxis={"title": {"text": "loss (cross-entropy)"}, "rangemode": "tozero", "anchor": "x"},
                     xaxis2={"domain": [0.56, 1], "title": {"text": "epoch"}, "anchor": "y2"},
                     yaxis2={"title": {"text": "accuracy (% correct)"}, "range": [0, 101], "anchor": "x2"},
                     annotations=[_title("<b>Loss</b> (lower is better)", 0.23, 1.03, 14),
                                  _title("<b>Accuracy</b> (higher is better)", 0.78, 1.03, 14)])
    layout["margin"]["t"] = 40
    layout["legend"]["y"] = -0.25
    return go.Figure({"data": data, "layout": layout})


def gradient_figure(snap: dict) -> go.Figure:
    """The size (L2 norm) of each Dense layer's weight gradient over training, on a log scale."""
    data = []
    names = list(snap["grad_norms"])
    for i, name in enumerate(names):
        colour = _ramp(i, len(names))
        data.append({"type": "scatter", "mode": "lines", "name": name, "x": np.round(snap["batch_x"], 4),
                     "y": np.maximum(snap["grad_norms"][name], 1e-12), "line": {"color": colour, "width": 1.5}})
    layout = _layout("Gradient size per layer, ‖dL/dW‖ (smoothed)", height=320,
                     xaxis={"title": {"text": "epoch"}},
                     yaxis={"title": {"text": "norm (log scale)"}, "type": "log", "exponentformat": "power"})
    return go.Figure({"data": data, "layout": layout})


def _ramp(i: int, n: int) -> str:
    """Layer colours from the input side (dark blue) to the output side (light green)."""
    stops = np.array([[8, 48, 107], [33, 113, 181], [65, 171, 93], [161, 217, 155]], float)
    t = 0.0 if n <= 1 else i / (n - 1)
    pos = t * (len(stops) - 1)
    lo = min(int(pos), len(stops) - 2)
    rgb = stops[lo] + (pos - lo) * (stops[lo + 1] - stops[lo])
    return "rgb({:.0f},{:.0f},{:.0f})".format(*rgb)


# ----- 2-D data -------------------------------------------------------------------------------

def _mix(hex_colour: str, white: float) -> str:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], float)
    rgb = white * 255 + (1 - white) * rgb
    return "rgb({:.0f},{:.0f},{:.0f})".format(*rgb)


def _class_bands(n_classes: int) -> list:
    """A colour scale of one band per class, pale (unsure) to strong (sure)."""
    scale = []
    for k in range(n_classes):
        scale.append([k / n_classes, _mix(CLASS_COLOURS[k], 0.92)])
        scale.append([(k + 1) / n_classes - (1e-6 if k < n_classes - 1 else 0), _mix(CLASS_COLOURS[k], 0.6)])
    return scale


def boundary_figure(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                    bounds, grid: tuple | None = None, n_classes: int = 2) -> go.Figure:
    """The data as points, over the network's decision regions when ``grid`` is given.

    grid : (xs (R,), ys (R,), proba (R, R, C)) from nn.metrics.decision_grid. Each cell is coloured
        by the predicted class, paler where the network is unsure (probability near 1/C).
    """
    data = []
    if grid is not None:
        xs, ys, proba = grid
        pred = proba.argmax(axis=2)
        sure = (proba.max(axis=2) - 1 / n_classes) / (1 - 1 / n_classes)
        z = pred + np.clip(np.nan_to_num(sure), 0, 0.999)
        data.append({"type": "heatmap", "x": np.round(xs, 4), "y": np.round(ys, 4),
                     "z": np.round(z, 3).astype(np.float32),
                     "zmin": 0, "zmax": n_classes, "colorscale": _class_bands(n_classes),
                     "showscale": False, "hoverinfo": "skip"})
    # one colour per class through a stepped colour scale: a list of 2,000 colour strings would
    # cost plotly's validation ~10 ms on every redraw
    steps = [[k / n_classes + e, CLASS_COLOURS[k]] for k in range(n_classes) for e in (0, 1 / n_classes)]
    for name, x, y, symbol in (("train", x_train, y_train, "circle"), ("validation", x_val, y_val, "x")):
        data.append({"type": "scatter", "mode": "markers", "name": name,
                     "x": np.round(x[:, 0], 4), "y": np.round(x[:, 1], 4), "hoverinfo": "skip",
                     "marker": {"color": y + 0.5, "cmin": 0, "cmax": n_classes, "colorscale": steps,
                                "size": 6 if symbol == "circle" else 7, "symbol": symbol,
                                "line": {"color": "white", "width": 0.8 if symbol == "circle" else 0}}})
    (x0, x1), (y0, y1) = bounds
    layout = _layout("Decision regions: what the network says at each point" if grid is not None
                     else "The data (● training, ✕ validation)", height=420,
                     xaxis={"range": [x0, x1], "constrain": "domain", "showgrid": False, "zeroline": False},
                     yaxis={"range": [y0, y1], "scaleanchor": "x", "showgrid": False, "zeroline": False},
                     hovermode=False)
    layout["legend"] = {"orientation": "h", "y": -0.08, "x": 0}
    return go.Figure({"data": data, "layout": layout})


# ----- digits ---------------------------------------------------------------------------------

def confusion_figure(cm: np.ndarray, class_names) -> go.Figure:
    """Counts of (true class, predicted class); colour is the share of the true class's row."""
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = [str(c) for c in class_names]
    data = [{"type": "heatmap", "z": np.round(share, 4), "x": names, "y": names, "text": cm,
             "texttemplate": "%{text}", "textfont": {"size": 10}, "colorscale": "Blues", "zmin": 0, "zmax": 1,
             "showscale": False,
             "hovertemplate": "true %{y}, predicted %{x}: %{text}<extra></extra>"}]
    layout = _layout("Confusion matrix (validation set)", height=420, hovermode="closest",
                     xaxis={"title": {"text": "predicted"}, "type": "category", "tickangle": 0},
                     yaxis={"title": {"text": "true"}, "autorange": "reversed", "type": "category"})
    layout["margin"] = {"l": 80, "r": 10, "t": 40, "b": 50}
    return go.Figure({"data": data, "layout": layout})


def _tile(images: np.ndarray, cols: int, side: int = 28, gap: int = 2) -> np.ndarray:
    """(K, side*side) -> one (rows*(side+gap), cols*(side+gap)) image with NaN gaps between tiles."""
    k = len(images)
    rows = max(1, math.ceil(k / cols))
    out = np.full((rows * (side + gap) - gap, cols * (side + gap) - gap), np.nan, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (side + gap):r * (side + gap) + side, c * (side + gap):c * (side + gap) + side] = \
            np.asarray(img, np.float32).reshape(side, side)
    return out


def _image_layout(title: str, shape, cols: int, rows: int, height_per_row: int) -> dict:
    layout = _layout(title, height=60 + rows * height_per_row, hovermode=False,
                     xaxis={"visible": False, "range": [-0.5, shape[1] - 0.5], "constrain": "domain"},
                     yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x"})
    layout["margin"] = {"l": 5, "r": 5, "t": 40, "b": 5}
    return layout


def gallery_figure(images: np.ndarray, captions: list[str], title: str, cols: int = 8) -> go.Figure:
    """Grey digits (ink dark on white) in a grid, each with a caption above it."""
    if len(images) == 0:
        return go.Figure({"data": [], "layout": _layout(title + ": none", height=120)})
    tiled = _tile(images, cols, gap=9)
    rows = math.ceil(len(images) / cols)
    annotations = []
    for i, text in enumerate(captions):
        r, c = divmod(i, cols)
        annotations.append({"x": c * 37 + 13.5, "y": r * 37 - 1, "text": text, "showarrow": False,
                            "xref": "x", "yref": "y", "yanchor": "bottom", "font": {"size": 10}})
    layout = _image_layout(title, tiled.shape, cols, rows, 95)
    layout["annotations"] = annotations
    layout["yaxis"]["range"] = [tiled.shape[0], -9]
    layout["yaxis"].pop("autorange")
    data = [{"type": "heatmap", "z": np.round(tiled, 3), "colorscale": "Greys", "zmin": 0, "zmax": 1,
             "showscale": False, "hoverinfo": "skip"}]
    return go.Figure({"data": data, "layout": layout})


def neurons_figure(weights: np.ndarray, title: str, cols: int = 8) -> go.Figure:
    """First-layer weights into each hidden unit as 28x28 pictures, red + / blue -.

    weights : (K, 784), one row per hidden unit. Each picture is scaled to its own largest |w|,
    so weak and strong units are equally visible.
    """
    scale = np.maximum(np.abs(weights).max(axis=1, keepdims=True), 1e-12)
    tiled = _tile(weights / scale, cols)
    rows = math.ceil(len(weights) / cols)
    data = [{"type": "heatmap", "z": np.round(tiled, 3), "colorscale": "RdBu", "reversescale": True,
             "zmin": -1, "zmax": 1, "showscale": False, "hoverinfo": "skip"}]
    return go.Figure({"data": data, "layout": _image_layout(title, tiled.shape, cols, rows, 80)})


# ----- inside the network ---------------------------------------------------------------------

def histograms_figure(weight_hists: list, act_hists: list, layer_names: list[str],
                      health: list[tuple[str, float]]) -> go.Figure:
    """Small multiples: top row the weights of each Dense layer, bottom row each hidden layer's
    outputs on a fixed batch of validation samples. Histograms come precomputed (counts, edges)."""
    cols = max(len(weight_hists), 1)
    data, layout = [], _layout("Weights of each layer (top) and what each hidden layer outputs (bottom)",
                               height=440, hovermode="closest", showlegend=False, bargap=0.05)
    annotations = []
    gap = 0.04
    width = (1 - gap * (cols - 1)) / cols
    for row, (hists, colour) in enumerate(((weight_hists, TRAIN_COLOUR), (act_hists, "#2ca02c"))):
        for c, (counts, edges) in enumerate(hists):
            n = row * cols + c + 1
            ax = "" if n == 1 else str(n)
            centres = (edges[:-1] + edges[1:]) / 2
            data.append({"type": "bar", "x": np.round(centres, 5), "y": counts,
                         "width": float(edges[1] - edges[0]),
                         "marker": {"color": colour}, "xaxis": f"x{ax}", "yaxis": f"y{ax}",
                         "hovertemplate": "%{x:.3g}: %{y}<extra></extra>"})
            x0 = c * (width + gap)
            layout[f"xaxis{ax}"] = {"domain": [x0, x0 + width], "anchor": f"y{ax}", "tickfont": {"size": 9},
                                    "nticks": 4}
            layout[f"yaxis{ax}"] = {"domain": [0.58, 0.92] if row == 0 else [0.0, 0.34], "anchor": f"x{ax}",
                                    "showticklabels": False}
            if row == 0:
                text = f"<b>{layer_names[c]}</b>" if c < len(layer_names) else "weights"
                y = 0.99
            else:
                kind, share = health[c] if c < len(health) else ("", 0.0)
                text = f"<b>hidden {c + 1}</b>" + (f" · {share:.0%} {kind}" if kind else "")
                y = 0.42
            annotations.append(_title(text, x0 + width / 2, y, 11))
    layout["annotations"] = annotations
    return go.Figure({"data": data, "layout": layout})


def gradcheck_figure(results: list[tuple[str, float]]) -> go.Figure:
    """Relative error per parameter array, on a log axis with the usual verdict bands."""
    names = [name for name, _ in results]
    errors = [max(err, 1e-16) for _, err in results]
    colours = [verdict(e)[1] for e in errors]
    data = [{"type": "bar", "orientation": "h", "y": names, "x": errors, "marker": {"color": colours},
             "text": [f"{e:.1e}" for e in errors], "textposition": "outside",
             "hovertemplate": "%{y}: %{x:.2e}<extra></extra>"}]
    shapes = [{"type": "line", "x0": t, "x1": t, "y0": -0.5, "y1": len(names) - 0.5, "xref": "x", "yref": "y",
               "line": {"dash": "dot", "color": c, "width": 1}}
              for t, c in ((1e-5, "#2ca02c"), (1e-3, "#d62728"))]
    layout = _layout("Backprop vs numerical gradient: relative error", height=80 + 28 * len(names),
                     hovermode="closest", showlegend=False, shapes=shapes,
                     xaxis={"type": "log", "range": [-16, 1], "exponentformat": "power",
                            "title": {"text": "relative error (log scale)"}},
                     yaxis={"autorange": "reversed"})
    layout["margin"] = {"l": 120, "r": 30, "t": 40, "b": 40}
    return go.Figure({"data": data, "layout": layout})


def verdict(error: float) -> tuple[str, str]:
    """(what a relative error means, colour)."""
    if error < 1e-5:
        return "agrees", "#2ca02c"
    if error < 1e-3:
        return "close enough (usually a ReLU kink)", "#ff7f0e"
    return "disagrees: backprop has a bug", "#d62728"
