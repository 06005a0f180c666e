"""How good is a model, and how far can its confidence be trusted? ``python -m nn.evaluate`` (nn/cli.py)

    python -m nn.evaluate --weights weights/default.npz --dataset mnist

prints one JSON object: accuracy, per-class accuracy, the most confused pairs, calibration (expected
calibration error with T = 1 and with the model's temperature, and the reliability-diagram bins), the
share of wrong and of right answers the "not sure" rule flags (``nn.explain.judge``), and the time per
prediction. The data can be

    mnist, fashion-mnist   the official 10,000 test images (nn.data: cache or system package)
    mnist-sample           the bundled sample's 2,000 test digits (they come from MNIST's TRAINING set:
                           a model trained on full MNIST has seen them)
    synth-canvas, synth-paper   out-of-MNIST digits made by nn.synth (seed 2026, 200 per class unless
                           told otherwise), through the full drawing/photo pipeline (``preprocess``)
    a folder               labelled image files, read like ``python -m nn.predict`` reads them:
                           DIR/<label>/<any name>.png, or DIR/<label>_<any name>.png, where <label> is
                           a class number (0-9 for digits); PNG, JPEG, GIF, BMP, WebP or TIFF

Images from nn.data are normalised as in training (``normalise_digits``); the other images go through
``preprocess`` exactly as a drawing does. Images ``preprocess`` finds blank or cannot read are listed
under "skipped".
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .calibrate import (N_BINS, expected_calibration_error, probabilities, reliability_bins, rounded_bins,
                        temperature_of)
from .data import DIGIT_NAMES, load_dataset
from .explain import (MIN_CONFIDENCE, MIN_STABILITY, SAMPLE_PROFILE, STABILITY_CHECKS, DigitProfile,
                      judge_batch)
from .metrics import confusion_matrix
from .model import MLP
from .preprocess import ImageError, load_image, normalise_digits, preprocess

__all__ = ["EVAL_SETS", "EvalSet", "load_eval_set", "load_labelled_folder", "scores_of", "evaluate",
           "evaluate_scores"]

EVAL_SETS = ("mnist", "fashion-mnist", "mnist-sample", "synth-canvas", "synth-paper")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
SYNTH_SEED = 2026
SYNTH_PER_CLASS = 200
_LABELLED_NAME = re.compile(r"(\d+)_.+")


@dataclass(frozen=True)
class EvalSet:
    """Labelled inputs ready for a network.

    name : the dataset name or the folder
    x : (N, 784) float32 in [0, 1], as the network sees them
    y : (N,) int64 labels
    class_names : one name per class
    description : where the inputs come from, for the person reading the report
    skipped : (file, reason) for every image preprocess found blank or could not read
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    description: str
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _normalised(x: np.ndarray, chunk: int = 2000) -> np.ndarray:
    # in slices: normalising 10,000 digits at once needs a few hundred MB of temporaries
    return np.concatenate([normalise_digits(x[i:i + chunk]) for i in range(0, len(x), chunk)])


def _through_pipeline(images, names: list[str]) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """``preprocess`` every image (an array, or a file to ``load_image``).

    Returns the inputs (K, 784) float32 of the usable images, their indices (K,), and (name, reason)
    for each image that is blank or cannot be read.
    """
    xs, kept, skipped = [], [], []
    for i, (image, name) in enumerate(zip(images, names)):
        try:
            result = preprocess(load_image(image) if isinstance(image, Path) else image)
        except ImageError as e:
            skipped.append((name, str(e)))
            continue
        if result.blank:
            skipped.append((name, result.reason))
            continue
        xs.append(result.x)
        kept.append(i)
    x = np.vstack(xs).astype(np.float32) if xs else np.zeros((0, 784), np.float32)
    return x, kept, skipped


