"""What the pages share: read-only resources cached once per server process, the model list, and
where each learner's models live.

Only read-only things are cached here (the shipped models, the bundled data, what a model file
declares). Anything a user changes (a training run, a taught copy) lives in st.session_state.

Models, three kinds, listed in this order:

    shipped     weights/*.npz in the repo. Read-only: nothing the app writes ever lands there.
    published   <models dir>/published/*.npz: what the teacher put there for everyone (a file copy).
    yours       <models dir>/learners/<learner>/*.npz: what this browser saved. Nobody else lists them.

<models dir> is NN_WEIGHTS_DIR, or weights/ next to the app. A learner is a random token kept in a
cookie (``nn_learner``), so it is per browser and survives a reload. A cookie rather than a token in
the URL: the Train page's address bar is its share link, and a token there would make everyone who
opens a shared link that learner, with their models.

The list reads only what each file declares (nn.model.peek: its config and card, never its
weights), keeps at most MAX_LISTED files per folder (the newest), and a broken file becomes one
entry with the reason. Only the chosen model is loaded.
"""
from __future__ import annotations

import heapq
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from nn.data import Dataset, load_dataset
from nn.model import MLP, ModelConfig, ModelFileError, peek
from nn.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DIR = ROOT / "weights"
SHIPPED_MODEL = SHIPPED_DIR / "default.npz"
MAX_LISTED = 50            # files listed per folder (the newest); the others are counted, not read
MAX_NAME = 40              # characters in a model's name
LEARNER_COOKIE = "nn_learner"
LEARNER_KEY = "_nn_learner"                     # session state: this session's learner token
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")      # secrets.token_urlsafe(16): 128 random bits
_COOKIE_DAYS = 365


# ----- where models live -------------------------------------------------------------------------

def models_dir() -> Path:
    """The root of what the app writes: NN_WEIGHTS_DIR, or weights/ next to the app."""
    return Path(os.environ.get("NN_WEIGHTS_DIR", SHIPPED_DIR))


def published_dir() -> Path:
    """The teacher's folder: every .npz here is offered to everyone (copy a file in to publish it)."""
    return models_dir() / "published"


def learner_token() -> str:
    """This browser's learner token: from the ``nn_learner`` cookie when it holds a well-formed
    token, else a new random one (``remember_learner`` then sets the cookie). Kept for the session."""
    token = st.session_state.get(LEARNER_KEY)
    if token is None:
        cookie = _cookie()
        token = cookie if _TOKEN.fullmatch(cookie) else secrets.token_urlsafe(16)
        st.session_state[LEARNER_KEY] = token
    return token


def _cookie() -> str:
    """The learner cookie the browser sent when this session began ("" if none)."""
    value = st.context.cookies.get(LEARNER_COOKIE)
    return value if isinstance(value, str) else ""      # (under AppTest there is no browser)


def remember_learner() -> None:
    """Call on every page before anything is drawn: a browser that came without the learner
    cookie gets it (a line of JavaScript; st.context.cookies is read-only), so that after a reload
    it is the same learner with the same models. Draws nothing visible."""
    token = learner_token()
    if _cookie() != token:
        st.html(f"<script>document.cookie = '{LEARNER_COOKIE}={token}; path=/; "
                f"max-age={_COOKIE_DAYS * 86400}; samesite=lax';</script>",
                unsafe_allow_javascript=True, width="content")


def learner_code() -> str:
    """The first characters of this learner's token: enough for a teacher to find the folder
    (``ls <models dir>/learners/<code>*``), not enough for a classmate to become this learner."""
    return learner_token()[:6]


