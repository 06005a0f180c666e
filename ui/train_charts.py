"""Plotly figures for the Train page, built from plain arrays (UI code, kept out of nn).

Each builder is a pure function of its arguments and returns the figure as plotly's own dict
(``{"data": [...], "layout": {...}}``, numpy arrays allowed), never a ``go.Figure``: the live views
send it to the browser as JSON as it is (ui/live_chart.py), while building a ``go.Figure``
validates every property (measured for the live figure: 17 ms built and validated, 1.5 ms to
JSON, per redraw, five redraws a second per training learner, all on the server's one thread).
``st.plotly_chart`` takes the dict too. The tests validate every builder's dict with go.Figure.

The live figures are built to be cheap for the browser, because they are redrawn five times a
second while the trainer wants the same processor (measured in Debian's Chromium, 2 cores,
software rendering, per redraw): every plotly figure costs ~45 ms and every extra pair of axes
~18 ms, so the curves and the main picture share one figure; axes have fixed margins
(``automargin`` makes plotly draw twice); and pictures are pixels rendered here with NumPy and
Pillow and shown as one PNG each (``layout.images``), not as heatmaps or hundreds of SVG
markers, which cost 50-150 ms a redraw.
"""
from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image, ImageDraw
from plotly.colors import sequential

from nn.gradcheck import AGREE, BUG, agreement

CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#ff7f0e"
CONFIG = {"displayModeBar": False}          # pass to st.plotly_chart(config=...)


# Streamlit's look, written out: the live figures are drawn by plotly.js directly
# (pages/live_chart.py), without the theme st.plotly_chart applies
_AXIS = {"gridcolor": "#e6eaf1", "linecolor": "#d5dae5", "zerolinecolor": "#d5dae5", "tickcolor": "#d5dae5",
         "title": {"font": {"size": 13}}}
TEMPLATE = {"layout": {"font": {"family": '"Source Sans", "Source Sans Pro", sans-serif', "size": 12,
                                "color": "#31333F"},
                       "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                       "xaxis": _AXIS, "yaxis": _AXIS, "colorway": list(CLASS_COLOURS),
                       "hoverlabel": {"font": {"family": '"Source Sans", "Source Sans Pro", sans-serif'}}}}


def _layout(title: str, height: int = 300, **extra) -> dict:
    layout = {"title": {"text": title, "font": {"size": 15}}, "height": height, "template": TEMPLATE,
              "margin": {"l": 50, "r": 10, "t": 40, "b": 40, "autoexpand": False},
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


# ----- pixels ---------------------------------------------------------------------------------

def png_uri(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 image as a PNG data URI (fast compression: it is redrawn 5 times a second)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], np.float32)


CLASS_RGB = np.stack([_rgb(c) for c in CLASS_COLOURS])
WHITE = np.full(3, 255.0, np.float32)


def _picture(uri: str, x_range, y_range, ax: str = "") -> dict:
    """A layout image filling the box x_range x y_range of axes x{ax}/y{ax} (its top row at the top)."""
    (x0, x1), (y0, y1) = x_range, y_range
    return {"source": uri, "xref": f"x{ax}", "yref": f"y{ax}", "x": x0, "y": max(y0, y1),
            "sizex": x1 - x0, "sizey": abs(y1 - y0), "xanchor": "left", "yanchor": "top",
            "sizing": "stretch", "layer": "below"}


def _placeholder(ax: str = "") -> dict:
    """An empty trace: plotly draws a pair of axes only when some trace uses it."""
    return {"type": "scatter", "x": [], "y": [], "xaxis": f"x{ax}", "yaxis": f"y{ax}", "showlegend": False,
            "hoverinfo": "skip"}


def _swatch(colour: str, text: str, symbol: str = "━━") -> str:
    return f'<span style="color:{colour}">{symbol}</span> {text}'


# ----- curves ---------------------------------------------------------------------------------