def load_eval_set(name: str, synth_seed: int = SYNTH_SEED, synth_per_class: int = SYNTH_PER_CLASS) -> EvalSet:
    """One of EVAL_SETS by name, or a folder of labelled images (``load_labelled_folder``)."""
    if name in ("mnist", "fashion-mnist", "mnist-sample"):
        ds = load_dataset(name)
        what = {"mnist": "the official MNIST test set", "fashion-mnist": "the official Fashion-MNIST test set",
                "mnist-sample": "the bundled sample's test digits (from MNIST's training set)"}[name]
        return EvalSet(name, _normalised(np.asarray(ds.x_val)), np.asarray(ds.y_val), ds.class_names,
                       f"{what}: {len(ds.y_val):,} images")
    if name in ("synth-canvas", "synth-paper"):
        from .synth import synth_digits

        style = name.removeprefix("synth-")
        images, labels = synth_digits(synth_per_class, np.random.default_rng(synth_seed), style)
        x, kept, skipped = _through_pipeline(images, [f"{name} #{i}" for i in range(len(images))])
        return EvalSet(name, x, labels[kept], DIGIT_NAMES,
                       f"nn.synth {style} digits (not MNIST; seed {synth_seed}, {synth_per_class} per class), "
                       f"through preprocess", skipped)
    folder = Path(name)
    if folder.is_dir():
        return load_labelled_folder(folder)
    raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(EVAL_SETS)}, or give a folder of "
                     f"labelled images (DIR/<label>/*.png or DIR/<label>_*.png)")


def _label_of(path: Path, folder: Path) -> int | None:
    """The label a file's place gives it: its sub-folder's name, or its name's prefix before '_'."""
    parent = path.parent
    if parent != folder and parent.name.isdigit():
        return int(parent.name)
    match = _LABELLED_NAME.fullmatch(path.stem)
    return int(match.group(1)) if match and parent == folder else None


def load_labelled_folder(folder: str | Path, n_classes: int = 10) -> EvalSet:
    """Labelled images from a folder, each through ``preprocess`` (as ``python -m nn.predict`` reads it).

    Either layout, or both at once:
        folder/<label>/<any name>.<image suffix>     e.g. digits/7/mine.png
        folder/<label>_<any name>.<image suffix>     e.g. digits/7_mine.png
    <label> is a class number in [0, n_classes). Other files are ignored. Raises ValueError when no
    labelled image is found, naming the layouts.
    """
    folder = Path(folder)
    files, labels = [], []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        label = _label_of(path, folder)
        if label is not None and label < n_classes and path.parent in (folder, folder / str(label)):
            files.append(path)
            labels.append(label)
    if not files:
        raise ValueError(f"no labelled images in {folder}: put them in sub-folders named by their label "
                         f"(DIR/7/a.png) or name them <label>_<name> (DIR/7_a.png); image types: "
                         f"{', '.join(IMAGE_SUFFIXES)}")
    x, kept, skipped = _through_pipeline(files, [str(p) for p in files])
    if not kept:
        raise ValueError(f"none of the {len(files)} labelled images in {folder} could be read: "
                         f"{skipped[0][0]}: {skipped[0][1]}")
    y = np.array(labels, np.int64)[kept]
    names = DIGIT_NAMES if n_classes == 10 else tuple(str(k) for k in range(n_classes))
    return EvalSet(str(folder), x, y, names,
                   f"{len(files):,} labelled image files in {folder}, through preprocess", skipped)


def scores_of(model: MLP, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """The model's raw scores (logits) (N, output_dim) for x : (N, input_dim), in inference mode."""
    parts = [model.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, model.config.output_dim), model.dtype)


def evaluate(model: MLP, data: EvalSet, profile: DigitProfile | None = SAMPLE_PROFILE,
             n_bins: int = N_BINS, top_pairs: int = 10) -> dict:
    """The JSON-ready report of ``model`` on ``data`` (see ``evaluate_scores``), plus the prediction time.

    profile : the digit profile of the "not sure" rule; None for models of something other than digits.
    """
    if data.x.shape[1] != model.config.input_dim:
        raise ValueError(f"the model takes {model.config.input_dim} inputs, {data.name} has {data.x.shape[1]}")
    started = time.perf_counter()
    scores = scores_of(model, data.x)
    seconds = time.perf_counter() - started
    report = {"dataset": data.name, "data": data.description}
    report.update(evaluate_scores(model, scores, data.x, data.y, data.class_names, profile, n_bins, top_pairs))
    report["ms_per_image_batched"] = round(1000 * seconds / max(len(data.y), 1), 4)
    if data.skipped:
        report["skipped"] = [{"file": f, "reason": r} for f, r in data.skipped]
    return report


