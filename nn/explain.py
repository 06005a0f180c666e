"""Reading one digit and explaining the answer: what the Draw page computes, without any UI.

    read        one forward pass: the ten probabilities, every hidden layer's activations, and the
                saliency map (the gradient of the predicted class's score with respect to the input)
    verdict     the honest answer: the digit when the network is sure, otherwise "not sure" with its
                top two guesses and the reason
    DigitProfile  what real digits look like (how much ink, how wide), measured on training digits:
                a drawing far outside that range is not a digit, whatever the softmax says
    teach       a few gradient steps that teach a model one drawing without forgetting the rest

Why the "not sure" rule needs more than the confidence: a softmax always sums to one, so a network
trained only on digits gives a confident answer for a scribble too (the first shipped network reads a
filled square as an "8" with over 99%). Its confidence only means something on inputs that look like
its training data, so the rule first checks that the input does (``DigitProfile``), then that the
confidence is high enough.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .augment import AugmentConfig, augment_batch
from .layers import Dense
from .model import MLP
from .optim import SGD
from .preprocess import SIDE, normalise_digits

__all__ = ["MIN_CONFIDENCE", "Reading", "read", "hidden_activations", "Verdict", "verdict",
           "DigitProfile", "TEACH_AUGMENT", "Lesson", "teach"]

# Below this probability for the top class the answer is "not sure". Measured with the shipped
# 784-512-256-10 model on 1,000 synthetic mouse drawings (nn.synth, seed 2026), 97.5% read right:
#   threshold  0.6: 1.0% not sure, 2.2% confidently wrong;  0.9: 2.7% not sure, 1.6% confidently wrong.
# Only about a third of the extra "not sure" answers a higher threshold gives would be wrong ones (its
# mistakes, mostly a 1 with a flag read as a 7, come with any confidence), so 0.6 it is.
MIN_CONFIDENCE = 0.6


# --------------------------------------------------------------------------------------------------
# One reading


@dataclass(frozen=True)
class Reading:
    """What the network made of one input.

    probs : (C,) float32, the class probabilities (sum 1)
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


def hidden_activations(model: MLP) -> list[np.ndarray]:
    """After ``model.forward`` on one sample: the output of each hidden block (Dense, then any
    BatchNorm, activation and Dropout), which is what the next Dense layer reads. A list of
    (units,) arrays, one per hidden layer, copied out of the model."""
    dense = [i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]
    return [model.outputs[nxt - 1][0].copy() for nxt in dense[1:]]


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
    probs = model.loss_fn.probabilities(scores)[0].astype(np.float32)
    hidden = hidden_activations(model)
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

    A drawing beyond either limit is unlike anything the network was trained on: a scribble, a filled
    blob, a horizontal line. The limits come from data, not from a model, so they hold for every model
    trained on MNIST-format digits.
    """

    max_ink: float
    max_aspect: float
    quantile: float

    @classmethod
    def from_digits(cls, x: np.ndarray, quantile: float = 0.998) -> "DigitProfile":
        """x : (N, 784) float in [0, 1], normalised digits (``normalise_digits``), N >= 1."""
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != SIDE * SIDE or len(x) == 0:
            raise ValueError(f"DigitProfile needs (N, 784) digits with N >= 1, got shape {x.shape}")
        if not 0.5 <= quantile <= 1:
            raise ValueError(f"quantile must be in [0.5, 1], got {quantile}")
        return cls(max_ink=float(np.quantile(x.sum(axis=1), quantile)),
                   max_aspect=float(np.quantile(_aspect(x), quantile)), quantile=quantile)

    def unusual(self, x: np.ndarray) -> str:
        """"" when x (1, 784) or (784,) looks like an ordinary digit, else why it does not."""
        x = np.asarray(x, np.float32).reshape(-1, SIDE * SIDE)
        share = f"{self.quantile:.1%}".replace(".0%", "%")
        if float(x.sum()) > self.max_ink:
            return f"it has more ink than {share} of real digits (a scribble, or a filled shape?)"
        if float(_aspect(x)[0]) > self.max_aspect:
            return f"it is wider and flatter than {share} of real digits (a dash?)"
        return ""


def _aspect(x: np.ndarray, level: float = 0.2) -> np.ndarray:
    """Width / height of the bounding box of the pixels above ``level``: (N,) for x (N, 784)."""
    ink = x.reshape(-1, SIDE, SIDE) > level
    rows, cols = ink.any(axis=2), ink.any(axis=1)

    def extent(m: np.ndarray) -> np.ndarray:
        first = m.argmax(axis=1)
        last = SIDE - 1 - m[:, ::-1].argmax(axis=1)
        return np.where(m.any(axis=1), last - first + 1, 1)

    return extent(cols) / extent(rows)


# --------------------------------------------------------------------------------------------------
# The honest answer


@dataclass(frozen=True)
class Verdict:
    """The answer to show.

    sure : True when ``digit`` can be shown as the answer
    digit : the predicted class (also when not sure: it is then only the best guess)
    top2 : ((class, probability), (class, probability)), the two most probable classes
    reason : "" when sure, else why not, for the person
    """

    sure: bool
    digit: int
    top2: tuple[tuple[int, float], tuple[int, float]]
    reason: str

    def guesses(self) -> str:
        """'3 (45%) or 5 (38%)'."""
        (a, pa), (b, pb) = self.top2
        return f"{a} ({pa:.0%}) or {b} ({pb:.0%})"


def verdict(probs: np.ndarray, unusual: str = "", min_confidence: float = MIN_CONFIDENCE) -> Verdict:
    """Decide whether to give an answer or say "not sure".

    probs : (C,) class probabilities, C >= 2
    unusual : "" or why the input does not look like a digit (``DigitProfile.unusual``)

    Not sure when the input is unusual (the softmax is meaningless there, however high), or when the
    top probability is below ``min_confidence``.
    """
    probs = np.asarray(probs, np.float64).ravel()
    if probs.size < 2:
        raise ValueError(f"verdict needs at least 2 class probabilities, got {probs.size}")
    order = np.argsort(-probs, kind="stable")
    top2 = ((int(order[0]), float(probs[order[0]])), (int(order[1]), float(probs[order[1]])))
    if unusual:
        reason = (f"This does not look like a digit: {unusual}. The network has to pick a digit anyway, "
                  "and its confidence means little on something so unlike what it was trained on.")
    elif top2[0][1] < min_confidence:
        reason = (f"The network's confidence ({top2[0][1]:.0%}) is below {min_confidence:.0%}: "
                  "the drawing is ambiguous to it.")
    else:
        reason = ""
    return Verdict(sure=not reason, digit=top2[0][0], top2=top2, reason=reason)


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