LIVE_HEIGHT = 430
LIVE_DOMAINS = ((0.0, 0.27), (0.35, 0.62), (0.68, 1.0))      # loss, accuracy, picture
CURVES_LEGEND = "   ".join([_swatch(TRAIN_COLOUR, "train, per epoch"), _swatch(VAL_COLOUR, "validation, per epoch"),
                            _swatch("rgba(31,119,180,0.45)", "train, per batch (smoothed)")])


def _curves(snap: dict) -> tuple[list, dict]:
    """Traces and layout of the loss (axes x/y) and accuracy (x2/y2) panels."""
    x_batch = np.round(snap["batch_x"], 4)
    x_epoch = snap["epoch_x"]
    markers = "lines+markers" if len(x_epoch) <= 40 else "lines"
    data = []
    for panel, (batch, train, val) in enumerate(((snap["batch_loss"], snap["train_loss"], snap["val_loss"]),
                                                 (100 * np.asarray(snap["batch_acc"]),
                                                  [100 * v for v in snap["train_acc"]],
                                                  [100 * v for v in snap["val_acc"]]))):
        axes = {"xaxis": "x" if panel == 0 else "x2", "yaxis": "y" if panel == 0 else "y2", "showlegend": False}
        data += [
            {"type": "scatter", "mode": "lines", "name": "train, per batch (smoothed)", "x": x_batch,
             "y": np.round(batch, 5), "line": {"color": TRAIN_COLOUR, "width": 1}, "opacity": 0.45, **axes},
            {"type": "scatter", "mode": markers, "name": "train, per epoch", "x": x_epoch, "y": _finite(train),
             "line": {"color": TRAIN_COLOUR, "width": 2}, "marker": {"size": 4}, **axes},
            {"type": "scatter", "mode": markers, "name": "validation, per epoch", "x": x_epoch,
             "y": _finite(val), "line": {"color": VAL_COLOUR, "width": 2}, "marker": {"size": 4}, **axes},
        ]
    fixed = {"automargin": False}
    (a0, a1), (b0, b1) = LIVE_DOMAINS[:2]
    layout = {
        "xaxis": {"domain": [a0, a1], "title": {"text": "epoch", "standoff": 4}, "anchor": "y", **fixed},
        "yaxis": {"title": {"text": "loss (cross-entropy)", "standoff": 2}, "rangemode": "tozero", "anchor": "x",
                  **fixed},
        "xaxis2": {"domain": [b0, b1], "title": {"text": "epoch", "standoff": 4}, "anchor": "y2", **fixed},
        "yaxis2": {"title": {"text": "accuracy (% correct)", "standoff": 2}, "range": [0, 101], "anchor": "x2",
                   **fixed},
        "annotations": [_title("<b>Loss</b> (lower is better)", (a0 + a1) / 2, 1.02, 14),
                        _title("<b>Accuracy</b> (higher is better)", (b0 + b1) / 2, 1.02, 14),
                        {**_title(CURVES_LEGEND, (a0 + b1) / 2, -0.16, 11), "yanchor": "top"}]}
    return data, layout


def live_figure(snap: dict, picture: dict) -> dict:
    """The view that moves while training, as one figure (one plotly redraw instead of two):
    loss | accuracy | a picture of the network, ``picture`` from boundary_panel or confusion_panel."""
    data, panels = _curves(snap)
    data += picture["data"]
    panels["annotations"] += picture["annotations"]
    layout = _layout("", height=LIVE_HEIGHT, hovermode="x unified", **panels,
                     xaxis3=picture["xaxis"], yaxis3=picture["yaxis"], images=picture["images"])
    layout["margin"] = {"l": 60, "r": 10, "t": 30, "b": 80, "autoexpand": False}
    return {"data": data, "layout": layout}


