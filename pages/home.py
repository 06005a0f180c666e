"""Home: what this app is, where a newcomer starts (the first lesson), the lessons, a picture of
each page, and which models and data are here.

Pictures are the browser tests' screenshots (docs/screenshots/<page>.png), shown when present.
The model card is weights/default.json, written next to the shipped model by `python -m nn.train`.
The model counts come from ui.shared's list (file headers only: no model is loaded here).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from nn.data import SAMPLE_PATH, SOURCES, data_dir, is_downloaded
from ui.lessons import LESSONS, PAGE_FILES, PAGE_TITLES, lesson_query
from ui.navigation import through_app
from ui.shared import (
    MAX_LISTED,
    ROOT,
    SHIPPED_MODEL,
    learner_code,
    list_digit_models,
    models_dir,
    published_dir,
    remember_learner,
    trained_on,
)

through_app("pages/home.py")
remember_learner()

SCREENSHOTS = ROOT / "docs" / "screenshots"
CARD = SHIPPED_MODEL.with_suffix(".json")
PYTHON = ".venv/bin/python"        # the README's commands run through the virtual environment
DOWNLOAD = f"{PYTHON} -m nn.data download mnist"
TOUR = [
    ("pages/train.py", "Train", "train", ":material/trending_down:",
     "Choose a dataset (2-D toy problems or MNIST digits), shape a network and an optimiser, and watch "
     "the loss, the accuracy and what the network has learnt change while it trains. Pause, change the "
     "learning rate, carry on; save a digit network for the Draw page."),
    ("pages/weight_init.py", "Weight init", "weight_init", ":material/bar_chart:",
     "Why the first random weights matter: follow the activations and the gradients through a deep "
     "network, layer by layer, and see them vanish or explode unless the initial scale fits the "
     "activation function (Xavier, He)."),
    ("pages/draw.py", "Draw", "draw", ":material/edit:",
     "Draw a digit and watch the network read it after every stroke: the 28×28 picture it actually "
     "receives, how sure it is, which pixels made up its mind. When it is wrong, teach it."),
    ("pages/race.py", "Optimisers", "race", ":material/conversion_path:",
     "SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam race down the same loss surface from the same "
     "start, step by step: see which ones overshoot, crawl or find the bottom, and why."),
]


def _shown(path: Path) -> str:
    """A path as people would type it: relative to the app when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _preview(path: Path) -> np.ndarray | None:
    """The top of a page's screenshot, cut to the same 7:5 shape for every page; None if absent."""
    try:
        return _cut(str(path), path.stat().st_mtime)
    except (OSError, ValueError):
        return None


@st.cache_data(show_spinner=False, max_entries=8)
def _cut(path: str, mtime: float) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        im = im.crop((0, 0, w, min(h, round(w * 5 / 7))))
        im.thumbnail((800, 800))
        return np.asarray(im)


def _card() -> dict | None:
    """The shipped model's card, or None when it is missing or unreadable."""
    try:
        card = json.loads(CARD.read_text())
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


st.title("Neural network, by hand")
st.markdown(
    "A neural network written from scratch in NumPy, small enough to read in an afternoon, and an app "
    "to learn how it works by touching one. Every number you see here is computed by the `nn` package: "
    "its layers, its backward pass, its optimisers. Nothing comes from a deep-learning library.")

first = LESSONS[0]
with st.container(border=True, key="home_start"):
    st.markdown("**New here?** Start with a guided experiment: press Start, watch what happens, change "
                f"one thing. The first lesson: *{first.title.lower()}*.")
    st.page_link(PAGE_FILES[first.page], label="Start the first lesson", icon=":material/school:",
                 query_params=lesson_query(first), help=first.summary)

st.header("Lessons")
st.markdown("Each lesson opens a page with an experiment set up, the settings that matter within reach "
            "(the others put away) and what to look for. **Unlock all settings** on the lesson's card "
            "gives you every control back.")
for row in range(0, len(LESSONS), 2):
    for number, lesson, column in zip(range(row + 1, row + 3), LESSONS[row:row + 2], st.columns(2, gap="medium")):
        with column:
            st.page_link(PAGE_FILES[lesson.page], label=f"{number}. {lesson.title}", icon=":material/school:",
                         query_params=lesson_query(lesson), help=f"Opens the {PAGE_TITLES[lesson.page]} page.")
            st.caption(lesson.summary)

