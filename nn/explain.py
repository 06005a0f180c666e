"""Reading one digit and explaining the answer: what the Draw page computes, without any UI.

    read        one forward pass: the ten probabilities, every hidden layer's activations, and the
                saliency map (the gradient of the predicted class's score with respect to the input)
    verdict     the honest answer: the digit when the network is sure, otherwise "not sure" with its
                top two guesses and the reason
    stability   how well an answer survives small changes of the drawing (turned, resized, thickened)
    judge       THE "not sure" rule, from a model and an input: calibrated probabilities (the model's
                temperature, nn.calibrate), the digit profile and the stability into ``verdict``. The
                Draw page and ``python -m nn.predict`` both decide with it, so they always agree.
    DigitProfile  what real digits look like (how much ink, how wide, how long their strokes are),
                measured on training digits: a drawing far outside that range is not a digit, whatever
                the softmax says, and a lone dot or blob is too little to read at all;
                SAMPLE_PROFILE is the one measured on the bundled sample, the one every caller uses
    teach       a few gradient steps that teach a model one drawing without forgetting the rest

Why the "not sure" rule needs more than the confidence: a softmax always sums to one, so a network
trained only on digits gives a confident answer for a scribble too (the first shipped network reads a
filled square as an "8" with over 99%). Its confidence only means something on inputs that look like
its training data, so the rule first checks that the input does (``DigitProfile``), then that the
confidence is high enough. And even on digits its confidence can be high for a reading that hangs on a
detail (a "1" with a long flag, read as a "7" with 99.9%): such a reading flips when the same drawing
is turned or thickened a little, which ``stability`` measures, so a fragile answer is "not sure" too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .augment import AugmentConfig, augment_batch
from .calibrate import calibrated_proba, probabilities
from .metrics import hidden_outputs
from .model import MLP
from .optim import SGD
from .preprocess import SIDE, normalise_digits
from .robustness import distort

__all__ = ["MIN_CONFIDENCE", "STABILITY_CHECKS", "MIN_STABILITY", "Reading", "read",
           "Verdict", "verdict", "stability", "judge", "judge_batch", "DigitProfile", "SAMPLE_PROFILE",
           "stroke_length", "TEACH_AUGMENT", "Lesson", "teach"]

# The "not sure" rule (``judge``) has three parts: the input must look like a digit (DigitProfile), its
# calibrated confidence must reach MIN_CONFIDENCE, and the answer must survive small changes of the
# drawing (``stability`` at least MIN_STABILITY). Tuned with the shipped 784-1024-256-10 model on
# out-of-MNIST digits from nn.synth with seed 1 (2,000 canvas and 2,000 paper digits; the figures in
# weights/default.json are measured on seed 2026, which was not used for tuning):
#   its mistakes there (mostly a "1" with a long flag read as a "7") come with high confidence: a
#   confidence threshold of 0.95 flags only 59% (canvas) and 68% (paper) of them, and 1.5% of the right
#   answers; the same answers are fragile, though, and stability >= 0.85 flags 73% and 74% of the
#   mistakes for 0.9% and 1.1% of the right answers (on the official MNIST test set: 90% and 1.5%).
#   Once stability is checked, raising MIN_CONFIDENCE from 0.6 to 0.9 changes these by 2 points at most.
MIN_CONFIDENCE = 0.6

# The copies of a drawing ``stability`` reads (kind and amount for nn.robustness.distort): smaller
# changes than the training augmentation made, so a clearly drawn digit keeps its reading on all of them.
STABILITY_CHECKS = (("rotation", -15.0), ("rotation", 15.0), ("scale", 0.85), ("scale", 1.15),
                    ("thickness", 0.7), ("thickness", -0.5))
# Below this mean probability of its answer over those copies, the answer is "not sure" (fragile).
MIN_STABILITY = 0.85


# --------------------------------------------------------------------------------------------------
# One reading


@dataclass(frozen=True)
class Reading:
    """What the network made of one input.

    probs : (C,) float32, the class probabilities (sum 1), calibrated with the model's temperature
    predicted : int, the most probable class
    hidden : one (units,) float32 array per hidden layer: its output after the activation
    gradient : (784,) float32, d score[predicted] / d x: positive where more ink would raise the
        predicted class's score (before the softmax), negative where it would lower it
    """

    probs: np.ndarray
    predicted: int
    hidden: list[np.ndarray]
    gradient: np.ndarray

    @property
    def confidence(self) -> float:
        return float(self.probs[self.predicted])

    def saliency(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two (28, 28) maps in [-1, 1] for display, each divided by its largest magnitude:

        gradient        where ink would push the decision towards (+) or away from (-) the class
        gradient*input  where the ink that is there did push it (zero wherever there is no ink)

        x : (1, 784) or (784,), the input that was read.
        """
        g = self.gradient.reshape(SIDE, SIDE)
        gx = g * np.asarray(x, np.float32).reshape(SIDE, SIDE)
        return _unit(g), _unit(gx)


