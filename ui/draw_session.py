"""The Draw page's session: what each learner's Draw page keeps, and what its buttons do.

    reference          the bundled digits as the network sees them (read-only, shared by every session)
    shared_model_lock  one lock for reading the shared models (their layers cache the last batch)
    one_blas_thread    NumPy's BLAS on one thread in this server process (once)
    clear              Clear: a new, empty canvas (a new widget key)
    teach_drawing      Teach it: a few gradient steps of this session's own copy of the model
    forget, save       drop the taught copy, or save it in this learner's own folder
    taught_card        the taught copy's card: its base model's making and temperature, its lessons

Session state (all keys start with "draw_"): the canvas key, the model choice, the taught copy and
its lessons, the last lesson, the decoded photo, the drawing on screen. Nothing in a module global.
"""
from __future__ import annotations

import ctypes
import datetime as _dt
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from nn.data import load_mnist_sample
from nn.explain import teach
from nn.model import MLP
from nn.preprocess import normalise_digits
from ui.shared import list_digit_models, load_model, save_path
from ui.text import plain

ss = st.session_state
TAUGHT = "__taught__"                    # the picker's value for this session's taught copy
CANVAS_N, CANVAS_KEY = "draw_canvas_n", "draw_canvas_key"
MODEL, PERSONAL, LESSON = "draw_model", "draw_personal", "draw_lesson"
PHOTO, CURRENT_X, SAVE_MSG = "draw_photo", "draw_x", "draw_save_msg"
# What a taught copy's card does not keep of its base model's card: figures measured on the base model's
# weights (its official-test accuracy, its calibration), which the lessons changed, and the record of
# the command and file that made the base model.
BASE_MEASURES = ("evaluations", "calibration", "calibration_note", "test_accuracy", "test_set", "val_accuracy",
                 "train_accuracy", "command", "saved", "file", "renamed_from", "recipe_history",
                 "train_seconds", "train_seconds_note")


@dataclass(frozen=True)
class Reference:
    """The bundled digits, normalised as the network sees them (read-only, shared)."""
    x_train: np.ndarray      # (8000, 784) float32: rehearsal digits for "Teach it"
    y_train: np.ndarray      # (8000,) int64
    x_test: np.ndarray       # (2000, 784) float32: the forgetting check
    y_test: np.ndarray       # (2000,) int64


@st.cache_resource(show_spinner="Loading the bundled digits…")
def reference() -> Reference:
    ds = load_mnist_sample()
    # in slices: normalising all 8,000 at once needs ~100 MB of temporaries that the server's
    # memory would keep afterwards
    x_train, x_test = (np.concatenate([normalise_digits(x[i:i + 1000]) for i in range(0, len(x), 1000)])
                       for x in (ds.x_train, ds.x_val))
    for a in (x_train, x_test):
        a.flags.writeable = False
    return Reference(x_train, ds.y_train, x_test, ds.y_val)


@st.cache_resource
def shared_model_lock() -> threading.Lock:
    """One lock for reading the shared models: their layers cache inputs during a forward pass,
    so two sessions reading the same model at the same moment would mix up their saliency maps."""
    return threading.Lock()


@st.cache_resource(show_spinner=False)
def one_blas_thread() -> int | None:
    """Make NumPy's OpenBLAS use one thread in this server process; the number it used before, or
    None when there is no OpenBLAS to tell (another BLAS: nothing is changed).

    A stroke's forward passes are small (a few rows through the network), and the web server shares
    its cores with the other learners' sessions, their training processes and, on a small machine,
    browsers: OpenBLAS's default two threads then spin against them. Measured on the 2-core machine
    with one other busy process: a (7, 784) @ (784, 1024) product in 56 ms instead of 1.5 ms, and the
    Draw page's answer 60 ms later. The training processes already use one thread (ui/processes.py),
    as do the app processes of scripts/serve_cluster.py (OPENBLAS_NUM_THREADS=1); this does the same
    for a server started with plain `streamlit run`. OpenBLAS's setting is process-wide (its
    "_local" variant too), so it is done once, for every session, before the first reading."""
    names = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)            # already loaded by NumPy: the same library
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in names if hasattr(lib, n)), None)
        getter = next((getattr(lib, n.replace("set_", "get_")) for n in names
                       if hasattr(lib, n.replace("set_", "get_"))), None)
        if setter is None:
            continue
        before = int(getter()) if getter is not None else None
        setter.argtypes = [ctypes.c_int]
        setter(1)
        return before
    return None


