"""Pictures for the Draw page: plotly figures, an HTML bar chart, HTML rows of pictures and small
images built from nn's arrays (UI code only).

What changes at every stroke is plain HTML (``probability_html``, ``picture_row``): a plotly chart or a
column of st.image elements costs the server and, above all, the browser far more, on the same cores
on a small machine (measured figures in the builders' docstrings). ``*_pixels`` give a picture at its
own resolution, for ``picture_row``, whose browser enlarges a 28x28 digit to crisp squares;
``*_image`` give it already enlarged with nearest-neighbour sampling, for st.image (``png_url``).
"""
from __future__ import annotations

import base64
import io
from html import escape

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


# The probability chart changes at every stroke. As a plotly chart, each new figure was a new element
# that the browser mounted from scratch: measured on the 2-core machine, ~200 ms of the browser's main
# thread per stroke (of ~500 ms for the whole page), competing with the server for the same cores.
# The same bars in plain HTML cost the browser a few milliseconds. Plot: 180 px high, y from 0 to
# PROBABILITY_TOP (room for the labels above a bar at 100%), grid lines at 0, 50% and 100%.
PROBABILITY_TOP = 1.12
_PLOT_PX, _AXIS_PX = 180, 34


def _colours(n: int, predicted: int | None, sure: bool) -> list[str]:
    return [ACCENT if k == predicted and sure else (UNSURE if k == predicted else CONFIDENT) for k in range(n)]


def probability_html(probs: np.ndarray, predicted: int | None, sure: bool) -> str:
    """The ten probabilities as a bar chart in HTML (for ``st.html``), the predicted digit in the
    accent colour (grey when the page is not sure of it): a title, a y axis in percent, one bar per
    digit with its percentage above it (from 0.5%), the digits below; hovering a bar names its digit
    and probability. Text takes the page's colour, so it reads in the light and the dark theme.

    probs : (10,) in [0, 1]
    """
    probs = np.clip(np.asarray(probs, float), 0.0, 1.0)
    colours = _colours(len(probs), predicted, sure)
    height = lambda v: f"{100 * v / PROBABILITY_TOP:.2f}%"          # noqa: E731 - share of the plot
    grid = "".join(
        f'<div style="position:absolute;left:0;right:0;bottom:{height(v)};border-top:1px solid;opacity:.15">'
        "</div>" for v in (0.0, 0.5, 1.0))
    ticks = "".join(
        f'<div style="position:absolute;right:6px;bottom:{height(v)};transform:translateY(50%);'
        f'font-size:11px;opacity:.6">{v:.0%}</div>' for v in (0.0, 0.5, 1.0))
    bars = "".join(
        f'<div title="digit {k}: {p:.1%}" style="flex:1;height:100%;display:flex;flex-direction:column;'
        f'justify-content:flex-end;align-items:center">'
        f'<div style="font-size:12px;line-height:1.3;opacity:.75">{f"{p:.0%}" if p >= 0.005 else ""}</div>'
        f'<div style="width:80%;height:{height(p)};background:{colours[k]}"></div></div>'
        for k, p in enumerate(probs))
    digits = "".join(f'<div style="flex:1;text-align:center;font-size:12px;opacity:.6">{k}</div>'
                     for k in range(len(probs)))
    label = "Probability of each digit: " + ", ".join(f"{k}: {p:.0%}" for k, p in enumerate(probs))
    return (f'<div role="img" aria-label="{escape(label)}" style="font-size:13px;line-height:1.4;'
            'padding:4px 10px 6px 0">'
            '<div style="font-size:14px;font-weight:600;margin:0 0 8px 4px">Probability of each digit</div>'
            f'<div style="display:flex;height:{_PLOT_PX}px">'
            f'<div style="position:relative;width:{_AXIS_PX}px;flex:none">{ticks}</div>'
            f'<div style="position:relative;flex:1">{grid}'
            f'<div style="position:absolute;top:0;bottom:0;left:0;right:0;display:flex;align-items:flex-end">'
            f'{bars}</div></div></div>'
            f'<div style="display:flex;margin-left:{_AXIS_PX}px;padding-top:4px">{digits}</div></div>')


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


