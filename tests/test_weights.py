"""The shipped model: loads without pickle, matches its card, and reads digits.

These guard the artifact and the preprocessing together: a worse model file, or a change to
``preprocess``/``normalise_digits`` that no longer matches what the model was trained on, fails here.
"""
import json
from pathlib import Path

import numpy as np

from nn.data import load_mnist_sample
from nn.model import MLP
from nn.preprocess import normalise_digits, preprocess
from nn.synth import synth_digits

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def test_card_describes_the_file():
    model = MLP.load(WEIGHTS / "default.npz", expect_input_dim=784, expect_output_dim=10)
    card = json.loads((WEIGHTS / "default.json").read_text())
    assert card["architecture"] == model.describe()
    assert card["command"].startswith("python -m nn.train --dataset mnist-sample")
    assert "--augment" in card["command"] and "--seed" in card["command"]
    assert card["command"].endswith("--out weights/default.npz")
    assert (WEIGHTS / "default.npz").stat().st_size < 5_000_000


def test_at_least_98_percent_on_the_bundled_test_digits():
    data = load_mnist_sample()
    model = MLP.load(WEIGHTS / "default.npz")
    _, acc = model.evaluate(normalise_digits(data.x_val), data.y_val)
    card = json.loads((WEIGHTS / "default.json").read_text())
    assert acc >= 0.98
    assert abs(acc - card["test_accuracy"]) < 1e-9          # the card tells the truth


def test_reads_synthetic_drawings_it_never_saw():
    """Mouse-like strokes in canvas look and pen-on-paper photos (nn.synth, never trained on)."""
    model = MLP.load(WEIGHTS / "default.npz")
    for style in ("canvas", "paper"):
        images, labels = synth_digits(20, np.random.default_rng(7), style=style)
        x = np.vstack([preprocess(im).x for im in images])
        acc = np.mean(model.predict(x) == labels)
        assert acc >= 0.93, f"{style}: {acc:.3f}"