def gradient_figure(snap: dict) -> dict:
    """The size (L2 norm) of each Dense layer's weight gradient over training, on a log scale."""
    data = []
    names = list(snap["grad_norms"])
    for i, name in enumerate(names):
        colour = _ramp(i, len(names))
        data.append({"type": "scatter", "mode": "lines", "name": name, "x": np.round(snap["batch_x"], 4),
                     "y": np.maximum(snap["grad_norms"][name], 1e-12), "line": {"color": colour, "width": 1.5}})
    layout = _layout("Gradient size per layer, ‖dL/dW‖ (smoothed)", height=340, hovermode="x unified",
                     xaxis={"title": {"text": "epoch", "standoff": 4}, "automargin": False},
                     yaxis={"title": {"text": "norm (log scale)", "standoff": 2}, "type": "log",
                            "exponentformat": "power", "automargin": False})
    layout["margin"] = {"l": 70, "r": 10, "t": 40, "b": 80, "autoexpand": False}
    layout["legend"] = {"orientation": "h", "y": -0.2, "x": 0, "yanchor": "top"}
    return {"data": data, "layout": layout}


def _ramp(i: int, n: int) -> str:
    """Layer colours from the input side (dark blue) to the output side (light green)."""
    stops = np.array([[8, 48, 107], [33, 113, 181], [65, 171, 93], [161, 217, 155]], float)
    t = 0.0 if n <= 1 else i / (n - 1)
    pos = t * (len(stops) - 1)
    lo = min(int(pos), len(stops) - 2)
    rgb = stops[lo] + (pos - lo) * (stops[lo + 1] - stops[lo])
    return "rgb({:.0f},{:.0f},{:.0f})".format(*rgb)


# ----- 2-D data -------------------------------------------------------------------------------

BOUNDARY_PIXELS = 400


def points_layer(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, bounds,
                 size: int = BOUNDARY_PIXELS) -> tuple[np.ndarray, np.ndarray]:
    """The data points as pixels, to lay over the decision regions: (colour premultiplied by
    alpha (size, size, 3) float32 in 0..255, alpha (size, size, 1) in 0..1). Training points are
    dots with a white rim, validation points crosses. Drawn at 3x and averaged down (anti-aliased).
    Depends only on the data: compute it once per dataset."""
    k = 3
    img = Image.new("RGBA", (size * k, size * k), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    (x0, x1), (y0, y1) = bounds

    def pixels(points):
        return ((points[:, 0] - x0) / (x1 - x0) * size * k, (y1 - points[:, 1]) / (y1 - y0) * size * k)

    r = 4.2 * k
    for cx, cy, c in zip(*pixels(x_train), y_train):
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=CLASS_COLOURS[c], outline="white", width=k)
    r = 4.2 * k
    for cx, cy, c in zip(*pixels(x_val), y_val):
        for a, b in (((cx - r, cy - r), (cx + r, cy + r)), ((cx - r, cy + r), (cx + r, cy - r))):
            draw.line([a, b], fill="white", width=4 * k)
    for cx, cy, c in zip(*pixels(x_val), y_val):
        for a, b in (((cx - r, cy - r), (cx + r, cy + r)), ((cx - r, cy + r), (cx + r, cy - r))):
            draw.line([a, b], fill=CLASS_COLOURS[c], width=2 * k)
    rgba = np.asarray(img, np.float32).reshape(size, k, size, k, 4)
    alpha = rgba[..., 3:] / 255
    premultiplied = (rgba[..., :3] * alpha).mean(axis=(1, 3))
    return premultiplied, alpha.mean(axis=(1, 3))