def _unit(a: np.ndarray) -> np.ndarray:
    """a / max|a| (all zeros stays all zeros), float32."""
    m = float(np.abs(a).max())
    return (a / m if m > 0 else np.zeros_like(a)).astype(np.float32)


def read(model: MLP, x: np.ndarray) -> Reading:
    """Classify one input and explain it, using ``model``'s own forward and backward passes.

    x : (1, input_dim) float32, e.g. ``preprocess(image).x``

    The model's layers cache their inputs during the call, so a model shared between threads
    must be read under a lock. Costs two forward passes and one backward pass (well under 5 ms
    for a 784-256-128-10 network).
    """
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[0] != 1:
        raise ValueError(f"read expects one input of shape (1, D), got {x.shape}")
    scores = model.forward(x)
    probs = probabilities(model, scores)[0]
    hidden = [h[0].copy() for h in hidden_outputs(model)]
    predicted = int(probs.argmax())
    gradient = model.input_gradient(x, predicted)[0].astype(np.float32)
    return Reading(probs=probs, predicted=predicted, hidden=hidden, gradient=gradient)


# --------------------------------------------------------------------------------------------------
# What real digits look like


@dataclass(frozen=True)
class DigitProfile:
    """Limits of ordinary digits in the network's input format, measured on real ones.

    max_ink : total ink (sum of the 784 grey levels) of all but the heaviest ``1 - quantile`` digits
    max_aspect : width / height of the ink's bounding box, likewise
    min_length : how many stroke widths long the ink is (``stroke_length``), of all but the
        ``1 - quantile`` shortest digits (0 checks nothing)

    A drawing beyond max_ink or max_aspect is unlike anything the network was trained on: a scribble, a
    filled shape, a horizontal line. One below min_length is a lone dot or blob, about as thick as it is
    long: there are no strokes to read (``too_little``), and the page says so instead of guessing. The
    limits come from data, not from a model, so they hold for every model trained on MNIST-format digits.
    """

    max_ink: float
    max_aspect: float
    quantile: float
    min_length: float = 0.0

    @classmethod
    def from_digits(cls, x: np.ndarray, quantile: float = 0.998) -> "DigitProfile":
        """x : (N, 784) float in [0, 1], normalised digits (``normalise_digits``), N >= 1."""
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != SIDE * SIDE or len(x) == 0:
            raise ValueError(f"DigitProfile needs (N, 784) digits with N >= 1, got shape {x.shape}")
        if not 0.5 <= quantile <= 1:
            raise ValueError(f"quantile must be in [0.5, 1], got {quantile}")
        return cls(max_ink=float(np.quantile(x.sum(axis=1), quantile)),
                   max_aspect=float(np.quantile(_aspect(x), quantile)), quantile=quantile,
                   min_length=float(np.quantile(stroke_length(x), 1 - quantile)))

    def too_little(self, x: np.ndarray) -> str:
        """"" when x (1, 784) or (784,) has strokes to read, else why not (a lone dot or blob).

        Preprocessing scales any ink up to MNIST's 20 px box, so a dot arrives as big as a digit: what
        gives it away is its shape, about as thick as it is long, where every digit is drawn with strokes
        several times longer than they are thick. Only a roundish shape counts (its box no more than
        ROUND times as tall as wide or as wide as tall): the stubbiest real digits, a short thick 1
        (2.2% of MNIST's test 1s are below min_length), are tall and narrow."""
        aspect = float(_aspect(np.asarray(x, np.float32).reshape(-1, SIDE * SIDE))[0])
        if float(stroke_length(x)[0]) < self.min_length and 1 / ROUND <= aspect <= ROUND:
            return ("Nothing to read: a single dot or blob of ink, about as thick as it is long, has none "
                    "of the strokes a digit is drawn with. Draw a whole digit.")
        return ""

    def unusual(self, x: np.ndarray) -> str:
        """"" when x (1, 784) or (784,) looks like an ordinary digit, else why it does not."""
        x = np.asarray(x, np.float32).reshape(-1, SIDE * SIDE)
        share = f"{self.quantile:.1%}".replace(".0%", "%")
        if float(x.sum()) > self.max_ink:
            return f"it has more ink than {share} of real digits (a scribble, or a filled shape?)"
        if float(_aspect(x)[0]) > self.max_aspect:
            return f"it is wider and flatter than {share} of real digits (a dash?)"
        return ""


