"""Pictures for the Draw page: plotly figures and small images built from nn's arrays (UI code only).

Images are returned as uint8 arrays already enlarged with nearest-neighbour sampling, so that a
28x28 input shows as crisp square pixels instead of being blurred by the browser.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image

ACCENT = "#e4572e"       # the predicted digit
CONFIDENT = "#2e86ab"    # other bars
UNSURE = "#9a9a9a"
PAD = (52, 60, 78)       # around a crop: not black, so its edges show
# Diverging colours for saliency: blue (against) - white (no effect) - red (for)
NEGATIVE = np.array([33, 102, 172], np.float32)
POSITIVE = np.array([178, 24, 43], np.float32)
WHITE = np.array([255, 255, 255], np.float32)

# Figures are built in one constructor call with plain dicts: plotly validates every property it
# is given, and one call costs about a third of building the same figure with update_* calls.
_LAYOUT = dict(margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white", paper_bgcolor="white",
               font=dict(size=13))
_PERCENT_AXIS = dict(tickformat=".0%", gridcolor="#eee", tickvals=[0, 0.5, 1])


def _title(text: str) -> dict:
    return dict(text=text, x=0, font=dict(size=14))


def probability_bars(probs: np.ndarray, predicted: int | None, sure: bool) -> go.Figure:
    """Ten bars, one per digit, the predicted one highlighted. probs : (10,) in [0, 1]."""
    probs = np.asarray(probs, float)
    colours = [ACCENT if k == predicted and sure else (UNSURE if k == predicted else CONFIDENT)
               for k in range(len(probs))]
    bar = go.Bar(x=[str(k) for k in range(len(probs))], y=probs, marker=dict(color=colours),
                 text=[f"{p:.0%}" if p >= 0.005 else "" for p in probs], textposition="outside",
                 hovertemplate="digit %{x}: %{y:.1%}<extra></extra>", cliponaxis=False)
    return go.Figure(data=[bar], layout=dict(
        height=250, title=_title("Probability of each digit"), showlegend=False,
        yaxis=dict(range=[0, 1.12], **_PERCENT_AXIS), xaxis=dict(type="category"), **_LAYOUT))


def before_after_bars(before: np.ndarray, after: np.ndarray, label: int) -> go.Figure:
    """Grouped bars of the drawing's probabilities before and after a lesson. (10,) each."""
    digits = [str(k) for k in range(len(before))]
    bars = [go.Bar(x=digits, y=before, name="before", marker=dict(color="#bbbbbb"),
                   hovertemplate="before, digit %{x}: %{y:.1%}<extra></extra>"),
            go.Bar(x=digits, y=after, name="after", marker=dict(color=ACCENT),
                   hovertemplate="after, digit %{x}: %{y:.1%}<extra></extra>")]
    return go.Figure(data=bars, layout=dict(
        height=220, barmode="group", title=_title(f"Before and after learning that this is a {label}"),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.15),
        yaxis=dict(range=[0, 1.05], **_PERCENT_AXIS), xaxis=dict(type="category"), **_LAYOUT))


def enlarge(img: np.ndarray, size: int) -> np.ndarray:
    """(h, w) or (h, w, 3) -> the same enlarged by an integer factor so that its longer side is
    at least ``size`` (nearest neighbour), or left as is when it is already that large."""
    factor = max(1, -(-size // max(img.shape[:2])))
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def thumbnail(image: np.ndarray, size: int) -> np.ndarray:
    """A decoded photo (H, W) or (H, W, 3|4) uint8 -> the same shrunk to fit in size x size."""
    im = Image.fromarray(image)
    im.thumbnail((size, size))
    return np.asarray(im)


def grey_image(a: np.ndarray, size: int = 112) -> np.ndarray:
    """(h, w) float in [0, 1] (1 = ink) -> uint8 white ink on black, enlarged to ``size``.

    A square image gives (H, W) grey; a non-square one (a crop) is centred on a square of dark
    blue-grey, (H, W, 3), so that pictures line up and the crop's edges stay visible.
    """
    a = np.clip(np.asarray(a, np.float32), 0, 1)
    if max(a.shape) > size:   # a large image (the whole canvas or photo) is shown smaller
        step = -(-max(a.shape) // size)
        h, w = a.shape[0] // step * step, a.shape[1] // step * step
        a = a[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))
    grey = (a * 255 + 0.5).astype(np.uint8)
    h, w = grey.shape
    if h != w:
        side = max(h, w)
        square = np.empty((side, side, 3), np.uint8)
        square[...] = PAD
        top, left = (side - h) // 2, (side - w) // 2
        square[top:top + h, left:left + w] = grey[..., None]
        grey = square
    return enlarge(grey, size)


def diverging_image(a: np.ndarray, size: int = 112, outline: np.ndarray | None = None) -> np.ndarray:
    """(h, w) float in [-1, 1] -> (H, W, 3) uint8: red for positive, blue for negative, white at 0.

    outline : optional (h, w) in [0, 1], e.g. the input digit, drawn over the map as a grey shadow
    so that the colours can be related to the strokes.
    """
    a = np.clip(np.asarray(a, np.float32), -1, 1)[..., None]
    # |a| ** 0.6 lifts small values so that a map dominated by a few pixels still shows its shape
    t = np.abs(a) ** 0.6
    colour = np.where(a > 0, POSITIVE, NEGATIVE)
    rgb = WHITE + t * (colour - WHITE)
    if outline is not None:
        rgb *= 1 - 0.45 * np.clip(np.asarray(outline, np.float32), 0, 1)[..., None]
    return enlarge((rgb + 0.5).astype(np.uint8), size)


def activation_strip(h: np.ndarray, width: int = 512, height: int = 18) -> np.ndarray:
    """(units,) activations -> (height, ~width, 3) uint8 strip, one column block per unit:
    black for 0 (inactive), brighter yellow for larger values (scaled by the layer's maximum)."""
    h = np.asarray(h, np.float32)
    m = float(np.abs(h).max())
    t = (np.abs(h) / m if m > 0 else np.zeros_like(h))[:, None]
    rgb = t * np.array([255, 214, 10], np.float32)   # black -> amber
    per_unit = max(1, width // len(h))
    row = np.repeat((rgb + 0.5).astype(np.uint8), per_unit, axis=0)
    return np.repeat(row[None], height, axis=0)