def boundary_image(proba: np.ndarray | None, n_classes: int, layer: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(S, S, 3) uint8: each point of the plane coloured by the class the network predicts there,
    pale where it is unsure (probability near 1/C), with the data points on top.

    proba : (R, R, C) from nn.metrics.decision_grid (row i = i-th y from the bottom), or None for
        the data alone on white. layer : points_layer(...) for the same box.
    """
    premultiplied, alpha = layer
    size = premultiplied.shape[0]
    if proba is None:
        region = np.full((size, size, 3), 255.0, np.float32)
    else:
        proba = np.nan_to_num(np.asarray(proba, np.float32))
        pred = proba.argmax(axis=2)
        sure = np.clip((proba.max(axis=2) - 1 / n_classes) / (1 - 1 / n_classes), 0, 1)[..., None]
        white = 0.92 - 0.32 * sure
        cells = white * WHITE + (1 - white) * CLASS_RGB[pred]
        cells = np.ascontiguousarray(cells[::-1]).round().astype(np.uint8)   # image rows run top-down
        region = np.asarray(Image.fromarray(cells).resize((size, size), Image.BILINEAR), np.float32)
    return (region * (1 - alpha) + premultiplied).round().astype(np.uint8)


def boundary_panel(image: np.ndarray, bounds, title: str, ax: str = "3", domain=LIVE_DOMAINS[2]) -> dict:
    """A picture panel for live_figure: the plane with decision regions and data (boundary_image)."""
    (x0, x1), (y0, y1) = bounds
    return {"data": [_placeholder(ax)], "images": [_picture(png_uri(image), (x0, x1), (y0, y1), ax)],
            "xaxis": {"domain": list(domain), "anchor": f"y{ax}", "range": [x0, x1], "constrain": "domain",
                      "showgrid": False, "zeroline": False, "automargin": False, "ticks": "outside"},
            # both axes give up room, not range, to keep the plane square: with the y axis free to widen
            # its range, a panel taller than wide showed white bands above and below the picture
            "yaxis": {"anchor": f"x{ax}", "range": [y0, y1], "scaleanchor": f"x{ax}", "constrain": "domain",
                      "constraintoward": "top",
                      "showgrid": False, "zeroline": False, "automargin": False, "ticks": "outside"},
            "annotations": [_title(f"<b>{title}</b>", sum(domain) / 2, 1.02, 14),
                            {**_title("● training   ✕ validation", sum(domain) / 2, -0.16, 11),
                             "yanchor": "top"}]}


def boundary_figure(image: np.ndarray, bounds, title: str) -> dict:
    """The boundary picture on its own (the data before training)."""
    panel = boundary_panel(image, bounds, title, ax="", domain=(0.0, 1.0))
    layout = _layout("", height=LIVE_HEIGHT, hovermode=False, xaxis=panel["xaxis"], yaxis=panel["yaxis"],
                     images=panel["images"], annotations=panel["annotations"])
    layout["margin"] = {"l": 40, "r": 10, "t": 30, "b": 80, "autoexpand": False}
    return {"data": panel["data"], "layout": layout}


# ----- digits ---------------------------------------------------------------------------------

# Colour scales are spelt out: these dicts go to plotly.js as they are, and plotly.js's "Blues" runs from
# dark to light, the opposite of plotly.py's (which go.Figure would have put in their place)
BLUES = [[i / (len(sequential.Blues) - 1), c] for i, c in enumerate(sequential.Blues)]     # white -> dark blue


def confusion_panel(cm: np.ndarray, class_names, ax: str = "3", domain=LIVE_DOMAINS[2]) -> dict:
    """Counts of (true class, predicted class); colour is the share of the true class's row."""
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = [str(c) for c in class_names]
    data = [{"type": "heatmap", "z": np.round(share, 3), "x": names, "y": names, "text": cm,
             "texttemplate": "%{text}", "textfont": {"size": 10}, "colorscale": BLUES, "zmin": 0, "zmax": 1,
             "showscale": False, "xaxis": f"x{ax}", "yaxis": f"y{ax}", "xgap": 1, "ygap": 1,
             "hovertemplate": "true %{y}, predicted %{x}: %{text}<extra></extra>"}]
    return {"data": data, "images": [],
            "xaxis": {"domain": list(domain), "anchor": f"y{ax}", "type": "category", "tickangle": 0,
                      "title": {"text": "predicted", "standoff": 4}, "automargin": False, "constrain": "domain"},
            "yaxis": {"anchor": f"x{ax}", "type": "category", "autorange": "reversed", "scaleanchor": f"x{ax}",
                      "title": {"text": "true", "standoff": 2}, "automargin": False},
            "annotations": [_title("<b>Confusion matrix</b> (validation set)", sum(domain) / 2, 1.02, 14)]}


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


def _upscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel as a factor x factor block: digits stay crisp however the browser scales them."""
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def _image_figure(rgb: np.ndarray, title: str, height: int, annotations=()) -> dict:
    """A picture in pixel coordinates, no axes. Annotations give y as pixel rows from the top."""
    h, w = rgb.shape[:2]
    annotations = [{**a, "y": h - a["y"]} for a in annotations]       # the y axis runs upwards
    layout = _layout(title, height=height, hovermode=False,
                     xaxis={"visible": False, "range": [0, w], "constrain": "domain", "automargin": False},
                     yaxis={"visible": False, "range": [0, h], "scaleanchor": "x", "automargin": False},
                     images=[_picture(png_uri(rgb), (0, w), (0, h))], annotations=annotations)
    layout["margin"] = {"l": 5, "r": 5, "t": 40, "b": 5, "autoexpand": False}
    return {"data": [_placeholder()], "layout": layout}


def gallery_figure(images: np.ndarray, captions: list[str], title: str, cols: int = 8) -> dict:
    """Grey digits (ink dark on white) in a grid, each with a caption above it."""
    if len(images) == 0:
        return {"data": [], "layout": _layout(title + ": none", height=120)}
    gap, scale = 9, 4
    tiled = _tile(images, cols, gap=gap)
    grey = np.nan_to_num(255 * (1 - np.clip(tiled, 0, 1)), nan=255.0)
    rgb = _upscale(np.repeat(grey[..., None], 3, axis=2).round().astype(np.uint8), scale)
    pad = np.full((gap * scale, rgb.shape[1], 3), 255, np.uint8)       # room for the first row's captions
    rgb = np.concatenate([pad, rgb])
    rows = math.ceil(len(images) / cols)
    step = (28 + gap) * scale
    annotations = [{"x": c * step + 14 * scale, "y": r * step + gap * scale - 2, "text": text, "showarrow": False,
                    "xref": "x", "yref": "y", "yanchor": "bottom", "font": {"size": 10}}
                   for i, text in enumerate(captions) for r, c in [divmod(i, cols)]]
    return _image_figure(rgb, title, 60 + rows * 95, annotations)


def neurons_figure(weights: np.ndarray, title: str, cols: int = 8) -> dict:
    """First-layer weights into each hidden unit as 28x28 pictures, red + / blue -.

    weights : (K, 784), one row per hidden unit. Each picture is scaled to its own largest |w|,
    so weak and strong units are equally visible.
    """
    scale = np.maximum(np.abs(weights).max(axis=1, keepdims=True), 1e-12)
    tiled = _tile(weights / scale, cols)
    rows = math.ceil(len(weights) / cols)
    return _image_figure(_upscale(diverging_rgb(tiled), 4), title, 60 + rows * 80)


BLUE, RED = np.array([33, 102, 172], np.float32), np.array([178, 24, 43], np.float32)


def diverging_rgb(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] as colours: blue (-1), white (0), red (+1); NaN is white."""
    v = np.clip(np.nan_to_num(values, nan=0.0), -1, 1)[..., None]
    rgb = np.where(v >= 0, WHITE + v * (RED - WHITE), WHITE - v * (BLUE - WHITE))
    return rgb.round().astype(np.uint8)


# ----- inside the network ---------------------------------------------------------------------

def _ridges(hists: list, labels: list[str], ax: str, domain) -> tuple[list, dict, list]:
    """Histograms stacked one above the other on shared x axis x{ax}: first one on top, each
    scaled to its own highest bar, drawn as one filled outline (cheap for the browser)."""
    data, annotations = [], []
    n = len(hists)
    for i, (counts, edges) in enumerate(hists):
        base = n - 1 - i
        h = 0.72 * np.asarray(counts, np.float64) / max(float(np.max(counts)), 1.0)
        x = np.repeat(np.asarray(edges, np.float64), 2)
        y = base + np.concatenate([[0.0], np.repeat(h, 2), [0.0]])
        colour = _ramp(i, n)
        data.append({"type": "scatter", "mode": "lines", "x": np.round(x, 5), "y": np.round(y, 4),
                     "fill": "toself", "line": {"color": colour, "width": 1}, "hoverinfo": "skip",
                     "xaxis": f"x{ax}", "yaxis": f"y{ax}", "showlegend": False})
        annotations.append({"text": labels[i], "x": domain[0], "xref": "paper", "xanchor": "left",
                            "y": base + 0.74, "yref": f"y{ax}", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 11}})
    axes = {f"xaxis{ax}": {"domain": list(domain), "anchor": f"y{ax}", "automargin": False, "nticks": 6,
                           "zeroline": True, "zerolinecolor": "#888", "showgrid": False},
            f"yaxis{ax}": {"anchor": f"x{ax}", "range": [-0.05, max(n, 1) + 0.1], "visible": False,
                           "automargin": False}}
    return data, axes, annotations


