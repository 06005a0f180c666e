"""Lessons: guided experiments a link opens, with some settings locked and the others out of sight.

    LESSONS          the built-in lessons, in the order the Home page lists them (the first one is
                     where a newcomer starts)
    Lesson           one experiment: its page, the settings its link sets, which settings are locked,
                     which are shown at all, and what to look for
    lesson_query     the query parameters of a lesson's link (the page's settings plus ``lesson=<slug>``)
    teacher_query    a teacher's own link: the current settings plus ``lock=a,b`` and an optional ``note=``
    read_link        the lesson (or teacher's link) a page's query parameters ask for, and warnings
    current_lesson   the lesson in force on a page: from the link, kept in the session afterwards
    is_locked        a setting's widget is drawn disabled
    is_hidden        a setting's widget is not drawn (its value still comes from the link)
    lesson_card      the card in the page's main area: title, what to look for, "Unlock all settings"
    lesson_link_box  "Make a lesson link": choose what to lock, add a note, copy the link

A page's lesson lives in ``st.session_state`` (``lesson_<page>``), so it survives reruns and visits
to other pages; the link's ``lesson``/``lock``/``note`` parameters only bring it in. A link that
brings a lesson in also brings its settings: ``pending_settings`` hands them to the page once,
before its widgets are drawn. Setting names are those of the page's table (nn/settings.py for
Train, ui/init_settings.py for Weight init); a link may also name a setting by its URL key.
A teacher's note is shown as plain text (Markdown and HTML escaped), at most NOTE_MAX characters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlencode, urlsplit

import streamlit as st

from nn.settings import SETTINGS as TRAIN_SETTINGS
from nn.settings import Setting
from ui.init_settings import SETTINGS as INIT_SETTINGS
from ui.text import plain
from ui.train_settings import NAMES as TRAIN_NAMES

TRAIN, WEIGHT_INIT = "train", "weight_init"
# every page that takes lessons: its settings table, by setting name, in the order a person reads them
PAGE_SETTINGS: dict[str, dict[str, Setting]] = {
    TRAIN: {name: TRAIN_SETTINGS[name] for name in TRAIN_NAMES},
    WEIGHT_INIT: dict(INIT_SETTINGS),
}
PAGE_TITLES = {TRAIN: "Train", WEIGHT_INIT: "Weight init"}
PAGE_FILES = {TRAIN: "pages/train.py", WEIGHT_INIT: "pages/weight_init.py"}
KEY_PREFIX = {TRAIN: "train", WEIGHT_INIT: "wi"}          # the page's own widget-key prefix
LINK_KEYS = ("lesson", "lock", "note")                     # a lesson's own query parameters
NOTE_MAX = 200


@dataclass(frozen=True)
class Lesson:
    """One guided experiment.

    query     the page's query parameters that set the experiment up (its URL keys: ``lr``, ``layers``)
    locked    setting names whose widgets are drawn disabled
    shown     setting names whose widgets are drawn at all (locked or not); every other one is hidden
    look_for  2-4 short steps: what to do and what to watch (Markdown, written here)
    """

    slug: str
    title: str
    page: str
    summary: str
    query: dict = field(default_factory=dict)
    locked: frozenset = frozenset()
    shown: frozenset = frozenset()
    look_for: tuple = ()


# The numbers quoted below were measured with these exact settings (nn.train.Trainer, seed 0); the
# lessons' tests check that each link still sets up what its text describes.
LR_SETUP = frozenset({"dataset", "hidden", "optimizer"})
LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "learning-rate-too-big", "A learning rate that is too big", TRAIN,
        "Plain SGD with steps 5 × the gradient: watch the loss explode, and why lowering it late does not help.",
        query={"data": "spirals", "opt": "sgd", "lr": "5"},
        locked=LR_SETUP, shown=LR_SETUP | {"lr"},
        look_for=(
            "Press **Start**. Every step moves each weight by 5 × its gradient: the loss shoots up into "
            "the tens and the accuracy hovers around 50%, no better than a coin toss.",
            "Lower the learning rate while it trains. It does not recover: the huge steps have pushed "
            "every hidden neuron (this network's are tanh) to ±1, where its gradient is almost 0 (saturation).",
            "Press **Reset**, set the learning rate to 0.5 and press **Start**: now the loss falls and "
            "the regions wrap around the spiral arms.",
        )),
    Lesson(
        "learning-rate-too-small", "A learning rate that is too small", TRAIN,
        "Steps of 0.001 × the gradient crawl and seem to stall; raise the rate while it trains.",
        query={"data": "spirals", "opt": "sgd", "lr": "0.001"},
        locked=LR_SETUP, shown=LR_SETUP | {"lr"},
        look_for=(
            "Press **Start**. Each step is only 0.001 × the gradient: the accuracy sits near 75% for "
            "hundreds of epochs and creeps past 80% only at the end, as if this network could do no better.",
            "While it trains, raise the learning rate to 0.1: within seconds the accuracy passes 90%. "
            "The network could do it all along; it was crawling.",
            "Too small wastes time, too big never arrives. Reset and try 0.01 and 1 to find the range "
            "that works.",
        )),
    Lesson(
        "why-initialisation-matters", "Why the first random weights matter", WEIGHT_INIT,
        "Five layers of sigmoid units: too wide a start saturates them, too narrow a start collapses them.",
        query={"act": "sigmoid", "init": "normal", "std": "1"},
        locked=frozenset({"n_layers"}),
        shown=frozenset({"init", "std", "activation", "n_layers", "batchnorm", "view", "grid"}),
        look_for=(
            "Each histogram shows what one of the 5 layers outputs. With weights of std 1 the sigmoid "
            "units pile up at 0 and 1 (saturated), where their gradients vanish.",
            "Pick **std 0.01**: layer after layer the outputs collapse onto 0.5, and the signal dies out.",
            "Pick **Xavier**: the outputs stay spread out through every layer. Now switch the activation "
            "to **ReLU** and compare Xavier with **He**, the scale made for ReLU.",
            "With ReLU, press **Train once per initialisation** below: Xavier and He learn, std 0.01 stays "
            "stuck at guessing and std 1 blows up.",
        )),
    Lesson(
        "depth-or-features", "Spirals: more layers or better inputs?", TRAIN,
        "No hidden layer draws straight lines only: add layers, or feed the network better inputs.",
        query={"data": "spirals", "layers": "none", "lr": "0.02", "epochs": "300"},
        locked=frozenset({"dataset"}),
        shown=frozenset({"dataset", "hidden", "features", "lr", "epochs"}),
        look_for=(
            "Press **Start**. With no hidden layer the network can only split the plane with a straight "
            "line: it stalls at about 75% right.",
            "Press **Reset**, give it 2 hidden layers of 16 neurons and **Start**: the boundary bends "
            "around the arms and passes 95%.",
            "Back to no hidden layer, tick every input feature (x₁², x₂², x₁·x₂, sin x₁, sin x₂): "
            "better inputs alone reach only about 80%. Add one hidden layer of 8 neurons on top of them: 100%.",
        )),
    Lesson(
        "batch-size", "Batch size: many noisy steps or few smooth ones", TRAIN,
        "One point per update or 256: how the curves and the progress per epoch change.",
        query={"data": "moons", "noise": "0.2", "batch": "1", "lr": "0.005", "epochs": "60"},
        locked=frozenset({"dataset", "hidden"}),
        shown=frozenset({"dataset", "hidden", "batch_size", "lr", "epochs"}),
        look_for=(
            "Press **Start** with batch size 1: every single point moves the weights, 480 updates an "
            "epoch. The pale per-batch line of the loss is a wide, noisy band; 90% comes within a few epochs.",
            "Press **Reset**, pick batch size 256 and **Start**: 2 updates an epoch. The curves are smooth, "
            "but they climb far less per epoch and are still rising at the end.",
            "Give the big batches a 10× bigger learning rate (0.05) and compare again. Sizes of 16-64 "
            "are the usual compromise.",
        )),
    Lesson(
        "overfitting", "Overfitting, and two cures", TRAIN,
        "A big network on 100 noisy points memorises them; weight decay or dropout make it generalise.",
        query={"data": "moons", "n": "200", "val": "0.5", "noise": "0.3", "layers": "128,128", "act": "relu",
               "init": "he", "lr": "0.005", "epochs": "400"},
        locked=frozenset({"dataset", "hidden"}),
        shown=frozenset({"dataset", "hidden", "l2", "dropout", "lr", "epochs"}),
        look_for=(
            "Press **Start**. With 100 noisy training points and 2 × 128 neurons the training loss heads "
            "for 0 while the validation loss climbs from 0.4 past 1.5: it memorises the points, and the "
            "regions wrap around single ones.",
            "Press **Reset**, set **L2 weight decay** to 0.01 and **Start**: the boundary stays smooth, the "
            "validation loss stays near 0.4 and more validation points come out right.",
            "Try **Dropout** 0.5 instead of L2: the validation loss still rises, but later and less.",
        )),
)
BY_SLUG = {lesson.slug: lesson for lesson in LESSONS}


@dataclass(frozen=True)
class ActiveLesson:
    """The lesson in force on a page: a built-in one (``slug``), or a teacher's link (``slug`` None).

    settings  the query parameters of the experiment as the link set it (what "Restore" goes back to)
    shown     None when nothing is hidden (a teacher's link)
    link      the link's own parameters (lesson, lock, note) as it gave them, to write back into the URL
    """

    page: str
    slug: str | None
    title: str
    look_for: tuple
    locked: frozenset
    shown: frozenset | None
    note: str
    settings: dict
    link: dict


# ----- links (no streamlit) -------------------------------------------------------------------------

def lesson_query(lesson: Lesson) -> dict[str, str]:
    """The query parameters of a lesson's link: its settings plus ``lesson=<slug>``."""
    return {**lesson.query, "lesson": lesson.slug}


def lesson_url(lesson: Lesson) -> str:
    """The path and query that open ``lesson`` ("/train?data=spirals&...&lesson=...")."""
    return f"/{lesson.page}?" + urlencode(lesson_query(lesson), safe=",")


def clean_note(text: str) -> str:
    """A teacher's note as it is shown: one line of printable text, at most NOTE_MAX characters."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text))
    text = " ".join(text.split())
    return text if len(text) <= NOTE_MAX else text[:NOTE_MAX - 1].rstrip() + "…"


def parse_lock(page: str, text: str) -> tuple[frozenset, list[str]]:
    """Setting names from a link's ``lock=`` ("lr,hidden" or by URL key "lr,layers"), and a warning
    for each name the page does not have."""
    table = PAGE_SETTINGS[page]
    by_key = {s.url_key: name for name, s in table.items()}
    names, unknown = set(), []
    for word in (w.strip() for w in str(text).split(",")):
        if word in table:
            names.add(word)
        elif word in by_key:
            names.add(by_key[word])
        elif word:
            unknown.append(word[:40])
    warnings = [f"'lock' in the link names {', '.join(repr(u) for u in unknown)}, which the "
                f"{PAGE_TITLES[page]} page does not have: ignored."] if unknown else []
    return frozenset(names), warnings


def settings_part(page: str, params: Mapping[str, str]) -> dict[str, str]:
    """The page's own settings among query parameters (by URL key)."""
    keys = {s.url_key for s in PAGE_SETTINGS[page].values()}
    return {k: str(v) for k, v in params.items() if k in keys}


def teacher_query(page: str, query: Mapping[str, str], lock, note: str = "") -> dict[str, str]:
    """A teacher's link: the page's settings ``query`` plus ``lock=`` (setting names, in the table's
    order) and an optional ``note=``."""
    order = list(PAGE_SETTINGS[page])
    out = dict(settings_part(page, query))
    names = sorted(set(lock) & set(order), key=order.index)
    if names:
        out["lock"] = ",".join(names)
    note = clean_note(note)
    if note:
        out["note"] = note
    return out


def read_link(page: str, params: Mapping[str, str]) -> tuple[ActiveLesson | None, list[str]]:
    """The lesson a page's query parameters ask for (None when they name none, or none that
    exists here) and warnings (plain text: they quote the link)."""
    link = {k: str(params[k]) for k in LINK_KEYS if k in params}
    if not link:
        return None, []
    warnings = []
    locked, lock_warnings = parse_lock(page, link.get("lock", ""))
    warnings += lock_warnings
    note = clean_note(link.get("note", ""))
    settings = settings_part(page, params)
    slug = link.get("lesson")
    if slug is not None:
        lesson = BY_SLUG.get(slug)
        if lesson is None:
            return None, warnings + [f"There is no lesson called '{slug[:60]}': the settings of the link "
                                     "are used, and every control is available."]
        if lesson.page != page:
            return None, warnings + [f"The lesson '{lesson.title}' is on the {PAGE_TITLES[lesson.page]} "
                                     "page, not this one."]
        return ActiveLesson(page, slug, lesson.title, lesson.look_for, lesson.locked | locked, lesson.shown,
                            note, {**lesson.query, **settings}, link), warnings
    if not locked and not note:
        return None, warnings
    return ActiveLesson(page, None, "An experiment set up by your teacher", (), locked, None, note, settings,
                        link), warnings


# ----- the lesson in force (session state) -----------------------------------------------------------

def _state_key(page: str) -> str:
    return f"lesson_{page}"


def _sync(page: str) -> None:
    """Take in a lesson link the page was opened with (once): the lesson, its warnings, and a note
    that its settings are still to be put in the widgets (``pending_settings``)."""
    ss = st.session_state
    params = st.query_params.to_dict()
    link = {k: params[k] for k in LINK_KEYS if k in params}
    if not link or link == ss.get(f"{_state_key(page)}_seen"):
        return
    lesson, warnings = read_link(page, params)
    ss[f"{_state_key(page)}_seen"] = link
    ss[_state_key(page)] = lesson
    ss[f"{_state_key(page)}_warnings"] = warnings
    ss[f"{_state_key(page)}_load"] = True


def current_lesson(page: str = TRAIN) -> ActiveLesson | None:
    """The lesson in force on ``page`` (None: every control is free)."""
    _sync(page)
    return st.session_state.get(_state_key(page))


def pending_settings(page: str = TRAIN) -> dict[str, str] | None:
    """Once, right after a lesson link was opened: the query parameters whose settings the page's
    widgets must take now (the lesson's own, overridden by the link's). None otherwise."""
    _sync(page)
    if not st.session_state.pop(f"{_state_key(page)}_load", False):
        return None
    lesson = st.session_state.get(_state_key(page))
    params = st.query_params.to_dict()
    return {**(lesson.settings if lesson is not None else {}), **settings_part(page, params)}


def link_params(page: str = TRAIN) -> dict[str, str]:
    """The lesson's own parameters to keep in the page's URL beside its settings ({} without one), so
    that a reload or a copied address bar opens the same lesson."""
    lesson = current_lesson(page)
    return dict(lesson.link) if lesson is not None else {}


def is_locked(name: str, page: str = TRAIN) -> bool:
    lesson = current_lesson(page)
    return lesson is not None and name in lesson.locked


def is_hidden(name: str, page: str = TRAIN) -> bool:
    lesson = current_lesson(page)
    return lesson is not None and lesson.shown is not None and name not in lesson.shown


def unlock(page: str = TRAIN) -> None:
    """Every control back, and the lesson's parameters gone from the URL (a button's callback)."""
    ss = st.session_state
    for suffix in ("", "_seen", "_load", "_warnings"):
        ss.pop(f"{_state_key(page)}{suffix}", None)
    for key in LINK_KEYS:
        if key in st.query_params:
            del st.query_params[key]


# ----- drawing -----------------------------------------------------------------------------------

def _labels(page: str, names) -> str:
    table = PAGE_SETTINGS[page]
    return ", ".join(table[n].label for n in table if n in names)


def lesson_card(page: str = TRAIN) -> ActiveLesson | None:
    """Draw the card of the lesson in force (and any warning its link gave); return the lesson."""
    lesson = current_lesson(page)
    for warning in st.session_state.pop(f"{_state_key(page)}_warnings", []):
        st.warning(plain(warning), icon=":material/link_off:")
    if lesson is None:
        return None
    with st.container(border=True, key=f"{KEY_PREFIX[page]}_lesson_card"):
        st.markdown(f"#### :material/school: {lesson.title}")
        if lesson.note:
            st.markdown("**Your teacher's note:** " + plain(lesson.note))
        if lesson.look_for:
            st.markdown("\n".join(f"{i}. {step}" for i, step in enumerate(lesson.look_for, 1)))
        parts = []
        if lesson.locked:
            parts.append(f"Locked for this lesson: {_labels(page, lesson.locked)}.")
        if lesson.shown is not None:
            parts.append("The other settings are put away until you unlock them.")
        if parts:
            st.caption(" ".join(parts))
        st.button("Unlock all settings", key=f"{KEY_PREFIX[page]}_lesson_unlock", on_click=unlock, args=(page,),
                  icon=":material/lock_open:",
                  help="Leave the lesson: every control becomes available again, with the settings as they are now.")
    return lesson


def _base_url() -> str:
    """The app's address as the browser sees it, without the page ("http://host:8501"), or "" when
    unknown (the link is then relative)."""
    try:
        url = st.context.url
    except Exception:        # outside a browser session (AppTest): a relative link will do
        return ""
    if not url:
        return ""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if last in PAGE_SETTINGS or last in ("draw", "race", "home"):
        path = path[: -len(last)].rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def lesson_link_box(page: str, query: Mapping[str, str]) -> str:
    """"Make a lesson link" in an expander: the settings to lock, an optional note, and the link
    (the page's settings ``query`` plus those) to copy. Returns the link."""
    table = PAGE_SETTINGS[page]
    prefix = KEY_PREFIX[page]
    with st.expander("Make a lesson link", icon=":material/share:"):
        lock = st.multiselect("Lock these settings", list(table), format_func=lambda n: table[n].label,
                              key=f"{prefix}_lesson_lock", placeholder="Nothing locked",
                              help="Whoever opens the link gets the settings you see now; these ones "
                                   "they cannot change until they press Unlock.")
        # no max_chars: the browser would silently drop a longer paste; it is cut here, and said so
        note = st.text_input("Note for the learners (optional)", key=f"{prefix}_lesson_note",
                             placeholder="e.g. Which rate learns fastest?",
                             help=f"Shown above the experiment, as plain text (at most {NOTE_MAX} characters).")
        length = len(" ".join(note.split()))           # as clean_note counts it
        if length > NOTE_MAX:
            st.warning(f"A note keeps at most {NOTE_MAX} characters: the link has the first {NOTE_MAX - 1} and "
                       f"“…” (this one has {length}).", icon=":material/content_cut:")
        link = f"{_base_url()}/{page}?" + urlencode(teacher_query(page, query, lock, note), safe=",")
        st.code(link, language=None, wrap_lines=True)
        st.caption("Copy it with the button at the box's right.")
    return link
