"""Draw: draw a digit (or upload a photo of one) and watch the NumPy network read it.

After every stroke: preprocess the drawing (nn.preprocess), decide what to say (nn.explain.judge) and
show that answer at once, then read it (nn.explain.read: probabilities, hidden activations, saliency)
and show the rest. "Teach it" trains this session's own copy of the model on the drawing
(nn.explain.teach); the shared models never change. Plot and image builders live in
ui/draw_charts.py; what is shown from a reading in ui/draw_views.py; the session's state and the
buttons' callbacks in ui/draw_session.py; the model list in ui/shared.py.

A stroke reruns only what a stroke changes: the canvas and everything read from the drawing are one
fragment (``drawing_and_reading``); the title and the model picker above it, and the model lab's "About
this model" under it, run again only when the model or the input changes. Teach, Forget and Save
change the picker too, so they rerun the page.

Session state: see ui/draw_session.py.
"""
from __future__ import annotations

import contextlib

import streamlit as st
from streamlit_drawable_canvas import st_canvas      # only a page script may import it (a running app)

from nn.explain import judge, read
from nn.model import ModelFileError
from nn.preprocess import preprocess
from ui import model_lab as lab
from ui.draw_session import (CANVAS_KEY, CURRENT_X, MODEL, PERSONAL, TAUGHT, canvas_key, one_blas_thread, reference,
                             shared_model_lock, taught_card)
from ui.draw_views import (answer, drawing_controls, photo, probabilities, taught_caption, taught_model, teach_it,
                           what_it_sees)
from ui.navigation import through_app
from ui.shared import MAX_LISTED, ModelEntry, describe, list_digit_models, load_model, remember_learner
from ui.text import plain

through_app("pages/draw.py")
remember_learner()

ss = st.session_state
CANVAS_SIZE = 280
# the canvas's toolbar shows on hover 2.65rem (42 px) above the canvas, over whatever is there:
# this much room above the canvas (plus the usual gaps) keeps it off the model's description
TOOLBAR_ROOM = 16
CANVAS_BOX = "draw_canvas_box"
DRAW_PROMPT = "The canvas is empty: draw a digit (0 to 9) in the black square."
canvas_key()


LAB_TABS = ["About this model", "Robustness lab", "Where is my digit?"]
LAB_TAB = "draw_lab_tab"
ABOUT_BELOW = "draw_about_below"     # True when this run of the page draws "About this model"


def model_of(entry: ModelEntry | None):
    """The model ``entry`` names (loaded once per server process); for None, this session's taught copy."""
    return ss[PERSONAL]["model"] if entry is None else load_model(entry)


def lab_source(entry: ModelEntry | None) -> dict:
    """What identifies the model for the lab's caches, and the lock of a shared model."""
    if entry is None:
        return {**lab.source_of(None), "lock": None}
    return {**lab.source_of(entry.path), "lock": shared_model_lock()}


# ----- what a stroke reruns ---------------------------------------------------------------------------

