"""The home page under AppTest: the tour, the shipped model's card, saved models and downloaded data."""
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from nn.model import MLP, ModelConfig
from ui.shared import LEARNER_KEY

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    weights, data = tmp_path / "weights", tmp_path / "data"
    weights.mkdir()
    data.mkdir()
    monkeypatch.setenv("NN_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("NN_DATA_DIR", str(data))
    monkeypatch.setattr("nn.data.SYSTEM_FOLDERS", {})      # not what this machine's packages installed
    return weights, data


def run_home() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    return at


def text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [c.value for c in at.code] + [w.value for w in at.warning])


def test_tour_of_every_page(dirs):
    at = run_home()
    assert at.title[0].value == "Neural network, by hand"
    # every page of the app's navigation, in its order
    assert [s.value for s in at.subheader][:4] == ["Train", "Weight init", "Draw", "Optimisers"]
    assert "Three pages" not in text(at)
    # a picture for each page whose screenshot exists, and no error for the others
    shots = [p for p in ("train", "weight_init", "draw", "race")
             if (ROOT / "docs" / "screenshots" / f"{p}.png").is_file()]
    assert len(at.image) == len(shots)


def test_the_shipped_model_is_said_to_be_trained_on_its_training_digits(dirs):
    card = json.loads((ROOT / "weights" / "default.json").read_text())
    page = text(run_home())
    assert f"Trained on: MNIST digits ({card['n_train']:,} examples)" in page and "all 70k" not in page


def test_shipped_model_card(dirs):
    card = json.loads((ROOT / "weights" / "default.json").read_text())
    page = text(run_home())
    assert card["architecture"] in page
    accuracy = card.get("test_accuracy", card.get("val_accuracy"))
    assert f"Accuracy on held-out digits: **{accuracy:.1%}**" in page
    assert card["date"] in page
    # what a reader of the page needs, not the card's pointers for its own readers ("under evaluations...")
    assert "(the official MNIST test set (10,000 digits), never trained on)" in page
    assert "evaluations." not in page
    # every command runs as the README says (Debian has no plain `python`): through the venv
    assert f".venv/bin/python {card['command'].removeprefix('python ')}" in page
    assert ".venv/bin/python -m streamlit run app.py" in page and ".venv/bin/python -m pip install" in page
    assert not re.search(r"(^|\n)(python|streamlit|pip) ", page)


def test_saved_models_are_counted_with_the_unusable_ones(dirs):
    weights, _ = dirs
    at = run_home()
    assert "**Your saved models (this browser)**: 0 in" in text(at)
    assert "**Published by your teacher**: 0 in" in text(at)
    shipped = len(list((ROOT / "weights").glob("*.npz")))
    assert f"**Shipped models**: {shipped} in `weights`" in text(at)
    folder = weights / "learners" / at.session_state[LEARNER_KEY]
    folder.mkdir(parents=True)
    MLP(ModelConfig(784, (8,), 10), seed=0).save(folder / "mine.npz")
    (folder / "broken.npz").write_bytes(b"junk")
    (weights / "published").mkdir()
    MLP(ModelConfig(784, (8,), 10), seed=0).save(weights / "published" / "for-all.npz")
    MLP(ModelConfig(784, (8,), 10), seed=0).save(weights / "learners" / "someone-else.npz")
    page = text(at.run())
    assert "**Your saved models (this browser)**: 2 in" in page and "(1 unusable)" in page
    assert "**Published by your teacher**: 1 in" in page


def test_the_model_counts_load_no_model(dirs, monkeypatch):
    weights, _ = dirs
    (weights / "published").mkdir()
    MLP(ModelConfig(784, (8,), 10), seed=0).save(weights / "published" / "for-all.npz")
    monkeypatch.setattr(MLP, "load", classmethod(lambda *a, **k: pytest.fail("a model was loaded")))
    assert "**Published by your teacher**: 1 in" in text(run_home())


def test_full_mnist_download_status_and_command(dirs):
    _, data = dirs
    page = text(run_home())
    assert "**MNIST** (70,000 images, 12 MB): not downloaded" in page
    assert ".venv/bin/python -m nn.data download mnist" in page
    assert "10,000 real MNIST digits" in page
    (data / "mnist").mkdir()
    for name in IDX_FILES:
        (data / "mnist" / name).write_bytes(b"")
    page = text(run_home())
    assert "**MNIST** (70,000 images): downloaded" in page
    assert "**Fashion-MNIST** (70,000 images, 31 MB): not downloaded" in page


def test_missing_model_card_is_reported_not_fatal(dirs, monkeypatch, tmp_path):
    import ui.shared as common

    monkeypatch.setattr(common, "SHIPPED_MODEL", tmp_path / "nowhere" / "default.npz")
    at = run_home()
    assert any("missing or unreadable" in w.value for w in at.warning)


def test_a_newcomer_is_pointed_at_the_first_lesson_then_the_others(dirs):
    from urllib.parse import parse_qsl

    from ui.lessons import LESSONS, lesson_query

    at = run_home()
    links = at.get("page_link")
    start = next(link.proto for link in links if link.proto.label == "Start the first lesson")
    assert start.page == LESSONS[0].page and dict(parse_qsl(start.query_string)) == lesson_query(LESSONS[0])
    listed = [link.proto for link in links if link.proto.query_string and link.proto.label != "Start the first lesson"]
    assert [dict(parse_qsl(p.query_string))["lesson"] for p in listed] == [lesson.slug for lesson in LESSONS]
    assert all(lesson.title in p.label for p, lesson in zip(listed, LESSONS))
    assert all(lesson.summary in text(at) for lesson in LESSONS)                      # one line each
    # the tour's links are still there, and every command box wraps instead of being cut off
    assert {p.proto.page for p in links if not p.proto.query_string} >= {"train", "weight_init", "draw"}
    assert all(c.proto.wrap_lines for c in at.code)