def _loaded_openblas() -> list[str]:
    """The OpenBLAS libraries mapped into this process (Linux: /proc/self/maps), NumPy's among them."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower() and ".so" in line}
    return sorted(p for p in paths if p.startswith("/"))


def canvas_key() -> str:
    """The canvas's widget key for this session (Clear moves it on: a brand-new, empty canvas)."""
    ss.setdefault(CANVAS_N, 0)
    ss[CANVAS_KEY] = f"draw_canvas_{ss[CANVAS_N]}"
    return ss[CANVAS_KEY]


def clear() -> None:
    ss[CANVAS_N] += 1          # a new key gives a brand-new, empty canvas
    canvas_key()
    ss.pop(LESSON, None)


def teach_drawing() -> None:
    """Teach the drawing on screen to this session's copy of the model: the taught copy when it is
    the one chosen, otherwise a fresh copy of the chosen shared model (replacing any earlier copy).
    Then the whole page reruns: the picker now offers the taught copy."""
    x, label = ss.get(CURRENT_X), ss.get("draw_teach_label")
    if x is None or label is None:
        return
    ref = reference()
    personal = ss.get(PERSONAL)
    if ss.get(MODEL) != TAUGHT or personal is None:
        entry = list_digit_models().usable.get(ss.get(MODEL))
        if entry is None:
            return
        model = load_model(entry).copy()          # the shared model itself is never trained
        personal = {"model": model, "base": entry.name, "lessons": [],
                    "accuracy": [model.evaluate(ref.x_test, ref.y_test)[1]]}
    rng = np.random.default_rng([len(personal["lessons"]), int(label)])
    lesson = teach(personal["model"], x, int(label), ref.x_train, ref.y_train, rng)
    personal["lessons"].append(int(label))
    personal["accuracy"].append(personal["model"].evaluate(ref.x_test, ref.y_test)[1])
    ss[PERSONAL] = personal
    ss[LESSON] = {"lesson": lesson, "digest": digest(x)}
    ss[MODEL] = TAUGHT
    ss.pop(SAVE_MSG, None)
    st.rerun()


def forget() -> None:
    ss.pop(PERSONAL, None)
    ss.pop(LESSON, None)
    ss[MODEL] = next(iter(list_digit_models().usable), None)
    st.rerun()


def save() -> None:
    """Save the taught copy in this learner's own folder (ui.shared.save_path), never over a file;
    then rerun the page, whose picker lists the new model."""
    personal = ss.get(PERSONAL)
    if personal is None:
        return
    ss[SAVE_MSG] = _saved(personal)
    st.rerun()


def _saved(personal: dict) -> tuple[str, str]:
    """("success" or "error", what to tell the person) after trying to save the taught copy."""
    try:
        path = save_path(ss.get("draw_save_name", ""))
    except ValueError as e:
        return "error", str(e)
    if path.exists():
        return "error", f"You have a model called '{path.stem}' already: choose another name."
    model: MLP = personal["model"]
    card = {**taught_card(personal), "date": _dt.date.today().isoformat()}
    try:
        model.save_with_card(path, card)
    except OSError as e:
        return "error", f"Could not save '{path.stem}': {plain(e.strerror or e)}"
    return "success", (f"Saved as '{path.stem}': it is in your model list now (in this browser; your "
                       "teacher can publish it for everyone).")


def taught_card(personal: dict) -> dict:
    """The card of this session's taught copy (what "About this model" shows, and what Save writes):
    how its base model was made (data, augmentation, epochs) and its temperature, kept as they were,
    then its lessons and its accuracy on the bundled test digits; none of the base model's measured
    figures, which belong to other weights."""
    model: MLP = personal["model"]
    kept = {k: v for k, v in model.meta.items() if k not in BASE_MEASURES and k != "base_model"}
    return {**kept, "architecture": model.describe(), "source": "Draw page: taught by hand",
            "base_model": personal["base"], "lessons": list(personal["lessons"]),
            "val_accuracy": round(personal["accuracy"][-1], 6),
            "val_set": "the bundled sample's 2,000 test digits",
            "temperature_note": (f"kept from {personal['base']}: fitted before the lessons, not fitted again")}


def digest(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()
