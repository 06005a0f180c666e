"""Honest confidence: temperature scaling, and how to measure calibration.

A network's softmax "confidence" is only a score. It is *calibrated* when, among the answers given
with 80% confidence, about 80% are right. Networks are often not: trained to drive the loss down,
they end up over- or under-confident. Temperature scaling (Guo, Pleiss, Sun & Weinberger, "On
Calibration of Modern Neural Networks", ICML 2017) fixes that with one number T > 0:

    p = softmax(scores / T)        T > 1 softens the probabilities, T < 1 sharpens them

T is fitted on held-out digits (never the training digits: there the network is over-sure) by
minimising their cross-entropy. Dividing every score by the same T keeps their order, so the
predicted class, and the accuracy, do not change: only the confidence does.

    fit_temperature          the T minimising the cross-entropy of held-out scores
    calibrate                fit T on one half of a held-out set, measure on the other half
    probabilities            a model's probabilities for its scores, with the temperature in its meta
    calibrated_proba         the same for inputs: the calibrated ``predict_proba``
    expected_calibration_error, reliability_bins   how far confidence is from accuracy

A model's temperature lives in ``model.meta["temperature"]`` (and so in its card): loading the model
and calling ``calibrated_proba`` gives calibrated probabilities; a model without one uses T = 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .losses import softmax

__all__ = ["TEMPERATURE_RANGE", "temperature_of", "scaled_softmax", "probabilities", "calibrated_proba",
           "fit_temperature", "expected_calibration_error", "reliability_bins", "rounded_bins", "Calibration",
           "calibrate", "split_halves"]

# A fitted temperature outside this range means the held-out set is tiny or the model is broken.
TEMPERATURE_RANGE = (0.05, 20.0)
N_BINS = 15      # reliability-diagram bins (Guo et al. use 15)


def temperature_of(model) -> float:
    """The temperature stored in ``model.meta["temperature"]``, or 1.0 when there is none.

    Raises ValueError for a stored value that is not a number in TEMPERATURE_RANGE.
    """
    t = model.meta.get("temperature", 1.0)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (
            TEMPERATURE_RANGE[0] <= t <= TEMPERATURE_RANGE[1]):
        raise ValueError(f"the model's temperature must be a number in [{TEMPERATURE_RANGE[0]}, "
                         f"{TEMPERATURE_RANGE[1]}], got {t!r}")
    return float(t)


def scaled_softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(scores / T) : (N, C) float64 for scores : (N, C)."""
    return softmax(np.asarray(scores, np.float64) / temperature)


def probabilities(model, scores: np.ndarray) -> np.ndarray:
    """``model``'s calibrated class probabilities (N, C) float32 for its own scores : (N, output_dim).

    For a softmax model this is softmax(scores / T), T = ``temperature_of(model)``; for other losses
    (a single sigmoid output, squared error) temperature scaling does not apply and this is the loss's
    own probabilities.
    """
    if model.config.loss != "softmax_ce":
        return model.loss_fn.probabilities(scores).astype(np.float32)
    return scaled_softmax(scores, temperature_of(model)).astype(np.float32)


def calibrated_proba(model, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Class probabilities (N, C) float32 of ``model`` for x : (N, input_dim), with its temperature
    (``probabilities``): what ``model.predict_proba`` gives, made honest."""
    x = np.asarray(x)
    parts = [probabilities(model, model.forward(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, model.n_classes), np.float32)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The T in TEMPERATURE_RANGE minimising the mean cross-entropy of softmax(scores / T).

    scores : (N, C) logits of held-out samples, y : (N,) int labels, N >= 1.

    The cross-entropy is a smooth function of log T with one minimum, so a golden-section search over
    log T finds it to about 1e-6 (60 steps); each step costs one softmax over the scores.
    """
    scores = np.asarray(scores, np.float64)
    y = np.asarray(y, np.int64)
    if scores.ndim != 2 or scores.shape[1] < 2 or len(scores) == 0 or y.shape != (len(scores),):
        raise ValueError(f"need scores (N, C) with N >= 1, C >= 2 and labels (N,), got {scores.shape} "
                         f"and {y.shape}")
    if y.min() < 0 or y.max() >= scores.shape[1]:
        raise ValueError(f"labels must be in [0, {scores.shape[1]})")
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        z = scores / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, y]))

    lo, hi = math.log(TEMPERATURE_RANGE[0]), math.log(TEMPERATURE_RANGE[1])
    golden = (math.sqrt(5) - 1) / 2
    a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - golden * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + golden * (hi - lo)
            fb = nll(b)
    return float(math.exp((lo + hi) / 2))


