"""ui/shared.py: each learner's models are theirs, names cannot escape their folder, the shipped models
cannot be overwritten, and the model list reads file headers only.

The functions that need a session run inside small AppTest scripts (in this process, so that
monkeypatching ui.shared reaches them); each AppTest is one browser session.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from nn.model import MLP, ModelConfig
from ui import shared
from ui.shared import LEARNER_KEY, MAX_NAME, safe_model_name

HOSTILE = ["../../x", "../../../etc/passwd", "/etc/passwd", "/tmp/x.npz", "a\0b", "x" * 5000,
           "..\\..\\windows", "~/x", "$HOME", "name.npz", "a/../../b", "\u202eevil", "ｆｕｌｌ", "très-bien",
           "über/../../alles", "%2e%2e%2fx", "nul\x00.npz", " spaced out "]


def _session_script(names: list[str]) -> None:
    """One page run: where each name would be saved, or the message refusing it."""
    import streamlit as st

    from ui.shared import learner_models_dir, remember_learner, save_path

    remember_learner()
    results = {}
    for name in names:
        try:
            results[name] = str(save_path(name))
        except ValueError as e:
            results[name] = "refused: " + str(e)
    st.session_state["results"] = results
    st.session_state["folder"] = str(learner_models_dir())


def session(names: list[str] = ()) -> AppTest:
    at = AppTest.from_function(_session_script, args=(list(names),), default_timeout=30).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def weights_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NN_WEIGHTS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def tiny() -> MLP:
    return MLP(ModelConfig(784, (4,), 10), seed=0)


# ----- names ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("my model", "my-model"), ("../../x", "x"), ("/etc/passwd", "etc-passwd"), ("a\0b", "a-b"),
    ("très-bien", "tres-bien"), ("ｆｕｌｌ", "full"), ("My digits!", "My-digits"), ("a_b-c", "a_b-c"),
    ("name.npz", "name-npz"), ("x" * 5000, "x" * MAX_NAME), ("-" * 50 + "a", "a"),
])
def test_names_are_sanitised(text, expected):
    assert safe_model_name(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "..", "/", "\0", "日本語", "-_-", "default", "DEFAULT",
                                  "mnist-sample", "../default"])
def test_empty_and_shipped_names_are_refused(text):
    with pytest.raises(ValueError, match="name"):
        safe_model_name(text)


# ----- save paths ---------------------------------------------------------------------------------------

def test_every_save_path_stays_in_the_learners_own_folder(weights_dir):
    at = session(HOSTILE)
    folder = Path(at.session_state["folder"])
    assert folder.parent == weights_dir / "learners" and folder.is_dir()
    for name, result in at.session_state["results"].items():
        if result.startswith("refused: "):
            continue
        path = Path(result)
        assert path.parent == folder and path.suffix == ".npz", name
        assert path.resolve().parent == folder.resolve(), name
        assert len(path.stem) <= MAX_NAME and path.stem.isascii() and "\0" not in result, name
    assert list(weights_dir.rglob("*")) == [weights_dir / "learners", folder]      # nothing written


def test_two_browsers_never_share_a_folder(weights_dir):
    first, second = session(["mine"]), session(["mine"])
    a, b = first.session_state["results"]["mine"], second.session_state["results"]["mine"]
    assert a != b and Path(a).parent != Path(b).parent
    # what one saves, the other does not list
    tiny().save(a)
    for at, listed in ((first, True), (second, False)):
        names = [e.name for e in session_list(at.session_state[LEARNER_KEY]) if e.kind == "yours"]
        assert ("mine" in names) is listed


def _list_script() -> None:
    import streamlit as st

    from ui.shared import list_digit_models

    st.session_state["entries"] = list_digit_models().entries


def session_list(token: str | None = None) -> list:
    at = AppTest.from_function(_list_script, default_timeout=30)
    if token is not None:
        at.session_state[LEARNER_KEY] = token
    at.run()
    assert not at.exception, at.exception
    return at.session_state["entries"]


def test_the_shipped_models_cannot_be_overwritten_even_when_models_go_next_to_them(tmp_path, monkeypatch):
    # NN_WEIGHTS_DIR unset: the models folder is the shipped one (here a copy of it)
    shipped = tmp_path / "weights"
    shipped.mkdir()
    tiny().save(shipped / "default.npz")
    tiny().save(shipped / "other-shipped.npz")
    monkeypatch.delenv("NN_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(shared, "SHIPPED_DIR", shipped)
    monkeypatch.setattr(shared, "SHIPPED_MODEL", shipped / "default.npz")
    at = session(["default", "Default", "other-shipped", "../default", "../../weights/default", "fine"])
    results = at.session_state["results"]
    for name in ("default", "Default", "other-shipped", "../default"):
        assert results[name].startswith("refused: ") and "shipped model" in results[name]
    for name in ("../../weights/default", "fine"):
        assert Path(results[name]).parent.parent == shipped / "learners"


def test_a_symlink_planted_in_the_folder_is_not_followed(weights_dir):
    at = session()
    folder = Path(at.session_state["folder"])
    folder.mkdir(parents=True)
    target = weights_dir / "elsewhere.npz"
    (folder / "evil.npz").symlink_to(target)
    at = AppTest.from_function(_session_script, args=(["evil"],), default_timeout=30)
    at.session_state[LEARNER_KEY] = folder.name
    at.run()
    assert at.session_state["results"]["evil"].startswith("refused: ")
    assert not target.exists()


# ----- the learner cookie ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cookie", ["", "short", "../../../../etc/passwd", "a" * 21 + "/", "a" * 23,
                                    "a" * 21 + "\0", "é" * 22])
def test_a_malformed_cookie_gives_a_fresh_learner(weights_dir, monkeypatch, cookie):
    monkeypatch.setattr(shared, "_cookie", lambda: cookie)
    at = session()
    token = at.session_state[LEARNER_KEY]
    assert token != cookie and len(token) == 22 and Path(at.session_state["folder"]).name == token
    # and the browser is told to keep the new one
    assert any(f"nn_learner={token}" in h.proto.body for h in at.get("html"))


def test_a_browser_that_comes_back_with_its_cookie_is_the_same_learner(weights_dir, monkeypatch):
    first = session()
    token = first.session_state[LEARNER_KEY]
    monkeypatch.setattr(shared, "_cookie", lambda: token)
    again = session()
    assert again.session_state[LEARNER_KEY] == token
    assert again.session_state["folder"] == first.session_state["folder"]
    assert not again.get("html")          # nothing to set: the cookie is there


# ----- the list ----------------------------------------------------------------------------------------

def test_the_list_reads_headers_only_and_isolates_broken_files(weights_dir, monkeypatch):
    token = "t" * 22
    folder = weights_dir / "learners" / token
    folder.mkdir(parents=True)
    tiny().save(folder / "good.npz", meta={"val_accuracy": 0.5, "dataset": "mnist-sample"})
    (folder / "junk.npz").write_bytes(b"junk")
    (folder / "empty.npz").write_bytes(b"")
    (folder / "notes.txt").write_text("not a model")
    (folder / ".hidden.npz.tmp").write_bytes(b"half written")
    MLP(ModelConfig(784, (4,), 3), seed=0).save(folder / "three-classes.npz")
    monkeypatch.setattr(MLP, "load", classmethod(lambda *a, **k: pytest.fail("a model was loaded")))
    entries = {e.name: e for e in session_list(token) if e.kind == "yours"}
    assert sorted(entries) == ["empty", "good", "junk", "three-classes"]
    assert entries["good"].error is None and entries["good"].card["val_accuracy"] == 0.5
    assert "784 → 4 → 10" in shared.describe(entries["good"].config, entries["good"].card)
    for name in ("empty", "junk"):
        assert entries[name].error and f"{name}.npz" in entries[name].error
    assert "expected 10" in entries["three-classes"].error


def test_published_models_are_listed_for_everyone(weights_dir):
    (weights_dir / "published").mkdir(parents=True)
    tiny().save(weights_dir / "published" / "class-model.npz")
    for _ in range(2):
        entries = session_list()
        assert [e.label for e in entries if e.kind == "published"] == ["class-model (published)"]
        assert entries[0].label == "default (shipped)"


def test_a_taught_copy_is_not_described_as_measured_on_held_out_digits():
    # its accuracy is on the bundled digits, and its base model trained on all of MNIST's training set
    config = ModelConfig(784, (4,), 10)
    taught = shared.describe(config, {"val_accuracy": 0.9995, "base_model": "default", "dataset": "mnist"})
    assert "99.95% of the 2,000 bundled test digits right" in taught and "held-out" not in taught
    assert "50.0% on held-out digits" in shared.describe(config, {"val_accuracy": 0.5})
