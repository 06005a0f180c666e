"""Draw: draw a digit (or upload a photo of one) and watch the NumPy network read it.

After every stroke: preprocess the drawing (nn.preprocess), read it (nn.explain.read: probabilities,
hidden activations, saliency), decide what to say (nn.explain.verdict), and show it all. "Teach it"
trains this session's own copy of the model on the drawing (nn.explain.teach); the shared models
never change. Plot and image builders live in ui/draw_charts.py; the model list in ui/shared.py.

A stroke reruns only what a stroke changes: the canvas and everything read from the drawing are one
fragment (``drawing_and_reading``); the title and the model picker above it run again only when the
model or the input changes. Teach, Forget and Save change the picker too, so they rerun the page.

Session state (all keys start with "draw_"): the canvas key (changed by Clear), the model choice,
the personal taught model, the last lesson, the decoded photo.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import threading
from dataclasses import dataclass

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from nn.data import load_mnist_sample
from nn.explain import judge, read, teach
from nn.model import MLP, ModelFileError
from nn.preprocess import ImageError, load_image, normalise_digits, preprocess
from ui import draw_charts as charts
from ui import model_lab as lab
from ui.navigation import through_app
from ui.shared import MAX_LISTED, ModelEntry, describe, list_digit_models, load_model, remember_learner, save_path
from ui.text import plain

through_app("pages/draw.py")
remember_learner()

ss = st.session_state
CANVAS_SIZE = 280
# the canvas's toolbar shows on hover 2.65rem (42 px) above the canvas, over whatever is there:
# this much room above the canvas (plus the usual gaps) keeps it off the model's description
TOOLBAR_ROOM = 16
MAX_UPLOAD_MB = 10
MAX_PIXELS = 25_000_000
TAUGHT = "__taught__"                    # the picker's value for this session's taught copy
CANVAS_N, CANVAS_KEY = "draw_canvas_n", "draw_canvas_key"
MODEL, PERSONAL, LESSON = "draw_model", "draw_personal", "draw_lesson"
PHOTO, CURRENT_X, SAVE_MSG = "draw_photo", "draw_x", "draw_save_msg"
DRAW_PROMPT = "The canvas is empty: draw a digit (0 to 9) in the black square."
STEP_TITLES = {"grey": "What you gave it", "cleaned": "Background removed", "cropped": "Cropped to the ink",
               "scaled": "Scaled: 20 px box", "centred": "Centred in 28×28",
               "deskewed": "Deskewed: the input"}


# ----- shared, read-only ---------------------------------------------------------------------------

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


# ----- session setup and callbacks -----------------------------------------------------------------

ss.setdefault(CANVAS_N, 0)
ss[CANVAS_KEY] = f"draw_canvas_{ss[CANVAS_N]}"


def _clear() -> None:
    ss[CANVAS_N] += 1          # a new key gives a brand-new, empty canvas
    ss[CANVAS_KEY] = f"draw_canvas_{ss[CANVAS_N]}"
    ss.pop(LESSON, None)


def _usable_entries() -> dict[str, ModelEntry]:
    return list_digit_models().usable


def _teach() -> None:
    """Teach the drawing on screen to this session's copy of the model: the taught copy when it is
    the one chosen, otherwise a fresh copy of the chosen shared model (replacing any earlier copy).
    Then the whole page reruns: the picker now offers the taught copy."""
    x, label = ss.get(CURRENT_X), ss.get("draw_teach_label")
    if x is None or label is None:
        return
    ref = reference()
    personal = ss.get(PERSONAL)
    if ss.get(MODEL) != TAUGHT or personal is None:
        entry = _usable_entries().get(ss.get(MODEL))
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
    ss[LESSON] = {"lesson": lesson, "digest": _digest(x)}
    ss[MODEL] = TAUGHT
    ss.pop(SAVE_MSG, None)
    st.rerun()


def _forget() -> None:
    ss.pop(PERSONAL, None)
    ss.pop(LESSON, None)
    ss[MODEL] = next(iter(_usable_entries()), None)
    st.rerun()


def _save() -> None:
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
    card = {**{k: v for k, v in model.meta.items() if k not in ("command", "saved")},
            "architecture": model.describe(), "source": "Draw page: taught by hand",
            "base_model": personal["base"], "lessons": personal["lessons"],
            "val_accuracy": round(personal["accuracy"][-1], 6), "date": _dt.date.today().isoformat()}
    try:
        model.save_with_card(path, card)
    except OSError as e:
        return "error", f"Could not save '{path.stem}': {plain(e.strerror or e)}"
    return "success", (f"Saved as '{path.stem}': it is in your model list now (in this browser; your "
                       "teacher can publish it for everyone).")


def _digest(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()


# ----- what a stroke reruns ---------------------------------------------------------------------------

@st.fragment
def drawing_and_reading(entry: ModelEntry | None) -> None:
    """The canvas (or the photo), the reading of it and everything shown from that reading.

    ``entry`` is the chosen shared model, or None for this session's taught copy."""
    personal = ss.get(PERSONAL)
    if entry is None:
        model, shared = personal["model"], False
    else:
        model, shared = load_model(entry), True
    source = ss.get("draw_source", "Draw")
    left, right = st.columns([1, 1.45], gap="large")
    pre, prompt = None, DRAW_PROMPT
    with left:
        if source == "Draw":
            pen = ss.get("draw_pen", 20)
            st.space(TOOLBAR_ROOM)
            canvas = st_canvas(stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000",
                               height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
                               return_image_data=True, key=ss[CANVAS_KEY])
            c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
            c1.button("Clear", on_click=_clear, key="draw_clear", icon=":material/ink_eraser:",
                      help="Wipe the canvas and start again.")
            c2.slider("Pen width", 8, 40, 20, key="draw_pen",
                      help="Thickness of your strokes; the preprocessing evens it out before the network "
                           "reads it.")
            # one call into nn: the same pipeline for drawings and photos
            pre = preprocess(canvas.image_data) if canvas.image_data is not None else None
        else:
            prompt = "Upload a photo of one digit written on paper."
            pre = _photo()

    reading = view = None
    if pre is not None and not pre.blank:
        # one "not sure" rule for the page and nn.predict (nn.explain.judge); forward passes on a
        # shared model are serialised (its layers keep the last batch's values for the saliency map)
        with shared_model_lock() if shared else contextlib.nullcontext():
            reading = read(model, pre.x)
            view = judge(model, pre.x)
    ss[CURRENT_X] = pre.x if reading is not None else None

    with right:
        m1, m2 = st.columns(2)
        if reading is None:
            m1.metric("Prediction", "–")
            m2.metric("Confidence", "–")
            st.info(pre.reason if pre is not None else prompt)
        else:
            m1.metric("Prediction", str(view.digit) if view.sure else "?")
            m2.metric("Confidence", f"{reading.confidence:.0%}",
                      help="The network's probability for its top digit. It is only meaningful for inputs "
                           "that look like the digits it was trained on.")
            if not view.sure:
                st.warning(f"**Not sure:** {view.guesses()}. {view.reason}")
            st.plotly_chart(charts.probability_bars(reading.probs, reading.predicted, view.sure),
                            config={"displayModeBar": False}, key="draw_probs")

    # what comes and goes with the reading sits in one container, so that the lab's tabs below stay
    # at the same place in the page: the browser rebuilds tabs that move, back on their first tab, so
    # the open tab would jump back to "About this model" at the first stroke and at every Clear
    with st.container():
        if reading is not None:
            _what_it_sees(pre, reading, source)
            _teach_it(pre, personal, entry)
        if personal is not None:
            _taught_model(personal, reading is not None)
    # the model lab follows each stroke too: the star on the map, the drawing in the robustness lab
    x_lab = pre.x if reading is not None else None
    lab_src = {**lab.source_of(entry.path if shared else None), "lock": shared_model_lock() if shared else None}
    # only the open tab runs (a stroke costs one view, not three); choosing a tab reruns this fragment
    about_tab, robust_tab, map_tab = st.tabs(["About this model", "Robustness lab", "Where is my digit?"],
                                             key="draw_lab_tab", on_change="rerun")
    if about_tab.open:
        with about_tab:
            lab.about_model(model, model.meta, **lab_src, key="draw_about")
    if robust_tab.open:
        with robust_tab:
            lab.robustness_lab(model, x_lab, "draw_robust", **lab_src)
    if map_tab.open:
        with map_tab:
            lab.hidden_map_view(model, x_lab, "draw_map", **lab_src)


