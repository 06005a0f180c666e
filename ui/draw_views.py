"""What the Draw page shows from a reading: the photo uploader, the canvas's buttons, the answer
(Prediction, Confidence, "not sure") and its probability chart, what the network sees (the
preprocessing steps, the saliency map, the hidden layers), Teach it, and the taught copy's line.
The figures and pictures themselves come from ui/draw_charts.py; the state from ui/draw_session.py.
"""
from __future__ import annotations

import streamlit as st

from nn.preprocess import ImageError, load_image, preprocess
from nn.settings import SETTINGS
from ui import draw_charts as charts
from ui.draw_session import LESSON, PHOTO, SAVE_MSG, clear, digest, forget, save, teach_drawing
from ui.model_lab import bundled_accuracy
from ui.shared import ModelEntry
from ui.text import plain

ss = st.session_state
MAX_UPLOAD_MB = 10
MAX_PIXELS = 25_000_000
# MNIST's own digits are cropped, scaled and centred, but not straightened: the deskewing is this
# project's (nn.preprocess.normalise_digits), done to every digit the shipped networks learnt from.
WHAT_IT_SEES = ("Your picture is cropped, shrunk so that its longer side is 20 pixels and centred by its centre "
                "of mass in a 28×28 square, as the MNIST digits were prepared. Then it is straightened "
                "(deskewed): MNIST's own digits keep the slant they were written with, but this app "
                "straightened every digit the network learnt from in the same way before training. The last "
                "picture is the 784 numbers the network receives.")
STEP_TITLES = {"grey": "What you gave it", "cleaned": "Background removed", "cropped": "Cropped to the ink",
               "scaled": "Scaled: 20 px box", "centred": "Centred in 28×28",
               "deskewed": "Deskewed: the input"}


def photo():
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


def drawing_controls() -> None:
    """Clear and the pen's width, under the canvas."""
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.button("Clear", on_click=clear, key="draw_clear", icon=":material/ink_eraser:",
              help="Wipe the canvas and start again.")
    c2.slider("Pen width", 8, 40, 20, key="draw_pen",
              help="Thickness of your strokes; the preprocessing evens it out before the network reads it.")


def answer(view, prompt: str) -> None:
    """The answer: the Prediction and Confidence metrics and, when the network is not sure, why.

    view : nn.explain.Verdict of the drawing, or None (no drawing yet: dashes and ``prompt``). A
    drawing with nothing to read (a lone dot: ``view.readable`` False) gets dashes too, and why, but
    no guess."""
    m1, m2 = st.columns(2)
    if view is None or not view.readable:
        m1.metric("Prediction", "–")
        m2.metric("Confidence", "–")
        st.info(prompt if view is None else view.reason)
        return
    m1.metric("Prediction", str(view.digit) if view.sure else "?")
    m2.metric("Confidence", f"{view.confidence:.0%}",
              help="The network's probability for its top digit. It is only meaningful for inputs "
                   "that look like the digits it was trained on.")
    if not view.sure:
        st.warning(f"**Not sure:** {view.guesses()}. {view.reason}")


def probabilities(reading, view) -> None:
    """The bar chart of the ten probabilities, under the answer (plain HTML: see
    ui/draw_charts.py probability_html for why not plotly)."""
    st.html(charts.probability_html(reading.probs, reading.predicted, view.sure))


def what_it_sees(pre, reading, source: str) -> None:
    st.subheader("What the network sees")
    # a drawing has no background to remove: that step only tells something about photos
    steps = [k for k in STEP_TITLES if k in pre.steps and (k != "cleaned" or source == "Photo")]
    st.html(charts.picture_row([(charts.grey_pixels(pre.steps[key], 112), STEP_TITLES[key]) for key in steps], 112))
    st.caption(WHAT_IT_SEES)

    st.subheader(f"Why {reading.predicted}? The saliency map")
    grad, grad_x = reading.saliency(pre.x)
    s1, s4 = st.columns([3, 2])
    digit_img = pre.x.reshape(28, 28)
    s1.html(charts.picture_row([(charts.grey_pixels(digit_img, 140), "The input"),
                                (charts.diverging_pixels(grad_x), "Gradient × input"),
                                (charts.diverging_pixels(grad, outline=digit_img), "Gradient (input in grey)")],
                               140))
    s4.markdown(f"**Red** pixels push the network towards **{reading.predicted}**, **blue** ones push "
                f"it away. *Gradient × input*: which of your strokes did the pushing. *Gradient*: where "
                f"adding ink would raise the score of {reading.predicted}, anywhere in the square. Both "
                "come from the network's own backward pass: ∂ score / ∂ pixel.")

    with st.expander("Inside the network: the hidden layers' activations"):
        if not reading.hidden:
            st.markdown("This network has no hidden layer: the pixels go straight to the ten scores.")
        for i, h in enumerate(reading.hidden, 1):
            active = int((h > 0).sum())
            st.image(charts.png_url(charts.activation_strip(h)), width="stretch",
                     caption=f"Hidden layer {i}: {len(h)} neurons, {active} of them above zero "
                             "(brighter = more active)")