def stroke_length(x: np.ndarray) -> np.ndarray:
    """How many stroke widths long the ink of each digit is: (N,) float64 for x (N, 784) or (784,).

    With A the area of the ink above 0.5 and P its perimeter (4-neighbour ink/background edges, times
    pi/4 for their overcount of a curve, as nn.preprocess measures stroke width), the mean stroke width
    is w = 2A / P and the strokes' length L = A / w, so L / w = P^2 / (4 A): pi for a round dot (the
    smallest any shape can have), about L / w for a curved stroke (a straight one's edges are not
    overcounted, so it gets (pi/4)^2 of that). No ink gives 0.
    """
    ink = np.asarray(x, np.float32).reshape(-1, SIDE, SIDE) > 0.5
    area = ink.sum(axis=(1, 2)).astype(np.float64)
    padded = np.pad(ink, ((0, 0), (1, 1), (1, 1)))
    edges = ((padded[:, 1:, :] != padded[:, :-1, :]).sum(axis=(1, 2))
             + (padded[:, :, 1:] != padded[:, :, :-1]).sum(axis=(1, 2)))
    perimeter = edges * np.pi / 4
    return np.divide(perimeter ** 2, 4 * area, out=np.zeros_like(area), where=area > 0)


def _aspect(x: np.ndarray, level: float = 0.2) -> np.ndarray:
    """Width / height of the bounding box of the pixels above ``level``: (N,) for x (N, 784)."""
    ink = x.reshape(-1, SIDE, SIDE) > level
    rows, cols = ink.any(axis=2), ink.any(axis=1)

    def extent(m: np.ndarray) -> np.ndarray:
        first = m.argmax(axis=1)
        last = SIDE - 1 - m[:, ::-1].argmax(axis=1)
        return np.where(m.any(axis=1), last - first + 1, 1)

    return extent(cols) / extent(rows)


# Measured once by ``DigitProfile.from_digits(normalise_digits(load_mnist_sample().x_train))`` (the
# 8,000 bundled training digits; tests/test_explain.py checks these numbers against that), so that
# nothing has to load and normalise the sample before it can say "not sure".
ROUND = 1.5          # a lone dot or blob: its box about as wide as tall (DigitProfile.too_little)
SAMPLE_PROFILE = DigitProfile(max_ink=215.3125, max_aspect=20 / 13, quantile=0.998, min_length=4.4368)


# --------------------------------------------------------------------------------------------------
# The honest answer


