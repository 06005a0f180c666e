"""The shipped models: load without pickle, match their cards, read digits, and say how sure they are.

    weights/default.npz        trained on all 60,000 MNIST training digits (the app's default)
    weights/mnist-sample.npz   trained on the 8,000 digits of the bundled sample (the second choice)

These guard the artifacts and the preprocessing together: a worse model file, or a change to
``preprocess``/``normalise_digits`` that no longer matches what the models were trained on, fails here.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nn.calibrate import TEMPERATURE_RANGE, temperature_of
from nn.data import import_idx, load_mnist_sample
from nn.model import MLP
from nn.preprocess import normalise_digits, preprocess
from nn.synth import synth_digits

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
MODELS = ("default", "mnist-sample")
SHARED_MNIST = Path("/work/shared/data/mnist")


def card(name: str) -> dict:
    return json.loads((WEIGHTS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", MODELS)
def test_card_is_the_files_own_metadata(name):
    model = MLP.load(WEIGHTS / f"{name}.npz", expect_input_dim=784, expect_output_dim=10)
    c = card(name)
    assert model.meta == c
    assert c["architecture"] == model.describe()
    assert c["command"].startswith(f"python -m nn.train --dataset {c['dataset']} ")
    assert "--augment" in c["command"] and "--seed" in c["command"]
    assert (WEIGHTS / f"{name}.npz").stat().st_size < 5_000_000
    # calibrated on held-out digits: the official MNIST test set, which neither model trained on
    assert TEMPERATURE_RANGE[0] < temperature_of(model) == c["temperature"] < TEMPERATURE_RANGE[1]
    fit = c["calibration"]
    assert fit["temperature"] == c["temperature"] and fit["n_fit"] == fit["n_check"] == 5000
    assert fit["ece_after"] < fit["ece_before"] and fit["nll_after"] < fit["nll_before"]
    assert len(fit["bins_after"]) == 15


def test_the_default_was_trained_on_all_of_mnist():
    c = card("default")
    assert c["dataset"] == "mnist" and c["n_train"] == 60_000
    assert c["command"].endswith("--out weights/default.npz")
    official = c["evaluations"]["mnist"]
    assert official["n"] == 10_000 and official["accuracy"] >= 0.994
    assert c["test_accuracy"] == official["accuracy"]
    assert len(official["per_class"]) == 10 and official["confused_pairs"]
    sample = card("mnist-sample")
    assert sample["dataset"] == "mnist-sample"
    for look in ("synth-canvas", "synth-paper"):          # better than the sample-trained model off MNIST
        assert c["evaluations"][look]["accuracy"] > sample["evaluations"][look]["accuracy"]
        flags = c["evaluations"][look]["not_sure"]
        assert flags["wrong_flagged"] > 0.5 and flags["right_flagged"] < 0.05


def test_the_sample_model_reads_the_bundled_test_digits_as_its_card_says():
    data = load_mnist_sample()
    model = MLP.load(WEIGHTS / "mnist-sample.npz")
    _, acc = model.evaluate(normalise_digits(data.x_val), data.y_val)
    assert acc >= 0.98
    assert abs(acc - card("mnist-sample")["test_accuracy"]) < 1e-9          # the card tells the truth


@pytest.mark.parametrize("name, least", [("default", 0.96), ("mnist-sample", 0.93)])
def test_reads_synthetic_drawings_it_never_saw(name, least):
    """Mouse-like strokes in canvas look and pen-on-paper photos (nn.synth, never trained on)."""
    model = MLP.load(WEIGHTS / f"{name}.npz")
    for style in ("canvas", "paper"):
        images, labels = synth_digits(20, np.random.default_rng(7), style=style)
        x = np.vstack([preprocess(im).x for im in images])
        acc = np.mean(model.predict(x) == labels)
        assert acc >= least, f"{style}: {acc:.3f}"


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"no shared MNIST copy at {SHARED_MNIST}")
def test_official_test_accuracy_as_the_card_says(tmp_path):
    """``python -m nn.evaluate --dataset mnist`` on the official 10,000 test digits, for both models."""
    import_idx("mnist", SHARED_MNIST, cache_dir=tmp_path)
    env = dict(os.environ, NN_DATA_DIR=str(tmp_path))
    for name in MODELS:
        proc = subprocess.run([sys.executable, "-m", "nn.evaluate", "--weights", f"weights/{name}.npz",
                               "--dataset", "mnist"], capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        recorded = card(name)["evaluations"]["mnist"]
        assert report["accuracy"] == recorded["accuracy"] and report["per_class"] == recorded["per_class"]
        assert report["calibration"]["ece_after"] < report["calibration"]["ece_before"]
    assert card("default")["evaluations"]["mnist"]["accuracy"] >= 0.994