def evaluate_scores(model: MLP, scores: np.ndarray, x: np.ndarray, y: np.ndarray,
                    class_names: tuple[str, ...], profile: DigitProfile | None = SAMPLE_PROFILE,
                    n_bins: int = N_BINS, top_pairs: int = 10, not_sure: bool = True) -> dict:
    """Accuracy, per-class accuracy, confused pairs, calibration and the "not sure" shares.

    scores : (N, output_dim) the model's raw scores for x : (N, 784), y : (N,) int64 labels
    The calibration block compares the probabilities with T = 1 ("before") and with the model's own
    temperature ("after"; the same when it has none) on these samples. The "not sure" block applies
    the app's rule (``nn.explain.judge_batch``) to every sample; ``not_sure=False`` leaves it out
    (it costs several forward passes per sample: most of the time of a report).
    """
    n_classes = len(class_names)
    probs_raw = model.loss_fn.probabilities(scores).astype(np.float64)
    probs = probabilities(model, scores).astype(np.float64)
    predicted = probs.argmax(axis=1)
    correct = predicted == y
    cm = confusion_matrix(y, predicted, n_classes)
    per_class = [{"class": k, "name": class_names[k], "n": int(cm[k].sum()),
                  "accuracy": round(float(cm[k, k] / cm[k].sum()), 6) if cm[k].sum() else None}
                 for k in range(n_classes)]
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:top_pairs]
    pairs = [{"true": int(i), "predicted": int(j), "count": int(off[i, j])}
             for i, j in zip(*np.unravel_index(order, off.shape)) if off[i, j] > 0]
    temperature = temperature_of(model) if model.config.loss == "softmax_ce" else None
    report = {
        "n": int(len(y)),
        "accuracy": round(float(correct.mean()), 6) if len(y) else None,
        "errors": int((~correct).sum()),
        "per_class": per_class,
        "confused_pairs": pairs,
        "calibration": {
            "temperature": temperature,
            "ece_before": round(expected_calibration_error(probs_raw, y, n_bins), 5),
            "ece_after": round(expected_calibration_error(probs, y, n_bins), 5),
            "mean_confidence_before": round(float(probs_raw.max(axis=1).mean()), 5),
            "mean_confidence_after": round(float(probs.max(axis=1).mean()), 5),
            "bins_before": rounded_bins(reliability_bins(probs_raw, y, n_bins)),
            "bins_after": rounded_bins(reliability_bins(probs, y, n_bins)),
        },
    }
    if not not_sure:
        return report
    sure = np.array([v.sure for v in judge_batch(model, x, profile)], bool)
    report["not_sure"] = {
        "rule": (f"nn.explain.judge: not sure when the calibrated confidence is below {MIN_CONFIDENCE:.0%}, "
                 f"when the answer's mean probability over {len(STABILITY_CHECKS)} mildly distorted copies is "
                 f"below {MIN_STABILITY:.0%}"
                 + (", or when the input is unlike real digits (SAMPLE_PROFILE)" if profile else "")),
        "wrong_flagged": round(float(np.mean(~sure[~correct])), 5) if (~correct).any() else None,
        "right_flagged": round(float(np.mean(~sure[correct])), 5) if correct.any() else None,
        "n_wrong": int((~correct).sum()),
        "n_right": int(correct.sum()),
        "accuracy_when_sure": round(float(correct[sure].mean()), 6) if sure.any() else None,
        "share_sure": round(float(sure.mean()), 5) if len(sure) else None,
    }
    return report


if __name__ == "__main__":
    from .cli import evaluate_main

    sys.exit(evaluate_main())