def histograms_figure(weight_hists: list, act_hists: list, layer_names: list[str],
                      health: list[tuple[str, float]]) -> dict:
    """Left: the weights of each Dense layer; right: each hidden layer's outputs on a fixed batch of
    validation samples. One ridge per layer, input side on top; histograms come precomputed."""
    w_labels = [f"<b>{name}</b>" for name in layer_names[:len(weight_hists)]]
    a_labels = []
    for i in range(len(act_hists)):
        kind, share = health[i] if i < len(health) else ("", 0.0)
        a_labels.append(f"<b>hidden {i + 1}</b>" + (f" · {share:.0%} {kind}" if kind else ""))
    rows = max(len(weight_hists), len(act_hists), 1)
    data, axes, annotations = _ridges(weight_hists, w_labels, "", (0.0, 0.47))
    d2, a2, n2 = _ridges(act_hists, a_labels, "2", (0.53, 1.0))
    if not act_hists:
        d2 = [_placeholder("2")]
        n2 = [{**_title("no hidden layer: nothing between input and output", 0.765, 0.5, 12), "yanchor": "middle"}]
    annotations += [_title("<b>Weights</b> of each layer", 0.235, 1.0, 14),
                    _title("<b>Outputs</b> of each hidden layer (256 validation samples)", 0.765, 1.0, 14)] + n2
    layout = _layout("", height=90 + 70 * rows, hovermode=False, showlegend=False, annotations=annotations,
                     **axes, **a2)
    layout["margin"] = {"l": 10, "r": 10, "t": 30, "b": 30, "autoexpand": False}
    return {"data": data + d2, "layout": layout}


