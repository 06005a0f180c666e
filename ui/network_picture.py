"""The network picture of the Train page: inputs on the left, output on the right, every neuron a small
picture of its own output over the input plane, every link coloured by its weight's sign and as thick
as its size. Built from the numbers of ``Worker.network`` (ui/train_worker.py); pure functions, no
Streamlit.

Cheap to redraw five times a second, as ui/train_charts.py explains for the live figures: the neuron
pictures are pixels rendered here with NumPy and Pillow, one PNG per column (``layout.images``), not
heatmaps; the links are at most ten SVG paths (one per sign and thickness class), not plotly traces.

    network_figure   the whole network, one figure
    neuron_rgb       one neuron's output over the plane as colours (for its large picture)
    with_points      a picture of the plane with the data points on top
    neuron_label     "hidden layer 1 · neuron 3", "output · class 1", "input x₁²"
"""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from ui.train_charts import BLUE, CLASS_RGB, RED, TEMPLATE, WHITE, diverging_rgb

# Coordinates are PNG pixels, one per grid cell: a neuron's 24 x 24 grid is a 24 x 24 tile, which the
# browser scales up smoothly (twice the pixels cost four times the PNG encoding, ~4 ms a redraw more)
GAP = 6                   # between two tiles of a column
PAD = 8
MIN_COLUMN_STEP = 78      # from one column of tiles to the next, at least
ASPECT = 1.9              # the picture aims at this width : height (columns spread out when few)
WIDTHS = (0.6, 1.3, 2.3, 3.5, 5.0)          # link thickness classes (px), by |w| / the largest |w|
OPACITIES = (0.3, 0.45, 0.6, 0.72, 0.85)
OFF_GREY = np.array([200, 200, 200], np.float32)
FRAME = np.array([190, 194, 202], np.uint8)


# ----- colours ----------------------------------------------------------------------------------

def _scaled(values: np.ndarray, role: str, activation: str) -> np.ndarray:
    """Values of (n, R, R) pictures in [-1, 1] for the blue-white-red colours: tanh as it is, sigmoid
    as 2a − 1, ReLU-like units and input features by their own largest size (their range is open)."""
    if role == "hidden" and activation == "tanh":
        return values
    if role == "hidden" and activation == "sigmoid":
        return 2 * values - 1
    top = np.abs(values).reshape(len(values), -1).max(axis=1)
    return values / np.maximum(top, 1e-9)[:, None, None]


def _output_rgb(values: np.ndarray, loss: str) -> np.ndarray:
    """(n, R, R) outputs -> colours. Several outputs: white to class k's colour by what output k says
    (its probability; its score for squared error). One output (sigmoid): class 0's colour where it
    says 0, class 1's where it says 1, white at 0.5."""
    v = np.clip(np.nan_to_num(values), 0, 1)[..., None]
    if len(values) == 1 and loss == "sigmoid_bce":
        side = np.where(v >= 0.5, 1, 0)
        strength = np.abs(2 * v - 1)
        colour = CLASS_RGB[side[..., 0]]
        return (WHITE + strength * (colour - WHITE)).round().astype(np.uint8)
    colours = CLASS_RGB[np.arange(len(values)) % len(CLASS_RGB)][:, None, None, :]
    return (WHITE + v * (colours - WHITE)).round().astype(np.uint8)


def neuron_rgb(values: np.ndarray, role: str, activation: str, loss: str, unit: int = 0,
               n_outputs: int = 1) -> np.ndarray:
    """(R, R) values of one neuron (row 0 = the lowest y) -> (R, R, 3) uint8 with row 0 at the top.

    role : "input", "hidden" or "output"; ``unit`` and ``n_outputs`` place an output neuron among its
    layer (its class colour)."""
    if role == "output":
        stack = np.zeros((n_outputs, *values.shape), np.float32)
        stack[unit] = values
        rgb = _output_rgb(stack, loss)[unit]
    else:
        rgb = diverging_rgb(_scaled(values[None], role, activation)[0])
    return np.ascontiguousarray(rgb[::-1])


