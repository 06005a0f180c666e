"""Synthetic hand-drawn digits that do not come from MNIST, for evaluation only.

A network can score 98% on MNIST's test set and still misread what people draw with a mouse: MNIST's
test digits were written by the same kind of writers, scanned and normalised the same way as its
training digits. These digits are made differently on purpose, so they measure how well the whole
pipeline (``preprocess`` + network) copes with drawings from outside MNIST. Never train on them: they
would stop measuring that.

Each class has a few hand-designed stroke templates in a unit box (x right, y down), covering the ways
people write it: 7 with and without a crossbar, 1 with and without a flag, 4 open and closed, 9 with a
straight and a curved tail, 8 in one stroke or as two loops, and so on. Every digit jitters the control
points, then varies size, position, slant, rotation, aspect and pen width, adds a mouse's wobble, and
renders the strokes with round joints and caps in one of two looks:

    "canvas"  (280, 280, 4) uint8 RGBA, white ink on black, alpha 255: what the drawing canvas gives
    "paper"   (H, W) or (H, W, 3) uint8, H and W in 200..600: dark pen on light paper with uneven
              lighting, noise, a little blur and JPEG compression, like a phone photo

``python -m nn.synth`` writes a contact sheet of each look to /tmp (or the folder given).
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["synth_digits", "contact_sheet", "TEMPLATES", "STYLES"]

STYLES = ("canvas", "paper")
CANVAS = 280

Stroke = list[tuple[float, ...]]  # (x, y) points; (x, y, 1) marks a sharp corner


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 12) -> Stroke:
    """Points on an ellipse from angle start to end (degrees, 0 = right, 90 = down, clockwise)."""
    t = np.deg2rad(np.linspace(start, end, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


# Stroke templates per digit: a list of variants, each a list of strokes.
TEMPLATES: dict[int, list[list[Stroke]]] = {
    0: [
        [_arc(0.5, 0.5, 0.42, 0.5, -90, -90 - 375, 14)],  # counter-clockwise from the top, overshooting
        [_arc(0.5, 0.5, 0.3, 0.5, -70, 290, 14)],  # narrow, clockwise
        [_arc(0.5, 0.5, 0.45, 0.48, -110, -110 - 350, 14)],  # round, a small gap
    ],
    1: [
        [[(0.5, 0.0), (0.5, 1.0)]],
        [[(0.2, 0.22), (0.55, 0.0, 1), (0.55, 1.0)]],  # with a flag
        [[(0.25, 0.2), (0.55, 0.0, 1), (0.55, 1.0)], [(0.2, 1.0), (0.9, 1.0)]],  # flag and base
    ],
    2: [
        [[(0.08, 0.25), (0.35, 0.02), (0.7, 0.04), (0.88, 0.25), (0.75, 0.5), (0.4, 0.75),
          (0.05, 1.0, 1), (0.95, 0.98)]],
        [[(0.12, 0.2), (0.45, 0.0), (0.82, 0.15), (0.78, 0.45), (0.35, 0.78), (0.1, 0.96, 1),
          (0.45, 0.92), (0.95, 1.0)]],
        # a loop at the bottom left
        [[(0.1, 0.22), (0.4, 0.0), (0.8, 0.1), (0.8, 0.4), (0.45, 0.72), (0.15, 0.95), (0.28, 0.8),
          (0.4, 0.92), (0.7, 1.0), (0.95, 0.95)]],
    ],
    3: [
        [[(0.12, 0.12), (0.45, 0.0), (0.8, 0.1), (0.8, 0.33), (0.42, 0.48, 1), (0.85, 0.62),
          (0.88, 0.86), (0.55, 1.0), (0.1, 0.9)]],
        [[(0.1, 0.02), (0.88, 0.02, 1), (0.42, 0.42, 1), (0.8, 0.52), (0.92, 0.77), (0.62, 0.99),
          (0.1, 0.9)]],  # flat top
        [[(0.15, 0.18), (0.5, 0.0), (0.82, 0.2), (0.55, 0.47), (0.4, 0.5, 1), (0.6, 0.5),
          (0.9, 0.72), (0.6, 1.0), (0.08, 0.86)]],
    ],
    4: [
        [[(0.18, 0.0), (0.05, 0.62, 1), (0.95, 0.62)], [(0.7, 0.22), (0.7, 1.0)]],  # open
        [[(0.7, 0.0), (0.0, 0.68, 1), (0.95, 0.68)], [(0.7, 0.0), (0.7, 1.0)]],  # closed, printed
        [[(0.2, 0.0), (0.08, 0.58, 1), (0.75, 0.55)], [(0.75, 0.05), (0.72, 0.6), (0.72, 1.0)]],
    ],
    5: [
        [[(0.22, 0.02), (0.16, 0.46, 1), (0.5, 0.38), (0.86, 0.55), (0.86, 0.82), (0.55, 1.0),
          (0.1, 0.9)], [(0.22, 0.02), (0.88, 0.02)]],  # the bar drawn separately
        [[(0.88, 0.02), (0.2, 0.02, 1), (0.14, 0.46, 1), (0.5, 0.38), (0.86, 0.55), (0.86, 0.82),
          (0.55, 1.0), (0.1, 0.9)]],  # one stroke
        [[(0.25, 0.0), (0.2, 0.45, 1), (0.55, 0.42), (0.8, 0.62), (0.6, 0.95), (0.2, 0.98)],
         [(0.25, 0.0), (0.85, 0.04)]],
    ],
    6: [
        [[(0.75, 0.02), (0.4, 0.2), (0.15, 0.55), (0.16, 0.86), (0.45, 1.0), (0.8, 0.86),
          (0.8, 0.6), (0.5, 0.48), (0.18, 0.66)]],
        [[(0.62, 0.0), (0.28, 0.45), (0.2, 0.8), (0.5, 1.0), (0.82, 0.8), (0.66, 0.55),
          (0.28, 0.64)]],
    ],
    7: [
        [[(0.05, 0.03), (0.95, 0.03, 1), (0.35, 1.0)]],
        [[(0.05, 0.03), (0.95, 0.03, 1), (0.4, 1.0)], [(0.3, 0.52), (0.88, 0.5)]],  # crossbar
        [[(0.05, 0.16), (0.05, 0.02, 1), (0.95, 0.03, 1), (0.6, 0.45), (0.45, 1.0)]],  # hook, curved
    ],
    8: [
        [[(0.8, 0.12), (0.5, 0.0), (0.2, 0.12), (0.25, 0.35), (0.75, 0.62), (0.85, 0.85),
          (0.5, 1.0), (0.15, 0.85), (0.25, 0.62), (0.75, 0.36), (0.8, 0.12), (0.6, 0.02)]],
        [_arc(0.5, 0.25, 0.3, 0.25, 90, 90 + 370, 12), _arc(0.5, 0.73, 0.42, 0.27, -90, 275, 12)],
    ],
    9: [
        [[(0.85, 0.2), (0.5, 0.0), (0.15, 0.18), (0.25, 0.45), (0.6, 0.45), (0.85, 0.25, 1),
          (0.82, 1.0)]],  # straight tail
        [[(0.85, 0.25), (0.5, 0.02), (0.15, 0.25), (0.4, 0.48), (0.85, 0.3), (0.82, 0.7),
          (0.55, 1.0), (0.2, 0.92)]],  # curved tail
        [_arc(0.45, 0.25, 0.38, 0.25, 0, -360, 12), [(0.83, 0.1), (0.75, 1.0)]],  # loop, then a stick
    ],
}


def _catmull_rom(points: np.ndarray, per_segment: int = 10) -> np.ndarray:
    """A smooth curve through (k, 2) points: ((k - 1) * per_segment + 1, 2)."""
    if len(points) < 3:
        t = np.linspace(0, 1, per_segment + 1)[:, None]
        return points[0] + t * (points[-1] - points[0]) if len(points) == 2 else points
    p = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    segs = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        segs.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                           + (3 * p1 - p0 - 3 * p2 + p3) * t3))
    segs.append(points[-1:])
    return np.vstack(segs)


def _trace(stroke: Stroke, jitter: np.ndarray) -> np.ndarray:
    """Template stroke + (k, 2) jitter -> a dense (m, 2) polyline, sharp at corners, smooth elsewhere."""
    pts = np.array([p[:2] for p in stroke], dtype=np.float64) + jitter
    corners = [i for i, p in enumerate(stroke) if len(p) > 2]
    cuts = [0] + corners + [len(stroke) - 1]
    pieces = [_catmull_rom(pts[a:b + 1]) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    return np.vstack([pieces[0]] + [piece[1:] for piece in pieces[1:]])


def _wobble(line: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Add a hand's slow wobble (smooth noise along the arc length) to an (m, 2) polyline."""
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    out = line.copy()
    for axis in range(2):
        freq = rng.uniform(1.0, 4.0, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        amp = rng.normal(0, amount, 3)
        waves = amp[:, None] * np.sin(freq[:, None] * 2 * np.pi * s[None, :] + phase[:, None])
        out[:, axis] += waves.sum(axis=0)
    return out


def _digit_strokes(label: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A randomly varied digit as dense polylines in a box about 1 high and 0.45-1 wide, centred at 0."""
    variants = TEMPLATES[label]
    template = variants[rng.integers(len(variants))]
    width = rng.uniform(0.45, 1.0)
    slant = rng.normal(0.12, 0.18)  # most people lean their digits to the right
    angle = np.deg2rad(rng.normal(0, 6))
    cos, sin = np.cos(angle), np.sin(angle)
    wobble = rng.uniform(0.001, 0.006)
    sloppiness = rng.uniform(0.02, 0.055)  # how far the hand strays from the ideal shape
    lines = []
    for stroke in template:
        jitter = rng.normal(0, sloppiness, (len(stroke), 2))
        line = _trace(stroke, jitter)
        line = _wobble(line, wobble, rng)
        x = (line[:, 0] - 0.5) * width
        y = line[:, 1] - 0.5
        x = x - slant * y  # shear: the top leans right for slant > 0
        lines.append(np.stack([cos * x - sin * y, sin * x + cos * y], axis=1))
    return lines


def _render_mask(lines: list[np.ndarray], size: tuple[int, int], height: float, centre: tuple[float, float],
                 pen: float, supersample: int = 2) -> np.ndarray:
    """Draw polylines (digit units) scaled to ``height`` px around ``centre``: (H, W) float32 ink in [0, 1].

    Lines have round joints and round caps; drawing at ``supersample`` times the size and box-filtering
    down gives anti-aliased edges like a browser canvas.
    """
    w, h = size
    ss = supersample
    im = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(im)
    width = max(1, int(round(pen * ss)))
    for line in lines:
        pts = (line * height + np.asarray(centre)) * ss
        xy = [tuple(p) for p in pts]
        draw.line(xy, fill=255, width=width, joint="curve")
        # round caps, and a disc at every vertex: Pillow's curve joints leave slivers on dense polylines
        r = width / 2 - 0.5
        for x, y in xy:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    if ss > 1:
        im = im.resize((w, h), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.float32) / 255.0


def _extent(lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(min xy, max xy) of the polylines."""
    allp = np.vstack(lines)
    return allp.min(axis=0), allp.max(axis=0)


def _place(lines: list[np.ndarray], w: int, h: int, height: float, pen: float,
           rng: np.random.Generator) -> tuple[float, float]:
    """A random centre (x, y) in pixels that keeps the drawn digit inside a w x h image."""
    lo, hi = _extent(lines)
    lo = lo * height - pen / 2 - 1
    hi = hi * height + pen / 2 + 1
    cx = rng.uniform(-lo[0], max(-lo[0], w - hi[0]))
    cy = rng.uniform(-lo[1], max(-lo[1], h - hi[1]))
    return cx, cy


def _canvas_digit(label: int, rng: np.random.Generator) -> np.ndarray:
    """(280, 280, 4) uint8: white mouse strokes on black, alpha 255."""
    lines = _digit_strokes(label, rng)
    lo, hi = _extent(lines)
    pen = rng.uniform(10, 25)
    # from small (a quarter of the canvas) to as big as fits
    fit = (CANVAS - pen - 4) / max(hi[1] - lo[1], (hi[0] - lo[0]), 1e-6)
    height = min(fit, CANVAS * rng.uniform(0.25, 0.95))
    centre = _place(lines, CANVAS, CANVAS, height, pen, rng)
    ink = _render_mask(lines, (CANVAS, CANVAS), height, centre, pen)
    v = np.round(ink * 255).astype(np.uint8)
    return np.dstack([v, v, v, np.full_like(v, 255)])


def _paper_digit(label: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8: a photo-like dark digit on light, unevenly lit paper, JPEG-compressed."""
    w, h = (int(v) for v in rng.integers(200, 601, 2))
    lines = _digit_strokes(label, rng)
    lo, hi = _extent(lines)
    height = min(min(w, h) * rng.uniform(0.3, 0.85), 0.9 * min(w / max(hi[0] - lo[0], 1e-6), h))
    pen = max(1.5, height * rng.uniform(0.025, 0.09))
    centre = _place(lines, w, h, height, pen, rng)
    ink = _render_mask(lines, (w, h), height, centre, pen)

    # paper: a brightness that drifts across the page plus a darker corner (a shadow or vignette)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / h - 0.5, xx / w - 0.5
    paper = rng.uniform(0.65, 0.95) + rng.uniform(-0.15, 0.15) * xx + rng.uniform(-0.15, 0.15) * yy
    corner = rng.uniform(-0.5, 0.5, 2)
    paper -= rng.uniform(0, 0.2) * np.exp(-((xx - corner[0]) ** 2 + (yy - corner[1]) ** 2) / 0.1)
    ink_level = rng.uniform(0.03, 0.35)
    img = paper * (1 - ink) + ink_level * ink
    colour = rng.random() < 0.5
    if colour:
        tint_paper = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.85, 1.0)], np.float32)
        tint_ink = rng.choice([[0.2, 0.25, 0.8], [0.1, 0.1, 0.1], [0.3, 0.3, 0.35]])
        img = (paper * (1 - ink))[..., None] * tint_paper + (ink_level * 2 * ink)[..., None] * np.asarray(
            tint_ink, np.float32)
    img = img + rng.normal(0, rng.uniform(0.005, 0.04), img.shape).astype(np.float32)
    pil = Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
    pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=int(rng.integers(40, 91)))
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB" if colour else "L"))


def synth_digits(
    n_per_class: int, rng: np.random.Generator, style: str = "canvas"
) -> tuple[list[np.ndarray], np.ndarray]:
    """Make hand-drawn-looking digits 0-9, for evaluation only (never train on them).

    n_per_class : how many of each digit
    rng : the source of all randomness; the same seed gives the same digits
    style : "canvas" (white on black RGBA, like the drawing canvas) or "paper" (photo of dark ink on paper)

    Returns (images, labels): a list of 10 * n_per_class uint8 images, each (280, 280, 4) for "canvas"
    or (H, W) / (H, W, 3) with H, W in 200..600 for "paper", and labels (10 * n_per_class,) int64,
    in the order 0, 1, ..., 9, 0, 1, ...
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) or n_per_class < 0:
        raise ValueError(f"n_per_class must be a whole number >= 0, got {n_per_class!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a np.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    make = _canvas_digit if style == "canvas" else _paper_digit
    labels = np.tile(np.arange(10, dtype=np.int64), int(n_per_class))
    images = [make(int(label), rng) for label in labels]
    return images, labels


def contact_sheet(images: list[np.ndarray], cols: int = 10, cell: int = 96, pad: int = 4) -> np.ndarray:
    """Tile images (any size, grey/RGB/RGBA uint8) into one (H, W, 3) uint8 sheet, each fitted in a cell."""
    rows = max(1, -(-len(images) // cols))
    sheet = Image.new("RGB", (cols * (cell + pad) + pad, rows * (cell + pad) + pad), (110, 110, 110))
    for k, a in enumerate(images):
        a = np.asarray(a)
        im = Image.fromarray(a[..., :3] if a.ndim == 3 else a).convert("RGB")
        im.thumbnail((cell, cell), Image.Resampling.LANCZOS)
        r, c = divmod(k, cols)
        sheet.paste(im, (pad + c * (cell + pad) + (cell - im.width) // 2,
                         pad + r * (cell + pad) + (cell - im.height) // 2))
    return np.asarray(sheet)


def main(argv: list[str] | None = None) -> None:
    """Write synth_canvas.png and synth_paper.png (6 of each digit) to a folder (default /tmp)."""
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path("/tmp")
    out.mkdir(parents=True, exist_ok=True)
    for style in STYLES:
        images, _ = synth_digits(6, np.random.default_rng(0), style)
        # one row per digit
        order = np.arange(len(images)).reshape(6, 10).T.ravel()
        path = out / f"synth_{style}.png"
        Image.fromarray(contact_sheet([images[i] for i in order], cols=6)).save(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