def learner_models_dir(create: bool = False) -> Path:
    """This learner's folder, <models dir>/learners/<token>/ (made when ``create``)."""
    folder = models_dir() / "learners" / learner_token()
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_model_name(text: str) -> str:
    """A file-system-safe model name: ASCII letters, digits, '-' and '_', at most MAX_NAME characters
    (accents dropped, everything else one '-'). Raises ValueError, with a message for the person,
    when nothing is left or the name is a shipped model's."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_text).strip("-_")[:MAX_NAME].strip("-_")
    if not name:
        raise ValueError("Give the model a name made of letters, digits, '-' or '_'.")
    if name.lower() in {p.stem.lower() for p in SHIPPED_DIR.glob("*.npz")}:
        raise ValueError(f"'{name}' is the name of a shipped model: choose another.")
    return name


def save_path(name: str) -> Path:
    """Where this learner's model called ``name`` goes: <models dir>/learners/<token>/<safe name>.npz
    (the folder is made). Whatever ``name`` holds, the path is inside this learner's folder, so no
    save can touch a shipped model, a published one or another learner's. Whether to replace an
    existing file is the caller's choice (``path.exists()``). Raises ValueError with a message to show."""
    folder = learner_models_dir(create=True).resolve()
    path = folder / f"{safe_model_name(name)}.npz"
    if path.resolve().parent != folder:           # a symlink planted in the folder, say
        raise ValueError(f"Cannot save as '{path.name}': choose another name.")
    return path


# ----- read-only things every session shares --------------------------------------------------------

@st.cache_resource(show_spinner=False)
def shipped_model() -> MLP:
    """The default digit model, loaded once per process and shared read-only by every session."""
    return _load_cached(str(SHIPPED_MODEL), *_stamp(SHIPPED_MODEL))


@st.cache_data(show_spinner=False, max_entries=8)
def dataset(name: str, **kwargs) -> Dataset:
    """A dataset by name (cached per argument set: every session sees the same arrays)."""
    return load_dataset(name, **kwargs)


# ----- the model list ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelEntry:
    """One model file as the list shows it, read without its weights."""

    name: str                       # the file's stem
    path: Path
    kind: str                       # "shipped", "published" or "yours"
    error: str | None = None        # why it cannot be used, or None
    config: ModelConfig | None = None
    summary: tuple[tuple[str, object], ...] = ()    # the card's short facts (accuracy, dataset, ...)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def card(self) -> dict:
        return dict(self.summary)


@dataclass(frozen=True)
class ModelList:
    entries: list[ModelEntry]       # shipped (default first), published, yours; newest first in each
    not_listed: int                 # files left out by the MAX_LISTED cap

    @property
    def usable(self) -> dict[str, ModelEntry]:
        """The usable entries by str(path), in order: the picker's options."""
        return {str(e.path): e for e in self.entries if e.error is None}

    @property
    def broken(self) -> list[ModelEntry]:
        return [e for e in self.entries if e.error is not None]

    def of_kind(self, kind: str) -> list[ModelEntry]:
        return [e for e in self.entries if e.kind == kind]


_SUMMARY_KEYS = ("test_accuracy", "val_accuracy", "dataset", "architecture", "source", "date")


def _stamp(path: Path) -> tuple[int, int]:
    st_ = path.stat()
    return st_.st_mtime_ns, st_.st_size


@st.cache_resource(show_spinner=False, max_entries=1024)
def _peek_cached(path: str, mtime_ns: int, size: int) -> tuple[ModelConfig | None, tuple, str | None]:
    """(config, short card facts, None) for a usable digit model file, or (None, (), reason).
    Keyed by modification time and size, so a replaced file is read again; a few kB each."""
    try:
        info = peek(path, expect_input_dim=784, expect_output_dim=10)
    except (ModelFileError, OSError) as e:
        return None, (), str(e)
    facts = tuple((k, info.meta[k]) for k in _SUMMARY_KEYS
                  if isinstance(info.meta.get(k), (int, float, str)) and len(str(info.meta[k])) <= 200)
    return info.config, facts, None


