"""What the pages share: read-only resources cached once per server process, and paths.

Only read-only things live here (the shipped model, the bundled data). Anything a user
changes (a training run, a personal model) lives in that user's st.session_state.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from nn.data import Dataset, load_dataset
from nn.model import MLP, ModelFileError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DIR = ROOT / "weights"
SHIPPED_MODEL = SHIPPED_DIR / "default.npz"


def user_models_dir() -> Path:
    """Where models saved from the pages go: NN_WEIGHTS_DIR, or weights/ next to the app."""
    return Path(os.environ.get("NN_WEIGHTS_DIR", SHIPPED_DIR))


@st.cache_resource(show_spinner=False)
def shipped_model() -> MLP:
    """The default digit model, loaded once per process and shared read-only by every session."""
    model = MLP.load(SHIPPED_MODEL, expect_input_dim=784, expect_output_dim=10)
    for p in model.state().values():
        p.flags.writeable = False      # shared: nobody may train it in place
    return model


@st.cache_data(show_spinner=False, max_entries=8)
def dataset(name: str, **kwargs) -> Dataset:
    """A dataset by name (cached per argument set: every session sees the same arrays)."""
    return load_dataset(name, **kwargs)


@dataclass(frozen=True)
class ModelEntry:
    name: str                 # shown in the picker
    path: Path
    error: str | None         # why the file cannot be used, or None


@st.cache_resource(show_spinner=False, max_entries=64)
def _load_cached(path: str, mtime: float) -> MLP:
    model = MLP.load(path, expect_input_dim=784, expect_output_dim=10)
    for p in model.state().values():
        p.flags.writeable = False
    return model


def load_model(entry: ModelEntry) -> MLP:
    """A read-only model for a picker entry (shared; copy it before training)."""
    if entry.path == SHIPPED_MODEL:
        return shipped_model()
    return _load_cached(str(entry.path), entry.path.stat().st_mtime)


def list_digit_models() -> list[ModelEntry]:
    """The shipped model first, then every .npz in the user models directory, each checked:
    a broken or incompatible file is listed with the reason instead of breaking the page."""
    entries = []
    paths = [SHIPPED_MODEL] + sorted(p for p in user_models_dir().glob("*.npz")
                                     if p.resolve() != SHIPPED_MODEL.resolve())
    for path in paths:
        name = "default (shipped)" if path == SHIPPED_MODEL else path.stem
        try:
            load_model(ModelEntry(name, path, None))
            entries.append(ModelEntry(name, path, None))
        except (ModelFileError, OSError) as e:
            entries.append(ModelEntry(name, path, str(e)))
    return entries


def safe_model_name(text: str) -> str:
    """A file-system-safe model name: letters, digits, '-' and '_' only, at most 40 characters.
    Raises ValueError for an empty result or the shipped model's reserved name."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text.strip()).strip("-_")[:40]
    if not name:
        raise ValueError("Give the model a name made of letters, digits, '-' or '_'.")
    if name.lower() == SHIPPED_MODEL.stem:
        raise ValueError(f"'{name}' is the shipped model's name: choose another.")
    return name