@dataclass(frozen=True)
class Verdict:
    """The answer to show.

    sure : True when ``digit`` can be shown as the answer
    digit : the predicted class (also when not sure: it is then only the best guess)
    top2 : ((class, probability), (class, probability)), the two most probable classes
    reason : "" when sure, else why not, for the person
    probs : (C,) float64, the probabilities the verdict was made from
    stability : the mean probability of ``digit`` over mildly distorted copies, when it was measured
    readable : False when there is nothing to read (a lone dot: ``DigitProfile.too_little``): then
        ``reason`` says so and the guesses mean nothing, so they are not to be shown
    """

    sure: bool
    digit: int
    top2: tuple[tuple[int, float], tuple[int, float]]
    reason: str
    probs: np.ndarray | None = None
    stability: float | None = None
    readable: bool = True

    @property
    def confidence(self) -> float:
        """The probability of ``digit``."""
        return self.top2[0][1]

    def guesses(self) -> str:
        """'3 (45%) or 5 (38%)'."""
        (a, pa), (b, pb) = self.top2
        return f"{a} ({pa:.0%}) or {b} ({pb:.0%})"


def verdict(probs: np.ndarray, unusual: str = "", min_confidence: float = MIN_CONFIDENCE,
            stability: float | None = None, min_stability: float = MIN_STABILITY,
            too_little: str = "") -> Verdict:
    """Decide whether to give an answer or say "not sure".

    probs : (C,) class probabilities, C >= 2
    unusual : "" or why the input does not look like a digit (``DigitProfile.unusual``)
    stability : None, or the mean probability of the top class over mildly distorted copies of the
        input (``stability``)
    too_little : "" or why there is nothing to read (``DigitProfile.too_little``)

    Nothing to read (``readable`` False, no guess worth showing) when ``too_little`` says so. Not sure
    when the input is unusual (the softmax is meaningless there, however high), when the top
    probability is below ``min_confidence``, or when the answer does not survive small changes of the
    drawing (stability below ``min_stability``). A figure compared with its threshold is written
    precisely enough to show below it ("84.96%", not "85%", against 85%).
    """
    probs = np.asarray(probs, np.float64).ravel()
    if probs.size < 2:
        raise ValueError(f"verdict needs at least 2 class probabilities, got {probs.size}")
    order = np.argsort(-probs, kind="stable")
    top2 = ((int(order[0]), float(probs[order[0]])), (int(order[1]), float(probs[order[1]])))
    if too_little:
        reason = too_little
    elif unusual:
        reason = (f"This does not look like a digit: {unusual}. The network has to pick a digit anyway, "
                  "and its confidence means little on something so unlike what it was trained on.")
    elif top2[0][1] < min_confidence:
        shown, limit = _below(top2[0][1], min_confidence)
        reason = f"The network's confidence ({shown}) is below {limit}: the drawing is ambiguous to it."
    elif stability is not None and stability < min_stability:
        shown, limit = _below(stability, min_stability)
        reason = (f"The answer is fragile: on copies of the drawing turned, resized or thickened a little, "
                  f"the network gives {top2[0][0]} only {shown} on average (below {limit}), so a slightly "
                  "different hand could get another answer.")
    else:
        reason = ""
    return Verdict(sure=not reason, digit=top2[0][0], top2=top2, reason=reason, probs=probs,
                   stability=stability, readable=not too_little)


def _below(value: float, limit: float) -> tuple[str, str]:
    """(value, limit) as percentages for a value below its limit, with the fewest decimals (0 to 3) at
    which the value still reads as below it: ("84.96%", "85%"), never ("85%", "85%")."""
    def pct(v: float, d: int) -> str:
        text = f"{100 * v:.{d}f}"
        return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"

    for d in range(4):
        if float(f"{100 * value:.{d}f}") < float(f"{100 * limit:.{d}f}"):
            return f"{100 * value:.{d}f}%", pct(limit, d)
    # closer than 0.001 points: the value cut (not rounded) to 3 decimals, still below
    return f"{np.floor(value * 1e5) / 1e3:.3f}%", pct(limit, 3)