def gradcheck_figure(results: list[tuple[str, float]]) -> dict:
    """Relative error per parameter array, on a log axis with the usual verdict bands."""
    names = [name for name, _ in results]
    errors = [max(err, 1e-16) for _, err in results]
    colours = [AGREEMENT_COLOURS[agreement(e)[0]] for e in errors]
    data = [{"type": "bar", "orientation": "h", "y": names, "x": errors, "marker": {"color": colours},
             "text": [f"{e:.1e}" for e in errors], "textposition": "outside",
             "hovertemplate": "%{y}: %{x:.2e}<extra></extra>"}]
    shapes = [{"type": "line", "x0": t, "x1": t, "y0": -0.5, "y1": len(names) - 0.5, "xref": "x", "yref": "y",
               "line": {"dash": "dot", "color": c, "width": 1}}
              for t, c in ((AGREE, AGREEMENT_COLOURS["agrees"]), (BUG, AGREEMENT_COLOURS["disagrees"]))]
    layout = _layout("Backprop vs numerical gradient: relative error", height=80 + 28 * len(names),
                     hovermode="closest", showlegend=False, shapes=shapes,
                     xaxis={"type": "log", "range": [-16, 1], "exponentformat": "power",
                            "title": {"text": "relative error (log scale)"}},
                     yaxis={"autorange": "reversed"})
    layout["margin"] = {"l": 120, "r": 30, "t": 40, "b": 40}
    return {"data": data, "layout": layout}


AGREEMENT_COLOURS = {"agrees": "#2ca02c", "close": "#ff7f0e", "disagrees": "#d62728"}