def teach_it(pre, view, personal: dict | None, entry: ModelEntry | None) -> None:
    """"Teach it", under the reading of a drawing. view : nn.explain.Verdict of the drawing (the answer
    shown above), so that what the lesson says agrees with it."""
    st.subheader("Teach it")
    lesson_state = ss.get(LESSON)
    if lesson_state is not None and lesson_state["digest"] == digest(pre.x) and personal is not None:
        lesson = lesson_state["lesson"]
        before_acc, after_acc = personal["accuracy"][-2], personal["accuracy"][-1]
        if lesson.learned and view.sure and view.digit == lesson.label:
            st.success(f"Learnt in {lesson.steps} gradient steps: it now reads your drawing as a "
                       f"{lesson.label}.")
        elif lesson.learned:         # its top answer, but not clearly enough for the page's "not sure" rule
            st.info(f"After {lesson.steps} gradient steps {lesson.label} is its top answer, but it is not "
                    "sure yet (see the answer above): teach it again to make it surer.")
        else:
            st.warning(f"After {lesson.steps} steps it is not convinced yet "
                       f"({lesson.after[lesson.label]:.0%} for {lesson.label}): teach it again, or draw "
                       "the digit more clearly.")
        st.plotly_chart(charts.before_after_bars(lesson.before, lesson.after, lesson.label),
                        config={"displayModeBar": False}, key="draw_lesson_chart")
        st.caption(f"Share right of the 2,000 bundled test digits (its check for forgetting): "
                   f"{bundled_accuracy(before_acc)} before this lesson, {bundled_accuracy(after_acc)} after. "
                   "Each step also rehearsed 124 digits it already knew, so that it forgets as little as "
                   "possible of the rest.")
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
        st.button("Teach it", on_click=teach_drawing, key="draw_teach", type="primary",
                  disabled=ss.get("draw_teach_label") is None,
                  help="Fine-tunes your own copy of the model on this drawing (and some of its training digits).")


def taught_caption(personal: dict) -> str:
    """One line about this session's taught copy, in place of its base model's description (whose
    accuracy and training it no longer has)."""
    model, n = personal["model"], len(personal["lessons"])
    accuracy = personal["accuracy"]
    return " · ".join([model.config.shape, SETTINGS["activation"].name_of(model.config.activation),
                       f"your copy of {plain(personal['base'])}, taught {n} drawing{'s' * (n != 1)} on this page",
                       f"{bundled_accuracy(accuracy[-1])} of the 2,000 bundled test digits right "
                       f"({bundled_accuracy(accuracy[0])} before its lessons)"])


def taught_model(personal: dict, reading_shown: bool) -> None:
    if not reading_shown:
        st.subheader("Your taught model")
    n = len(personal["lessons"])
    st.caption(f"Your taught copy of {plain(personal['base'])}: {n} lesson{'s' * (n != 1)} "
               f"({', '.join(map(str, personal['lessons']))}). It lives in this browser session only.")
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        st.text_input("Save it as", key="draw_save_name", placeholder="e.g. my-handwriting", width=320,
                      help="Letters, digits, '-' and '_'. Saved models appear in your own model lists, "
                           "in this browser.")
        st.button("Save", on_click=save, key="draw_save", help="Write your taught copy as a model file.")
        st.button("Forget the lessons", on_click=forget, key="draw_forget",
                  help="Back to the shared model: your taught copy is dropped (save it first to keep it).")
    msg = ss.get(SAVE_MSG)
    if msg:
        (st.success if msg[0] == "success" else st.error)(msg[1])