st.header("The pages")
for column, (path, title, shot, icon, text) in zip(st.columns(len(TOUR), gap="medium"), TOUR):
    with column:
        picture = _preview(SCREENSHOTS / f"{shot}.png")
        if picture is not None:
            st.image(picture, width="stretch")
        st.subheader(title)
        st.markdown(text)
        st.page_link(path, label=f"Open {title}", icon=icon)

st.header("What is available here")
left, right = st.columns(2, gap="large")
with left:
    st.subheader("Models")
    card = _card()
    if card is None:
        st.warning(f"The shipped model's card ({_shown(CARD)}) is missing or unreadable.")
    else:
        # cards written by `python -m nn.train` say val_accuracy; the shipped card says test_accuracy
        acc = card.get("test_accuracy", card.get("val_accuracy"))
        lines = [f"- **Shipped model** (`{_shown(SHIPPED_MODEL)}`): "
                 f"{card.get('architecture', 'architecture not recorded')}"]
        if isinstance(acc, (int, float)):
            if isinstance(card.get("test_set"), str):           # its first clause: the rest is for readers
                held_out = f" ({card['test_set'].split(';')[0]})"    # of the card (where the details are)
            elif isinstance(card.get("n_val"), int):
                held_out = f" ({card['n_val']:,} digits)"
            else:
                held_out = ""
            lines.append(f"- Accuracy on held-out digits: **{acc:.1%}**{held_out}")
        if card.get("dataset"):
            augmented = ", with augmentation" if card.get("augment") else ""
            lines.append(f"- Trained on: {trained_on(card)}{augmented}")
        if card.get("date"):
            lines.append(f"- Date: {card['date']}")
        st.markdown("\n".join(lines))
        if card.get("command"):
            st.caption("Made with:")
            command = card["command"]
            st.code(f"{PYTHON} {command[len('python '):]}" if command.startswith("python ") else command,
                    language="bash", wrap_lines=True)
    models = list_digit_models()
    lines = []
    for kind, title, folder in (("shipped", "Shipped models", SHIPPED_MODEL.parent),
                                ("published", "Published by your teacher", published_dir()),
                                ("yours", "Your saved models (this browser)",
                                 models_dir() / "learners" / f"{learner_code()}…")):
        entries = models.of_kind(kind)
        broken = sum(e.error is not None for e in entries)
        lines.append(f"- **{title}**: {len(entries)} in `{_shown(folder)}`"
                     + (f" ({broken} unusable)" if broken else ""))
    st.markdown("\n".join(lines))
    if models.not_listed:
        st.caption(f"{models.not_listed} older model files are not counted: only the newest {MAX_LISTED} "
                   "of each folder are read.")
    st.caption("A teacher publishes a model for everyone by copying its file (and its .json card) into "
               f"`{_shown(published_dir())}`.")
with right:
    st.subheader("Data")
    sample = "bundled" if SAMPLE_PATH.is_file() else "**missing**"
    st.markdown(f"- **MNIST sample**: {sample}, 10,000 real MNIST digits (8,000 to train, 2,000 to test) "
                "that work offline.")
    for name in SOURCES:
        title = SOURCES[name].title
        if is_downloaded(name):
            st.markdown(f"- **{title}** (70,000 images): downloaded")
        else:
            st.markdown(f"- **{title}** (70,000 images, {SOURCES[name].megabytes} MB): not downloaded")
    st.caption(f"To get full MNIST (into `{data_dir()}`; set NN_DATA_DIR to choose another place):")
    st.code(DOWNLOAD, language="bash", wrap_lines=True)
    st.caption(f"and `{PYTHON} -m nn.data download fashion-mnist` for Fashion-MNIST. "
               "Then pick it on the Train page.")

st.header("Run it")
st.caption("From the repository's folder, on a fresh Debian or Ubuntu (the README has the details):")
st.code(f"python3 -m venv .venv\n{PYTHON} -m pip install -r requirements.txt\n{PYTHON} -m streamlit run app.py",
        language="bash", wrap_lines=True)