@st.fragment
def drawing_and_reading(entry: ModelEntry | None) -> None:
    """The canvas (or the photo), the reading of it and everything shown from that reading.

    ``entry`` is the chosen shared model, or None for this session's taught copy.

    The answer goes out first: the drawing is judged and the Prediction written before anything else
    the stroke changes (the canvas's own buttons, the probability chart, what the network sees, the
    model lab), so that the browser shows it as soon as it is known while the rest follows."""
    personal = ss.get(PERSONAL)
    model, shared = model_of(entry), entry is not None
    source = ss.get("draw_source", "Draw")
    left, right = st.columns([1, 1.45], gap="large")
    pre, prompt = None, DRAW_PROMPT
    with left:
        if source == "Draw":
            pen = ss.get("draw_pen", 20)
            st.space(TOOLBAR_ROOM)
            # the black square is there from the first paint: the canvas's script takes a few seconds
            # to load the first time, and the prompt already says "draw in the black square"
            st.html(f"<style>.st-key-{CANVAS_BOX} {{ width: {CANVAS_SIZE}px; min-height: {CANVAS_SIZE}px; "
                    "background: #000; }</style>")
            with st.container(key=CANVAS_BOX):
                canvas = st_canvas(stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000",
                                   height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
                                   return_image_data=True, key=ss[CANVAS_KEY])
            image = canvas.image_data          # decoded from its PNG at every access: once
            # one call into nn: the same pipeline for drawings and photos
            pre = preprocess(image) if image is not None else None
        else:
            prompt = "Upload a photo of one digit written on paper."
            pre = photo()

    # the answer first: the verdict alone decides it, and it is written before anything else the
    # stroke changes. Forward passes on a shared model are serialised (its layers keep the last
    # batch's values for the saliency map).
    lock = shared_model_lock() if shared else contextlib.nullcontext()
    view = None
    if pre is not None and not pre.blank:
        with lock:                       # one "not sure" rule for the page and nn.predict
            view = judge(model, pre.x)
    with right:
        answer(view, pre.reason if pre is not None else prompt)
    if source == "Draw":
        with left:                       # under the canvas, where they always were
            drawing_controls()
    reading = None
    if view is not None and view.readable:     # a lone dot has nothing to read (the answer said so)
        with lock:
            reading = read(model, pre.x)
        with right:
            probabilities(reading, view)
    ss[CURRENT_X] = pre.x if reading is not None else None

    # what comes and goes with the reading sits in one container, so that the lab's tabs below stay
    # at the same place in the page: the browser rebuilds tabs that move, back on their first tab, so
    # the open tab would jump back to "About this model" at the first stroke and at every Clear
    with st.container():
        if reading is not None:
            what_it_sees(pre, reading, source)
            teach_it(pre, view, personal, entry)
        if personal is not None:
            taught_model(personal, reading is not None)
    # the model lab follows each stroke too: the star on the map, the drawing in the robustness lab
    x_lab = pre.x if reading is not None else None
    lab_src = lab_source(entry)
    # only the open tab runs (a stroke costs one view, not three); choosing a tab reruns this fragment
    about_tab, robust_tab, map_tab = st.tabs(LAB_TABS, key=LAB_TAB, on_change="rerun")
    if about_tab.open != ss[ABOUT_BELOW]:
        st.rerun()                       # to or from "About this model", which the page draws: see below
    if robust_tab.open:
        with robust_tab:
            lab.robustness_lab(model, x_lab, "draw_robust", **lab_src)
    if map_tab.open:
        with map_tab:
            lab.hidden_map_view(model, x_lab, "draw_map", view=view if reading is not None else None, **lab_src)


# ----- page ------------------------------------------------------------------------------------------

st.title("✏️ Draw a digit")
st.caption("Draw with the mouse (or a finger). After every stroke the NumPy network reads your drawing: "
           "below you see what it receives, how sure it is, and which pixels made up its mind.")

one_blas_thread()    # once per server process: a stroke's small products are faster on one thread
reference()          # loaded once per server process (about a second), before the first stroke

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
        st.caption(taught_caption(personal))
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

# "About this model" depends on the model alone, so the page draws it under the fragment, straight under
# the lab's tabs, rather than inside: a stroke or a Clear would otherwise send it all again (two plotly
# charts and a dozen elements: a sixth of the server's work per stroke, and the browser's redrawing).
# Choosing that tab, or leaving it, reruns the page (the fragment's st.rerun above).
ss[ABOUT_BELOW] = ss.get(LAB_TAB, LAB_TABS[0]) == LAB_TABS[0]
drawing_and_reading(chosen)
if ss[ABOUT_BELOW]:
    shown = model_of(chosen)
    # the taught copy is described by its own card (its base model's making, its lessons), not by the
    # card it inherited, whose figures were measured on the base model's weights
    card = shown.meta if chosen is not None else taught_card(ss[PERSONAL])
    with st.container(key="draw_lab_about"):
        lab.about_model(shown, card, **lab_source(chosen), key="draw_about")