def _newest(folder: Path, limit: int) -> tuple[list[Path], int]:
    """The ``limit`` most recently modified .npz files directly in ``folder`` (newest first), and
    how many there are in all. Reads the directory and the files' times, nothing inside them."""
    found = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.name.endswith(".npz") and not e.name.startswith(".") and e.is_file(follow_symlinks=False):
                    try:
                        found.append((e.stat(follow_symlinks=False).st_mtime_ns, e.name, Path(e.path)))
                    except OSError:
                        continue
    except OSError:                  # no such folder yet
        return [], 0
    return [p for _, _, p in heapq.nlargest(limit, found)], len(found)


def _entry(path: Path, kind: str) -> ModelEntry:
    try:
        config, facts, error = _peek_cached(str(path), *_stamp(path))
    except OSError as e:            # deleted between the listing and now
        config, facts, error = None, (), f"{path.name}: {e.strerror or e}"
    return ModelEntry(path.stem, path, kind, error, config, facts)


def list_digit_models(limit: int = MAX_LISTED) -> ModelList:
    """The digit models this session may use, each checked from what its file declares: the shipped
    ones (default first), the published ones, then this learner's. At most ``limit`` files per
    folder, the newest; a broken or incompatible file is an entry with the reason (``error``)."""
    entries, not_listed = [], 0
    for folder, kind in ((SHIPPED_DIR, "shipped"), (published_dir(), "published"),
                         (learner_models_dir(), "yours")):
        paths, n = _newest(folder, limit)
        not_listed += n - len(paths)
        if kind == "shipped":
            paths.sort(key=lambda p: (p != SHIPPED_MODEL, p.name))
            if SHIPPED_MODEL not in paths:
                entries.append(ModelEntry(SHIPPED_MODEL.stem, SHIPPED_MODEL, kind,
                                          f"{SHIPPED_MODEL.name}: no such model file"))
        entries += [_entry(p, kind) for p in paths]
    return ModelList(entries, not_listed)


@st.cache_resource(show_spinner=False, max_entries=8)
def _load_cached(path: str, mtime_ns: int, size: int) -> MLP:
    # at most 8 models in memory per server process, however many sessions pick how many models
    model = MLP.load(path, expect_input_dim=784, expect_output_dim=10)
    for p in model.state().values():
        p.flags.writeable = False      # shared: nobody may train it in place
    return model


def load_model(entry: ModelEntry) -> MLP:
    """The read-only model of a list entry, shared by the sessions that chose it (copy it before
    training). Raises ModelFileError (or OSError) when the file cannot be loaded after all."""
    if entry.path == SHIPPED_MODEL:
        return shipped_model()
    return _load_cached(str(entry.path), *_stamp(entry.path))


def trained_on(card: dict) -> str:
    """The data a model was trained on, from its card: 'MNIST digits (60,000 examples)'.

    The dataset's name without the Train page's note of its size ("MNIST digits (all 70k)"): a model
    learns from the training part only, whose size its card gives (n_train)."""
    name = SETTINGS["dataset"].name_of(card["dataset"]).split(" (")[0] if card.get("dataset") else "data not recorded"
    n = card.get("n_train")
    return f"{name} ({n:,} examples)" if isinstance(n, int) and n > 0 else name


def describe(config: ModelConfig, card: dict) -> str:
    """One line about a model from its config and card: '784 → 512 → 256 → 10 · ReLU · 99.1% on...'."""
    parts = [config.shape, SETTINGS["activation"].name_of(config.activation)]
    acc = card.get("test_accuracy", card.get("val_accuracy"))
    if isinstance(acc, (int, float)) and card.get("base_model"):
        # a copy taught on the Draw page: measured on the bundled digits, which its base model saw
        parts.append(f"{acc:.2%} of the 2,000 bundled test digits right")
    elif isinstance(acc, (int, float)):
        parts.append(f"{acc:.1%} on held-out digits")
    if card.get("dataset"):
        parts.append(f"trained on {trained_on(card)}")
    if card.get("dataset") == "fashion-mnist":
        parts.append("it knows clothes, not digits: its answers are clothing classes 0-9")
    return " · ".join(parts)