def with_points(rgb: np.ndarray, layer: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The plane ``rgb`` (row 0 at the top) scaled to the size of ``layer`` (train_charts.points_layer)
    with the data points drawn over it."""
    premultiplied, alpha = layer
    size = premultiplied.shape[0]
    region = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR), np.float32)
    return (region * (1 - alpha) + premultiplied).round().astype(np.uint8)


# ----- names ------------------------------------------------------------------------------------

def neuron_label(layer: int, unit: int, n_layers: int, class_names=None, n_outputs: int = 2) -> str:
    """Dense layer ``layer`` (from 0; the last of ``n_layers`` is the output), neuron ``unit``."""
    if layer == n_layers - 1:
        if n_outputs == 1:
            return f"output · p({class_name(1, class_names)})"
        return f"output · {class_name(unit, class_names)}"
    return f"hidden layer {layer + 1} · neuron {unit + 1}"


def class_name(k: int, class_names=None) -> str:
    return str(class_names[k]) if class_names is not None and k < len(class_names) else f"class {k}"


def source_labels(layer: int, fan_in: int, feature_labels) -> list[str]:
    """Names of what feeds Dense layer ``layer``: the input features, or the neurons of the layer before."""
    if layer == 0:
        return list(feature_labels)
    return [f"neuron {k + 1}" for k in range(fan_in)]


# ----- the figure -------------------------------------------------------------------------------

def _geometry(counts: list[int], tile: int) -> tuple[float, float, list[list[tuple[float, float]]]]:
    """(width, height, per column the top-left corner of each tile), in PNG pixels (y down)."""
    tallest = max(counts)
    height = 2 * PAD + tallest * (tile + GAP) - GAP
    step = max(MIN_COLUMN_STEP, (ASPECT * height - 2 * PAD - tile) / max(len(counts) - 1, 1))
    width = 2 * PAD + step * (len(counts) - 1) + tile
    corners = []
    for c, n in enumerate(counts):
        top = PAD + (tallest - n) * (tile + GAP) / 2
        corners.append([(PAD + c * step, top + i * (tile + GAP)) for i in range(n)])
    return width, height, corners


def _png(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)          # fast: redrawn five times a second
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _column_images(columns: list[np.ndarray], corners, height: float, tile: int) -> list[dict]:
    """One PNG per column of tiles (columns: per column (n, R, R, 3) uint8, row 0 at the top), each
    just as large as its tiles with transparent gaps between them: a layout image apiece, drawn above
    the links. (One PNG for the whole picture would be mostly empty space between the columns, and
    encoding it five times a second costs ~50 ms for six layers of 16.)"""
    images = []
    for rgb, spots in zip(columns, corners):
        x0, y0 = spots[0]
        span = round(spots[-1][1] - y0) + tile
        canvas = np.zeros((span, tile, 4), np.uint8)
        for picture, (_, y) in zip(rgb, spots):
            top = round(y - y0)
            canvas[top:top + tile, :, :3] = picture
            canvas[top:top + tile, :, 3] = 255
            # a thin grey frame: a picture that is white at its edges still shows where it ends
            canvas[[top, top + tile - 1], :, :3] = FRAME
            canvas[top:top + tile, [0, tile - 1], :3] = FRAME
        images.append({"source": _png(Image.fromarray(canvas, "RGBA")),
                       "xref": "x", "yref": "y", "x": x0, "y": height - y0, "sizex": tile, "sizey": span,
                       "xanchor": "left", "yanchor": "top", "sizing": "stretch", "layer": "above"})
    return images


def _off(rgb: np.ndarray) -> np.ndarray:
    """A switched-off neuron's picture: faded to grey and crossed out."""
    faded = (0.35 * rgb + 0.65 * OFF_GREY).round().astype(np.uint8)
    r = len(faded)
    diag = np.arange(r)
    faded[diag, diag] = faded[diag, r - 1 - diag] = (90, 90, 90)
    return faded


def _links(weights: list[np.ndarray], corners, tile: int, height: float) -> list[dict]:
    """Every link, as at most 2 x len(WIDTHS) SVG path shapes (one per sign and thickness class, each
    "M x0,y0 L x1,y1" after the other), in plot coordinates (y up), under the tiles.

    Shapes, not plotly line traces: in Chromium without a GPU, plotly re-plots the ~1,300 lines of
    six layers of 16 in ~65 ms as traces (even as one trace), the browser's whole budget at five
    redraws a second; as paths they cost ~10 ms, and as a PNG (~1 ms for the browser) ~10 ms of the
    server's time and 90 kB a redraw."""
    top = max((float(np.max(np.abs(w))) for w in weights if w.size), default=0.0)
    if not np.isfinite(top) or top <= 0:
        top = 1.0
    groups: dict[tuple[bool, int], list[str]] = {}
    for layer, w in enumerate(weights):
        w = np.nan_to_num(w, nan=0.0, posinf=0.0, neginf=0.0)
        level = np.minimum((np.abs(w) / top * len(WIDTHS)).astype(int), len(WIDTHS) - 1)
        for i, (sx, sy) in enumerate(corners[layer]):
            start = f"M{sx + tile:.1f},{height - sy - tile / 2:.1f}L"
            for j, (tx, ty) in enumerate(corners[layer + 1]):
                if w[i, j] != 0:                          # a switched-off neuron's links are not drawn
                    groups.setdefault((bool(w[i, j] > 0), int(level[i, j])), []).append(
                        f"{start}{tx:.1f},{height - ty - tile / 2:.1f}")
    return [{"type": "path", "path": "".join(segments), "xref": "x", "yref": "y", "layer": "below",
             "opacity": OPACITIES[level],
             "line": {"color": "rgb({:.0f},{:.0f},{:.0f})".format(*(RED if positive else BLUE)), "width": WIDTHS[level]}}
            for (positive, level), segments in sorted(groups.items(), key=lambda g: g[0][1])]


def network_figure(view: dict, activation: str, loss: str, feature_labels, class_names=None,
                   selected: tuple[int, int] | None = None) -> dict:
    """The whole network (``view`` from ``Worker.network``): one picture per input feature and per
    neuron, the links between them, ``selected`` = (layer, unit) outlined."""
    inputs, neurons = view["inputs"], view["neurons"]
    tile = inputs.shape[1]
    n_layers = len(neurons)
    counts = [len(inputs), *(len(n) for n in neurons)]
    width, height, corners = _geometry(counts, tile)
    columns = [np.stack([neuron_rgb(v, "input", activation, loss) for v in inputs])]
    for layer, values in enumerate(neurons):
        last = layer == n_layers - 1
        if last:
            rgb = _output_rgb(values, loss)[:, ::-1]
        else:
            rgb = diverging_rgb(_scaled(values, "hidden", activation))[:, ::-1]
            for layer_off, unit in view["off"]:
                if layer_off == layer:
                    rgb[unit] = _off(rgb[unit])
        columns.append(np.ascontiguousarray(rgb))
    images = _column_images(columns, corners, height, tile)
    data = []
    # invisible markers on every tile: what it is, when the pointer rests on it
    hx, hy, text = [], [], []
    for c, spots in enumerate(corners):
        for unit, (x, y) in enumerate(spots):
            hx.append(x + tile / 2)
            hy.append(height - y - tile / 2)
            if c == 0:
                text.append(f"input {feature_labels[unit]}")
            else:
                layer = c - 1
                label = neuron_label(layer, unit, n_layers, class_names, counts[-1])
                off = " (switched off)" if [layer, unit] in [list(o) for o in view["off"]] else ""
                text.append(f"{label}{off}<br>bias {view['biases'][layer][unit]:+.3g}")
    data.append({"type": "scatter", "mode": "markers", "x": np.round(hx, 1), "y": np.round(hy, 1), "text": text, "showlegend": False,
                 "hovertemplate": "%{text}<extra></extra>", "marker": {"size": 22, "opacity": 0}})

    annotations = [{"x": corners[c][0][0] + tile / 2, "y": height - PAD + 2, "xref": "x", "yref": "y",
                    "yanchor": "bottom", "showarrow": False, "font": {"size": 12},
                    "text": "<b>Inputs</b>" if c == 0 else ("<b>Output</b>" if c == n_layers
                                                            else f"<b>Hidden {c}</b>")}
                   for c in range(len(corners))]
    for unit, (x, y) in enumerate(corners[0]):
        annotations.append({"x": x - 2, "y": height - y - tile / 2, "xref": "x", "yref": "y", "xanchor": "right",
                            "showarrow": False, "text": feature_labels[unit], "font": {"size": 12}})
    for unit, (x, y) in enumerate(corners[-1]):
        text = f"p({class_name(1, class_names)})" if len(corners[-1]) == 1 else class_name(unit, class_names)
        annotations.append({"x": x + tile + 2, "y": height - y - tile / 2, "xref": "x", "yref": "y",
                            "xanchor": "left", "showarrow": False, "font": {"size": 11}, "text": text})
    shapes = _links(view["weights"], corners, tile, height)
    if selected is not None and 0 <= selected[0] < n_layers and 0 <= selected[1] < counts[selected[0] + 1]:
        x, y = corners[selected[0] + 1][selected[1]]
        shapes.append({"type": "rect", "xref": "x", "yref": "y", "x0": x - 2, "x1": x + tile + 2,
                       "y0": height - y + 2, "y1": height - y - tile - 2,
                       "layer": "above", "line": {"color": "#31333F", "width": 2.5}})
    # as tall as the picture is at the width of the page's main column (~880 px): no empty bands
    fit = 880 * (height + 4) / (width + 3 * PAD)
    layout = {"template": TEMPLATE, "height": int(min(640, max(300, fit + 32))),
              "margin": {"l": 40, "r": 60, "t": 28, "b": 4, "autoexpand": False}, "hovermode": "closest",
              "showlegend": False, "uirevision": "keep", "dragmode": False,
              "xaxis": {"visible": False, "range": [-PAD, width + 2 * PAD], "fixedrange": True},
              "yaxis": {"visible": False, "range": [0, height + 4], "scaleanchor": "x", "fixedrange": True},
              "images": images, "annotations": annotations, "shapes": shapes}
    # built five times a second from arrays this module shapes itself: plotly's dict, sent as it is
    # (ui/train_charts.py says why; tests/test_train_page.py validates it with go.Figure)
    return {"data": data, "layout": layout}