def _check_probs(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs, y = np.asarray(probs, np.float64), np.asarray(y, np.int64)
    if probs.ndim != 2 or y.shape != (len(probs),):
        raise ValueError(f"need probabilities (N, C) and labels (N,), got {probs.shape} and {y.shape}")
    return probs, y


def reliability_bins(probs: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> list[dict]:
    """The numbers behind a reliability diagram: answers grouped by confidence.

    probs : (N, C) class probabilities, y : (N,) int labels.
    Bin k holds the answers whose confidence (top probability) is in (k / n_bins, (k + 1) / n_bins].
    Returns one dict per bin: lower, upper (its edges), count, confidence (the mean confidence of its
    answers) and accuracy (the share of them that are right); confidence and accuracy are None for
    an empty bin. A calibrated model has accuracy close to confidence in every bin.
    """
    probs, y = _check_probs(probs, y)
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a whole number >= 1, got {n_bins!r}")
    confidence = probs.max(axis=1) if len(probs) else np.zeros(0)
    correct = probs.argmax(axis=1) == y if len(probs) else np.zeros(0, bool)
    # bin k is (k/n, (k+1)/n]; a confidence of exactly 0 (impossible for a softmax) joins bin 0
    index = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    bins = []
    for k in range(n_bins):
        members = index == k
        count = int(members.sum())
        bins.append({"lower": k / n_bins, "upper": (k + 1) / n_bins, "count": count,
                     "confidence": float(confidence[members].mean()) if count else None,
                     "accuracy": float(correct[members].mean()) if count else None})
    return bins


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE: the gap |accuracy - confidence| of each reliability bin, weighted by its share of answers.

    probs : (N, C), y : (N,). 0 is perfect; 0.05 means confidence is off by 5 points on average.
    """
    bins = reliability_bins(probs, y, n_bins)
    n = sum(b["count"] for b in bins)
    if n == 0:
        return 0.0
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]) / n)


def split_halves(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (fit, check) of a seeded random split of range(n) into two halves (n >= 2)."""
    if n < 2:
        raise ValueError(f"need at least 2 samples to split, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


@dataclass(frozen=True)
class Calibration:
    """What ``calibrate`` found.

    temperature : the fitted T
    n_fit, n_check : held-out samples used to fit T, and the other ones used to measure it
    ece_before, ece_after : expected calibration error on the check half with T = 1 and with T
    nll_before, nll_after : mean cross-entropy on the check half, likewise
    bins_before, bins_after : reliability_bins on the check half, likewise
    """

    temperature: float
    n_fit: int
    n_check: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    bins_before: list[dict]
    bins_after: list[dict]

    def summary(self) -> dict:
        """The JSON-ready figures for a model card (bins included)."""
        return {"temperature": round(self.temperature, 4), "n_fit": self.n_fit, "n_check": self.n_check,
                "ece_before": round(self.ece_before, 5), "ece_after": round(self.ece_after, 5),
                "nll_before": round(self.nll_before, 5), "nll_after": round(self.nll_after, 5),
                "bins_before": rounded_bins(self.bins_before), "bins_after": rounded_bins(self.bins_after)}


def rounded_bins(bins: list[dict], digits: int = 5) -> list[dict]:
    """``reliability_bins`` with every float rounded, for JSON."""
    return [{k: (round(v, digits) if isinstance(v, float) else v) for k, v in b.items()} for b in bins]


def _nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-300))))


def calibrate(scores: np.ndarray, y: np.ndarray, seed: int = 0, n_bins: int = N_BINS) -> Calibration:
    """Fit a temperature on one seeded half of held-out (scores, y) and measure it on the other half.

    scores : (N, C) logits of held-out samples (N >= 2), y : (N,) int labels.
    Measuring on samples the temperature was not fitted on keeps the "after" figures honest.
    """
    scores, y = np.asarray(scores, np.float64), np.asarray(y, np.int64)
    fit, check = split_halves(len(scores), seed)
    t = fit_temperature(scores[fit], y[fit])
    before, after = scaled_softmax(scores[check]), scaled_softmax(scores[check], t)
    return Calibration(temperature=t, n_fit=len(fit), n_check=len(check),
                       ece_before=expected_calibration_error(before, y[check], n_bins),
                       ece_after=expected_calibration_error(after, y[check], n_bins),
                       nll_before=_nll(before, y[check]), nll_after=_nll(after, y[check]),
                       bins_before=reliability_bins(before, y[check], n_bins),
                       bins_after=reliability_bins(after, y[check], n_bins))
