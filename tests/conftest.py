"""Fixtures shared by the test files: a seeded generator, and Train pages opened under AppTest."""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import open_app


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def train_apps(monkeypatch, tmp_path):
    """``train_apps(query=None, at=None)`` opens the Train page (see open_app), with saved models
    under tmp_path; every training process the pages started is closed afterwards."""
    monkeypatch.setenv("NN_WEIGHTS_DIR", str(tmp_path / "weights"))
    opened = []

    def opener(query: dict | None = None, at: AppTest | None = None) -> AppTest:
        opened.append(open_app("pages/train.py", query, at))
        return opened[-1]

    yield opener
    for at in opened:
        run = at.session_state["train_run"] if "train_run" in at.session_state else None
        if run is not None:
            run.close()