def stability(model: MLP, x: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """How well each answer survives small changes: the mean calibrated probability of ``classes``
    (default: the predicted ones) over the STABILITY_CHECKS copies of each input, each normalised
    again (``normalise_digits``) as a drawing would be.

    x : (N, 784) float32 digits as the network sees them. Returns (N,) float64 in [0, 1].
    A digit drawn clearly keeps its reading when turned 15 degrees or drawn a little thicker (the
    network was trained on such copies); a reading that hangs on a detail, such as a "1" whose flag
    makes it half a "7", does not. Costs one forward pass per check.
    """
    x = np.asarray(x, np.float32)
    if classes is None:
        classes = calibrated_proba(model, x).argmax(axis=1)
    # all copies at once: (K * N, 784), copy k of input i in row k * N + i. Each copy is straightened
    # and centred again, as preprocess does to every drawing: the network never sees a slanted digit,
    # so an unstraightened one would test nothing a user can draw
    copies = normalise_digits(np.concatenate([distort(x, kind, amount) for kind, amount in STABILITY_CHECKS]))
    probs = calibrated_proba(model, copies).reshape(len(STABILITY_CHECKS), len(x), -1)
    return probs[:, np.arange(len(x)), classes].mean(axis=0, dtype=np.float64)


def judge(model: MLP, x: np.ndarray, profile: DigitProfile | None = SAMPLE_PROFILE) -> Verdict:
    """The answer to show for one input: the one "not sure" rule of the Draw page and of nn.predict.

    x : (1, 784) float32, a preprocessed drawing (``preprocess(image).x``)
    profile : what ordinary digits look like (default SAMPLE_PROFILE); None skips that check (for a
        model of something other than digits)

    Not sure when the input is unlike real digits, when the calibrated confidence is below
    MIN_CONFIDENCE, or when the answer is fragile (``stability`` below MIN_STABILITY). The
    probabilities are the model's calibrated ones (``nn.calibrate``: its stored temperature), so
    the confidence shown and the thresholds mean the same for every calibrated model.
    Runs 1 + len(STABILITY_CHECKS) forward passes (a few milliseconds): a model shared between
    threads must be judged under a lock.
    """
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[0] != 1:
        raise ValueError(f"judge expects one input of shape (1, D), got {x.shape}")
    return judge_batch(model, x, profile)[0]


def judge_batch(model: MLP, x: np.ndarray, profile: DigitProfile | None = SAMPLE_PROFILE) -> list[Verdict]:
    """``judge`` for every row of x : (N, 784), with batched forward passes (to measure the rule on a
    whole test set)."""
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[1] != SIDE * SIDE:
        raise ValueError(f"judge expects 28x28 digits as (N, 784), got shape {x.shape}")
    probs = calibrated_proba(model, x)
    held = stability(model, x, probs.argmax(axis=1))
    return [verdict(p, profile.unusual(row) if profile is not None else "", stability=float(h),
                    too_little=profile.too_little(row) if profile is not None else "")
            for p, row, h in zip(probs, x, held)]


# --------------------------------------------------------------------------------------------------
# Teaching one drawing

# Gentler than the training defaults: the copies of the drawing should stay recognisably the same
# drawing, only not pixel-identical, so the network learns the digit rather than those exact pixels.
TEACH_AUGMENT = AugmentConfig(max_shift=1.5, max_rotate=8.0, scale_range=(0.9, 1.1), max_shear=0.15,
                              elastic_alpha=8.0, thickness_prob=0.3, max_thickness=0.5)


@dataclass(frozen=True)
class Lesson:
    """What one call to ``teach`` did.

    label : the digit that was taught
    before, after : (C,) float32, the drawing's class probabilities before and after
    steps : gradient steps taken
    losses : (steps,) the loss of each mixed batch
    """

    label: int
    before: np.ndarray
    after: np.ndarray
    steps: int
    losses: list[float]

    @property
    def learned(self) -> bool:
        return int(self.after.argmax()) == self.label


def teach(model: MLP, x: np.ndarray, label: int, x_ref: np.ndarray, y_ref: np.ndarray,
          rng: np.random.Generator, max_steps: int = 40, min_steps: int = 3, target: float = 0.7,
          lr: float = 0.05, copies: int = 4, batch_size: int = 128,
          augment: AugmentConfig = TEACH_AUGMENT) -> Lesson:
    """Teach ``model`` (in place) that the drawing ``x`` is a ``label``, without forgetting the rest.

    x : (1, 784) float32, a preprocessed drawing
    x_ref, y_ref : (N, 784) float32 normalised digits and (N,) int64 labels it already knows
        (the bundled sample). Each step mixes ``copies`` slightly distorted copies of the drawing with
        ``batch_size - copies`` of these, drawn at random: the update is pulled towards the new example
        and held back by the old ones (rehearsal, against catastrophic forgetting).
    rng : the source of all randomness (which digits, which distortions)

    Takes plain SGD steps until the drawing itself is read as ``label`` with probability at least
    ``target`` (after at least ``min_steps``), or ``max_steps`` have run; a drawing that looks very
    unlike ``label`` may need another lesson. Why SGD and not Adam: a fresh Adam moves every weight by
    about ``lr`` in its first steps whatever its gradient (with the first, smaller shipped model it lost
    13 points of test accuracy on average at lr 1e-3); SGD moves mostly the weights this drawing depends on. Measured with
    these defaults and the shipped 784-512-256-10 model: teaching each of its 18 misread bundled test
    digits its true label worked in one lesson and cost at most 0.35 points of accuracy on the test
    digits; teaching 20 drawings a deliberately wrong label worked for 19 in one lesson and cost at
    most 2.2 points.

    ``model`` must be a private copy: the shared shipped model is read-only and raises ValueError.
    """
    x = np.asarray(x, np.float32)
    if x.shape != (1, SIDE * SIDE):
        raise ValueError(f"teach expects one preprocessed drawing of shape (1, 784), got {x.shape}")
    n_classes = model.n_classes
    if not (isinstance(label, (int, np.integer)) and 0 <= label < n_classes):
        raise ValueError(f"label must be a class in [0, {n_classes}), got {label!r}")
    if len(x_ref) != len(y_ref) or len(x_ref) == 0:
        raise ValueError(f"need as many reference labels as digits (> 0), got {len(x_ref)} and {len(y_ref)}")
    if not 1 <= copies < batch_size:
        raise ValueError(f"copies must be in [1, batch_size), got {copies} with batch_size {batch_size}")
    if not 1 <= min_steps <= max_steps:
        raise ValueError(f"need 1 <= min_steps <= max_steps, got {min_steps} and {max_steps}")
    if not all(p.flags.writeable for p in model.params().values()):
        raise ValueError("this model is read-only (shared by every session): teach a copy, model.copy()")

    label = int(label)
    before = model.predict_proba(x)[0].astype(np.float32)
    optimizer = SGD(lr)
    y_batch = np.empty(batch_size, np.int64)
    y_batch[:copies] = label
    drawing = np.repeat(x, copies, axis=0)
    losses: list[float] = []
    for step in range(1, max_steps + 1):
        pick = rng.integers(0, len(x_ref), batch_size - copies)
        xb = np.concatenate([normalise_digits(augment_batch(drawing, rng, augment)), x_ref[pick]])
        y_batch[copies:] = y_ref[pick]
        loss, _ = model.train_step(xb, y_batch)
        optimizer.step(model.params(), model.grads())
        losses.append(float(loss))
        if step >= min_steps and model.predict_proba(x)[0, label] >= target:
            break
    after = model.predict_proba(x)[0].astype(np.float32)
    return Lesson(label=label, before=before, after=after, steps=len(losses), losses=losses)