def png_url(img: np.ndarray) -> str:
    """(H, W) or (H, W, 3) uint8 -> a data: URL of it as a PNG, for st.image.

    st.image shows a data: URL as it is. Given an array, it would encode it, check the encoding and
    store it as a file that the browser then fetches with a request of its own: for the ten pictures
    of every stroke, ten requests to the server and as many round trips for the browser."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)   # pictures of a few kB: fast beats small
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def fit_width(img: np.ndarray, width: int) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 -> the same, shrunk to ``width`` (bilinear) if it is wider.

    An image wider than the width it is shown at is shrunk by st.image itself, by decoding the PNG it
    has just encoded, resizing it (bilinear) and encoding it again: done here, the server encodes
    each picture once, which saves a few milliseconds a picture at every stroke."""
    h, w = img.shape[:2]
    if w <= width:
        return img
    return np.asarray(Image.fromarray(img).resize((width, max(1, round(h * width / w))), Image.BILINEAR))


def thumbnail(image: np.ndarray, size: int) -> np.ndarray:
    """A decoded photo (H, W) or (H, W, 3|4) uint8 -> the same shrunk to fit in size x size."""
    im = Image.fromarray(image)
    im.thumbnail((size, size))
    return np.asarray(im)


def grey_pixels(a: np.ndarray, size: int = 112) -> np.ndarray:
    """(h, w) float in [0, 1] (1 = ink) -> uint8 white ink on black, at most ``size`` pixels wide
    (a larger image, the whole canvas or photo, is averaged down), not enlarged.

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
    return grey


def grey_image(a: np.ndarray, size: int = 112) -> np.ndarray:
    """``grey_pixels`` enlarged to ``size`` pixels wide, for st.image."""
    return fit_width(enlarge(grey_pixels(a, size), size), size)


def diverging_pixels(a: np.ndarray, outline: np.ndarray | None = None) -> np.ndarray:
    """(h, w) float in [-1, 1] -> (h, w, 3) uint8: red for positive, blue for negative, white at 0.

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
    return (rgb + 0.5).astype(np.uint8)


def picture_row(pictures: list[tuple[np.ndarray, str]], width: int) -> str:
    """Pictures side by side, each with its caption under it, as HTML (for st.html): what a row of
    st.image calls in columns shows, wrapping onto more rows where they do not fit (a phone).

    pictures : (picture, caption) pairs, a picture (h, w) or (h, w, 3) uint8 at its own resolution
    width : the width each picture is shown at, in CSS pixels

    The browser enlarges each picture: pixel by pixel (crisp squares) when it is at most half that
    width, a 28x28 digit say, smoothly otherwise. Sent at their own resolution, the five pictures of
    the preprocessing take ~5 kB instead of ~40 kB, and one HTML element replaces a column and an
    image element per picture: at every stroke the server encodes less, the browser fetches no file,
    and it redraws one element instead of eleven.
    """
    figures = []
    for picture, caption in pictures:
        crisp = picture.shape[1] * 2 <= width
        figures.append(                  # each in an equal share of the row, as st.columns would
            f'<div style="flex:1 0 {width}px"><figure style="margin:0;width:{width}px">'
            f'<img src="{png_url(picture)}" alt="{escape(caption)}" width="{width}" height="{width}" '
            f'style="display:block;width:{width}px;height:{width}px;border-radius:4px;'
            f'image-rendering:{"pixelated" if crisp else "auto"}">'
            f'<figcaption style="font-size:14px;line-height:1.4;text-align:center;opacity:.6;'
            f'margin-top:6px">{escape(caption)}</figcaption></figure></div>')
    return f'<div style="display:flex;flex-wrap:wrap;gap:16px">{"".join(figures)}</div>'


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
