"""nn.evaluate and ``python -m nn.evaluate``: the report, labelled folders, calibrating and recording."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nn.data import DIGIT_NAMES, load_mnist_sample
from nn.evaluate import EvalSet, evaluate, evaluate_scores, load_eval_set, load_labelled_folder, scores_of
from nn.explain import judge_batch
from nn.metrics import confusion_matrix
from nn.model import MLP, ModelConfig
from nn.optim import Adam
from nn.preprocess import normalise_digits

REPO = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "nn.evaluate", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def sample():
    ds = load_mnist_sample()
    return ds, normalise_digits(ds.x_train[:2000]), normalise_digits(ds.x_val[:300])


@pytest.fixture(scope="module")
def small_model(sample, tmp_path_factory):
    """A 784-32-10 net trained briefly on 2,000 bundled digits (about 90%), saved to a file."""
    ds, x, _ = sample
    model = MLP(ModelConfig(784, (32,), 10), seed=0)
    opt = Adam(0.003)
    for _ in range(3):
        for i in range(0, 2000, 50):
            model.train_step(x[i:i + 50], ds.y_train[i:i + 50])
            opt.step(model.params(), model.grads())
    path = tmp_path_factory.mktemp("models") / "small.npz"
    model.save_with_card(path, {"dataset": "mnist-sample", "note": "test model"})
    return path


def as_canvas_png(path: Path, digit: np.ndarray) -> None:
    """A 28x28 digit drawn large, white on black, as a PNG file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((digit.reshape(28, 28) * 255).astype(np.uint8)).resize((140, 140), Image.BILINEAR).save(path)


@pytest.fixture(scope="module")
def folder(sample, tmp_path_factory):
    """Twenty bundled test digits as image files in both layouts, a blank image and stray files."""
    ds, _, _ = sample
    root = tmp_path_factory.mktemp("labelled")
    for i in range(20):
        label = int(ds.y_val[i])
        path = root / str(label) / f"d{i}.png" if i % 2 else root / f"{label}_d{i}.png"
        as_canvas_png(path, ds.x_val[i])
    Image.new("L", (100, 100), 0).save(root / "5_blank.png")
    Image.new("L", (100, 100), 0).save(root / "unlabelled.png")          # no label: ignored
    (root / "3").mkdir(exist_ok=True)
    (root / "3" / "notes.txt").write_text("not an image")
    as_canvas_png(root / "3" / "nested" / "x.png", ds.x_val[0])            # too deep: ignored
    return root


def test_labelled_folder_reads_both_layouts(folder, sample):
    ds, _, _ = sample
    data = load_labelled_folder(folder)
    assert data.x.shape == (20, 784) and data.x.dtype == np.float32
    assert sorted(data.y.tolist()) == sorted(ds.y_val[:20].tolist())
    assert data.class_names == DIGIT_NAMES
    assert [Path(f).name for f, _ in data.skipped] == ["5_blank.png"]
    assert "empty" in data.skipped[0][1] or "No digit" in data.skipped[0][1]
    assert load_eval_set(str(folder)).x.shape == (20, 784)


def test_a_folder_without_labelled_images_says_how_to_name_them(tmp_path):
    Image.new("L", (50, 50), 0).save(tmp_path / "photo.png")
    with pytest.raises(ValueError, match=r"DIR/7/a.png.*7_a.png"):
        load_labelled_folder(tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_eval_set("cifar")


def test_report_matches_the_models_own_answers(small_model, sample):
    ds, _, x = sample
    model = MLP.load(small_model)
    data = EvalSet("test", x, ds.y_val[:300], DIGIT_NAMES, "300 digits")
    report = evaluate(model, data)
    predicted = model.predict(x)
    assert report["accuracy"] == pytest.approx(np.mean(predicted == data.y), abs=1e-6)
    assert report["errors"] == int(np.sum(predicted != data.y)) and report["n"] == 300
    cm = confusion_matrix(data.y, predicted, 10)
    for row in report["per_class"]:
        k = row["class"]
        assert row["n"] == cm[k].sum() and row["accuracy"] == pytest.approx(cm[k, k] / cm[k].sum(), abs=1e-6)
    counts = [p["count"] for p in report["confused_pairs"]]
    assert counts == sorted(counts, reverse=True) and len(counts) <= 10
    for p in report["confused_pairs"]:
        assert p["true"] != p["predicted"] and cm[p["true"], p["predicted"]] == p["count"]
    c = report["calibration"]
    assert c["temperature"] == 1.0 and c["ece_before"] == c["ece_after"]
    assert sum(b["count"] for b in c["bins_after"]) == 300
    sure = np.array([v.sure for v in judge_batch(model, x)])
    ok = predicted == data.y
    assert report["not_sure"]["wrong_flagged"] == pytest.approx(np.mean(~sure[~ok]), abs=1e-5)
    assert report["not_sure"]["right_flagged"] == pytest.approx(np.mean(~sure[ok]), abs=1e-5)
    json.dumps(report)                                        # JSON-ready
    # the Draw page's "About this model" leaves out the costly "not sure" block, nothing else
    short = evaluate_scores(model, scores_of(model, x), x, data.y, data.class_names, not_sure=False)
    assert "not_sure" not in short and short == {k: v for k, v in report.items() if k in short}


def test_the_models_temperature_changes_the_confidence_not_the_answers(small_model, sample):
    ds, _, x = sample
    model = MLP.load(small_model)
    data = EvalSet("test", x, ds.y_val[:300], DIGIT_NAMES, "300 digits")
    plain = evaluate(model, data)
    model.meta["temperature"] = 3.0
    hot = evaluate(model, data)
    assert hot["accuracy"] == plain["accuracy"] and hot["per_class"] == plain["per_class"]
    assert hot["calibration"]["ece_before"] == plain["calibration"]["ece_before"]
    assert hot["calibration"]["mean_confidence_after"] < plain["calibration"]["mean_confidence_after"]


def test_cli_on_a_folder_calibrates_and_records(small_model, folder, tmp_path):
    weights = tmp_path / "m.npz"
    weights.write_bytes(small_model.read_bytes())
    proc = run("--weights", weights, "--dataset", folder)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["n"] == 20 and report["skipped"][0]["file"].endswith("5_blank.png")
    assert report["calibration"]["temperature"] == 1.0 and "saved" not in report

    proc = run("--weights", weights, "--dataset", "mnist-sample", "--calibrate", "--record")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    fit = report["calibration_fit"]
    assert fit["n_fit"] == fit["n_check"] == 1000 and fit["ece_after"] <= fit["ece_before"] + 0.005
    card = json.loads(weights.with_suffix(".json").read_text())
    model = MLP.load(weights)
    assert model.meta == card and card["temperature"] == fit["temperature"]
    assert card["note"] == "test model"                                   # the rest of the card is kept
    recorded = card["evaluations"]["mnist-sample"]
    assert recorded["accuracy"] == report["accuracy"] and "--calibrate" in recorded["command"]
    assert report["calibration"]["temperature"] == card["temperature"]


def test_cli_errors(tmp_path, small_model):
    proc = run("--weights", small_model, "--dataset", "cifar")
    assert proc.returncode == 1 and "unknown dataset 'cifar'" in proc.stderr
    bad = tmp_path / "bad.npz"
    bad.write_text("junk")
    proc = run("--weights", bad, "--dataset", "mnist-sample")
    assert proc.returncode == 2 and "not a readable model file" in proc.stderr
    proc = run("--weights", small_model, "--dataset", "mnist-sample", "--bins", "0")
    assert proc.returncode == 2
