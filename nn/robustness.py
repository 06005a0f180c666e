"""Where does the network break? Distort digits step by step and watch the accuracy fall.

    distort            one kind of distortion, of a given amount, applied to 28x28 digits
    robustness_curve   a model's accuracy on the same digits at each amount of one distortion
    DISTORTIONS        what each kind means: its unit, a sensible range, the amounts of a curve

The distortions act on the network's input itself, the 28x28 digit after ``preprocess`` (cropped,
scaled, centred, deskewed), so they show what the network alone tolerates. With ``normalise=True``
the distorted digits go through ``normalise_digits`` again, as a drawing would: centring undoes a
shift completely and deskewing part of a rotation, which is why the app's pipeline does both.
Comparing two models' curves (say, one trained with ``--augment``, which shows it shifted, turned,
scaled and thickened digits, and one without) shows what augmentation buys. Measured on 500 bundled
test digits: shifted 3 pixels, the shipped default (60,000 digits) still reads 73% of them and the
sample-trained model 52%; shrunk to 0.6, 93% and 73%.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .augment import CENTRE, SIDE, sample_bilinear

__all__ = ["Distortion", "DISTORTIONS", "distort", "robustness_curve"]


@dataclass(frozen=True)
class Distortion:
    """One kind of distortion.

    name : the key of DISTORTIONS
    unit : what ``amount`` is measured in
    low, high : a range worth exploring (a slider's ends); ``distort`` accepts any finite amount
    neutral : the amount that leaves a digit unchanged
    curve : the amounts of a robustness curve, in increasing order, neutral among them
    help : one sentence for the person
    """

    name: str
    unit: str
    low: float
    high: float
    neutral: float
    curve: tuple[float, ...]
    help: str


DISTORTIONS = {d.name: d for d in (
    Distortion("rotation", "degrees", -90.0, 90.0, 0.0, (0, 10, 20, 30, 40, 50, 60, 75, 90),
               "Turn the digit about its centre, anticlockwise for a positive angle."),
    Distortion("thickness", "pixels", -1.0, 3.0, 0.0, (-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3),
               "Grow the strokes by this many pixels on each side (negative: thin them)."),
    Distortion("noise", "grey levels (std)", 0.0, 1.0, 0.0, (0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0),
               "Add random speckle: Gaussian noise of this standard deviation, on a 0-1 grey scale."),
    Distortion("shift", "pixels", -10.0, 10.0, 0.0, (0, 1, 2, 3, 4, 5, 6, 8, 10),
               "Move the digit right by this many pixels (negative: left)."),
    Distortion("scale", "times", 0.3, 2.0, 1.0, (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.7, 2.0),
               "Zoom about the centre: 0.5 is half the size, 2 twice the size."),
)}


def _as_batch(x: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(x, np.float32)
    single = x.ndim == 1
    batch = x.reshape(1, -1) if single else x
    if batch.ndim != 2 or batch.shape[1] != SIDE * SIDE:
        raise ValueError(f"expected 28x28 digits as (N, 784) or (784,), got shape {x.shape}")
    return batch, single


def _affine(img: np.ndarray, inverse: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Resample (N, 28, 28) images: output pixel p reads the input at CENTRE + inverse @ (p - CENTRE - offset).

    inverse : (2, 2) acting on (row, col); offset : (2,) the output shift (rows, cols).
    """
    n = len(img)
    r = np.arange(SIDE, dtype=np.float64) - CENTRE
    rows = r[:, None] - offset[0]
    cols = r[None, :] - offset[1]
    ys = CENTRE + inverse[0, 0] * rows + inverse[0, 1] * cols
    xs = CENTRE + inverse[1, 0] * rows + inverse[1, 1] * cols
    grid = np.broadcast_to(ys.astype(np.float32), (n, SIDE, SIDE)), np.broadcast_to(xs.astype(np.float32),
                                                                                    (n, SIDE, SIDE))
    return sample_bilinear(img, *grid)


def _grow(img: np.ndarray, grow: bool) -> np.ndarray:
    """One step of grey dilation (max) or erosion (min) over a 3x3 cross: (N, 28, 28) -> same."""
    fill = 0.0 if grow else 1.0
    p = np.pad(img, ((0, 0), (1, 1), (1, 1)), constant_values=fill)
    pick = np.maximum if grow else np.minimum
    out = img.copy()
    for dy, dx in ((0, 1), (1, 0), (1, 2), (2, 1)):
        out = pick(out, p[:, dy:dy + SIDE, dx:dx + SIDE])
    return out


def _thickness(img: np.ndarray, amount: float) -> np.ndarray:
    """Whole steps of dilation/erosion, then a blend towards one more step for the fraction."""
    steps, fraction = int(abs(amount)), abs(amount) % 1.0
    grow = amount > 0
    for _ in range(steps):
        img = _grow(img, grow)
    if fraction:
        img = img + np.float32(fraction) * (_grow(img, grow) - img)
    return img


def distort(x: np.ndarray, kind: str, amount: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply one distortion of the given amount to 28x28 digits.

    x : (N, 784) or (784,) float in [0, 1], digits as the network sees them (not modified)
    kind : a key of DISTORTIONS: "rotation" (degrees, anticlockwise), "thickness" (pixels per side,
        negative thins), "noise" (standard deviation of added Gaussian noise), "shift" (pixels to the
        right, negative to the left), "scale" (zoom factor about the centre, > 0)
    amount : how much; DISTORTIONS[kind].neutral leaves the digits unchanged
    rng : for "noise" only: where the noise comes from (default: a generator seeded with 0, so the
        same call gives the same noise)

    Returns float32 digits of x's shape, in [0, 1]. Pixels that come from outside the 28x28 square
    (after a rotation, shift or shrink) are background.
    """
    if kind not in DISTORTIONS:
        raise ValueError(f"unknown distortion {kind!r}: choose one of {', '.join(DISTORTIONS)}")
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)) \
            or not np.isfinite(amount):
        raise ValueError(f"the amount of {kind} must be a finite number, got {amount!r}")
    amount = float(amount)
    batch, single = _as_batch(x)
    img = batch.reshape(-1, SIDE, SIDE)
    if kind == "rotation":
        # rows point down, so an anticlockwise turn by a maps (row, col) to
        # (row cos a - col sin a, row sin a + col cos a); sampling needs the inverse, its transpose
        a = np.deg2rad(amount)
        cos, sin = np.cos(a), np.sin(a)
        out = _affine(img, np.array([[cos, sin], [-sin, cos]]), np.zeros(2))
    elif kind == "scale":
        if amount <= 0:
            raise ValueError(f"scale must be > 0, got {amount}")
        out = _affine(img, np.eye(2) / amount, np.zeros(2))
    elif kind == "shift":
        out = _affine(img, np.eye(2), np.array([0.0, amount]))
    elif kind == "thickness":
        out = _thickness(img, amount)
    else:                                                    # noise
        if amount < 0:
            raise ValueError(f"noise must be >= 0, got {amount}")
        rng = np.random.default_rng(0) if rng is None else rng
        out = img + rng.normal(0.0, amount, img.shape).astype(np.float32)
    out = np.clip(out, 0.0, 1.0).astype(np.float32).reshape(-1, SIDE * SIDE)
    return out[0] if single else out


def robustness_curve(model, x: np.ndarray, y: np.ndarray, kind: str, amounts=None,
                     normalise: bool = False, seed: int = 0) -> np.ndarray:
    """The model's accuracy on the digits x, y at each amount of one distortion.

    x : (N, 784) float32 digits as the network sees them, y : (N,) int64 labels
    kind : a key of DISTORTIONS; amounts : the amounts to try (default DISTORTIONS[kind].curve)
    normalise : put the distorted digits through ``normalise_digits`` first (centre and deskew), as
        the app's pipeline would do with a drawing
    seed : the noise of kind "noise" (the same noise pattern at every amount, only stronger)

    Returns (len(amounts),) float64 accuracies in [0, 1]. Costs one forward pass over x per amount.
    """
    from .preprocess import normalise_digits

    x, _ = _as_batch(x)
    y = np.asarray(y, np.int64)
    if y.shape != (len(x),) or len(x) == 0:
        raise ValueError(f"need one label per digit (N >= 1), got {len(x)} digits and labels {y.shape}")
    amounts = DISTORTIONS[kind].curve if amounts is None else amounts
    accuracies = []
    for amount in amounts:
        xd = distort(x, kind, amount, np.random.default_rng(seed))
        if normalise:
            xd = normalise_digits(xd)
        accuracies.append(float(np.mean(model.predict(xd) == y)))
    return np.array(accuracies)