def _photo():
    """The uploader; the preprocessed photo, or None. Each file is decoded and preprocessed once:
    only the result and a thumbnail are kept."""
    upload = st.file_uploader(f"A photo of one digit on paper (PNG or JPEG, up to {MAX_UPLOAD_MB} MB)",
                              type=["png", "jpg", "jpeg"], max_upload_size=MAX_UPLOAD_MB,
                              key="draw_upload",
                              help="Dark ink on light paper (or the reverse), filling most of the photo.")
    if upload is None:
        return None
    photo = ss.get(PHOTO)
    if photo is None or photo["id"] != upload.file_id:
        photo = {"id": upload.file_id, "pre": None, "thumb": None, "error": None}
        try:
            if upload.size > MAX_UPLOAD_MB * 1_000_000:
                raise ImageError(f"The file is {upload.size / 1e6:.1f} MB; the limit is "
                                 f"{MAX_UPLOAD_MB} MB. Use a smaller photo.")
            image = load_image(upload.getvalue(), max_pixels=MAX_PIXELS, max_bytes=MAX_UPLOAD_MB * 1_000_000)
            photo["pre"] = preprocess(image)
            photo["thumb"] = charts.thumbnail(image, 240)
        except ImageError as e:
            photo["error"] = str(e)
        ss[PHOTO] = photo
    if photo["error"]:
        st.error(photo["error"])
        return None
    st.image(photo["thumb"], caption=upload.name)
    return photo["pre"]


def _what_it_sees(pre, reading, source: str) -> None:
    st.subheader("What the network sees")
    # a drawing has no background to remove: that step only tells something about photos
    steps = [k for k in STEP_TITLES if k in pre.steps and (k != "cleaned" or source == "Photo")]
    for col, key in zip(st.columns(len(steps)), steps):
        col.image(charts.grey_image(pre.steps[key]), caption=STEP_TITLES[key], width=112,
                  output_format="PNG")
    st.caption("Your picture is cropped, shrunk so that its longer side is 20 pixels, centred by its centre "
               "of mass in a 28×28 square and straightened, exactly as the MNIST digits the network learnt "
               "from were prepared. The last picture is the 784 numbers the network receives.")

    st.subheader(f"Why {reading.predicted}? The saliency map")
    grad, grad_x = reading.saliency(pre.x)
    s1, s2, s3, s4 = st.columns([1, 1, 1, 2])
    digit_img = pre.x.reshape(28, 28)
    s1.image(charts.grey_image(digit_img, 140), caption="The input", width=140, output_format="PNG")
    s2.image(charts.diverging_image(grad_x, 140), caption="Gradient × input", width=140,
             output_format="PNG")
    s3.image(charts.diverging_image(grad, 140, outline=digit_img), caption="Gradient (input in grey)",
             width=140, output_format="PNG")
    s4.markdown(f"**Red** pixels push the network towards **{reading.predicted}**, **blue** ones push "
                f"it away. *Gradient × input*: which of your strokes did the pushing. *Gradient*: where "
                f"adding ink would raise the score of {reading.predicted}, anywhere in the square. Both "
                "come from the network's own backward pass: ∂ score / ∂ pixel.")

    with st.expander("Inside the network: the hidden layers' activations"):
        if not reading.hidden:
            st.markdown("This network has no hidden layer: the pixels go straight to the ten scores.")
        for i, h in enumerate(reading.hidden, 1):
            active = int((h > 0).sum())
            st.image(charts.activation_strip(h), width="stretch", output_format="PNG",
                     caption=f"Hidden layer {i}: {len(h)} neurons, {active} of them above zero "
                             "(brighter = more active)")


def _teach_it(pre, personal: dict | None, entry: ModelEntry | None) -> None:
    st.subheader("Teach it")
    lesson_state = ss.get(LESSON)
    if lesson_state is not None and lesson_state["digest"] == _digest(pre.x) and personal is not None:
        lesson = lesson_state["lesson"]
        before_acc, after_acc = personal["accuracy"][-2], personal["accuracy"][-1]
        if lesson.learned:
            st.success(f"Learnt in {lesson.steps} gradient steps: it now reads your drawing as a "
                       f"{lesson.label}.")
        else:
            st.warning(f"After {lesson.steps} steps it is not convinced yet "
                       f"({lesson.after[lesson.label]:.0%} for {lesson.label}): teach it again, or draw "
                       "the digit more clearly.")
        st.plotly_chart(charts.before_after_bars(lesson.before, lesson.after, lesson.label),
                        config={"displayModeBar": False}, key="draw_lesson_chart")
        st.caption(f"Accuracy on the 2,000 bundled test digits: {before_acc:.1%} before this lesson, "
                   f"{after_acc:.1%} after. Each step also rehearsed 124 digits it already knew, so that "
                   "it forgets as little as possible of the rest.")
    st.markdown("Wrong answer? Tell it which digit you meant. Your own copy of the model takes a few "
                "gradient steps on this drawing (slightly distorted copies of it, mixed with bundled digits "
                "it already knows). The shared model never changes.")
    if personal is not None and entry is not None:
        st.caption(f"Teaching now starts a new copy of {plain(entry.name)}, which replaces your taught "
                   f"copy of {plain(personal['base'])}: save that one first to keep it.")
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        # wrap: in a horizontal container the ten digits would stay on one row and, on a phone,
        # scroll the 9 out of sight
        st.segmented_control("The right digit", list(range(10)), key="draw_teach_label", wrap=True,
                             help="What you meant to draw: the network will be nudged towards it.")
        st.button("Teach it", on_click=_teach, key="draw_teach", type="primary",
                  disabled=ss.get("draw_teach_label") is None,
                  help="Fine-tunes your own copy of the model on this drawing (and some of its training digits).")


def _taught_model(personal: dict, reading_shown: bool) -> None:
    if not reading_shown:
        st.subheader("Your taught model")
    n = len(personal["lessons"])
    st.caption(f"Your taught copy of {plain(personal['base'])}: {n} lesson{'s' * (n != 1)} "
               f"({', '.join(map(str, personal['lessons']))}). It lives in this browser session only.")
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        st.text_input("Save it as", key="draw_save_name", placeholder="e.g. my-handwriting", width=320,
                      help="Letters, digits, '-' and '_'. Saved models appear in your own model lists, "
                           "in this browser.")
        st.button("Save", on_click=_save, key="draw_save", help="Write your taught copy as a model file.")
        st.button("Forget the lessons", on_click=_forget, key="draw_forget",
                  help="Back to the shared model: your taught copy is dropped (save it first to keep it).")
    msg = ss.get(SAVE_MSG)
    if msg:
        (st.success if msg[0] == "success" else st.error)(msg[1])


# ----- page ------------------------------------------------------------------------------------------

st.title("✏️ Draw a digit")
st.caption("Draw with the mouse (or a finger). After every stroke the NumPy network reads your drawing: "
           "below you see what it receives, how sure it is, and which pixels made up its mind.")

reference()      # loaded once per server process (about a second), before the first stroke

# the model picker: the shipped and published models, this learner's, and the taught copy if any
models = list_digit_models()
usable, broken = models.usable, models.broken
personal = ss.get(PERSONAL)
options = ([TAUGHT] if personal else []) + list(usable)
if not options:
    reason = next((e.error for e in broken if e.kind == "shipped"), "not found")
    st.error(f"No usable model: the shipped model weights/default.npz is missing or broken ({plain(reason)}). "
             "Train one on the Train page and save it.")
    st.stop()
if ss.get(MODEL) not in options:
    ss[MODEL] = options[0]


def _label(key: str) -> str:
    if key == TAUGHT:
        n = len(personal["lessons"])
        return f"Your taught copy of {personal['base']} ({n} lesson{'s' * (n != 1)})"
    return usable[key].label


top = st.columns([2, 1])
with top[0]:
    choice = st.selectbox("Model", options, format_func=_label, key=MODEL,
                          help="The shipped models, those your teacher published, the ones you saved in this "
                               "browser, and your own taught copy once you use 'Teach it'.")
    chosen = None if choice == TAUGHT else usable[choice]
    try:
        if chosen is not None:
            load_model(chosen)             # only the chosen model is ever loaded
    except (ModelFileError, OSError) as e:
        st.error(f"This model cannot be used: {plain(e)}. Choose another.")
        st.stop()
    if chosen is None:
        st.caption(describe(personal["model"].config, personal["model"].meta))
    else:
        st.caption(describe(chosen.config, chosen.card))
    if broken or models.not_listed:
        with st.expander(f"⚠️ {len(broken)} model file{'s' * (len(broken) != 1)} can't be used"
                         if broken else f"{models.not_listed} older model files not listed"):
            for e in broken:
                st.markdown(f"- **{plain(e.name)}** ({e.kind}, unusable): {plain(e.error)}")
            if models.not_listed:
                st.caption(f"{models.not_listed} older model files are not listed: only the newest "
                           f"{MAX_LISTED} of each folder are.")
with top[1]:
    st.radio("Input", ["Draw", "Photo"], horizontal=True, key="draw_source",
             help="Draw on the canvas, or upload a photo of a digit written on paper.")

drawing_and_reading(chosen)
