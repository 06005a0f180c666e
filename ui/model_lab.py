"""The Draw page's model lab: three views of the chosen model, each drawn by one call.

    about_model       what the model is (architecture, data, official-test accuracy, per class, the
                      pairs it confuses) and how far its confidence can be trusted (reliability diagram)
    robustness_lab    distort a drawing (or a test digit) step by step and watch the answer change, with
                      the accuracy-versus-distortion curve of the model on 500 bundled test digits
    hidden_map_view   "Where is my digit?": the drawing placed on the PCA map of the last hidden layer

Every number comes from nn (nn.calibrate, nn.robustness, nn.hidden_map, nn.explain, nn.evaluate); the
figures from ui/lab_charts.py. What is slow is cached per model: a model file is known by its path and
modification time (``path``, ``mtime_ns``; ``source_of`` gives both), so a replaced file is measured
again. A model with no file (the Draw page's taught copy) is known by a digest of its weights, and its
hidden map lives in this session's state. Models are only read, never trained. A shared model's layers
keep what a forward pass saw (for a backward pass, such as the page's saliency map), so every forward
pass here runs under ``lock`` when one is given: pass the page's lock for a shared model.
"""
from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from nn.calibrate import temperature_of
from nn.data import DIGIT_NAMES, load_mnist_sample
from nn.evaluate import evaluate_scores, scores_of
from nn.explain import Verdict, judge
from nn.hidden_map import TYPICAL, HiddenMap, Placement, hidden_map
from nn.model import MLP, ModelFileError
from nn.preprocess import normalise_digits
from nn.robustness import DISTORTIONS, distort, robustness_curve
from ui import draw_charts, lab_charts
from ui.shared import SHIPPED_DIR, ModelEntry, load_model, trained_on
from ui.text import plain

__all__ = ["N_CURVE", "SECOND_MODEL", "about_model", "bundled_accuracy", "ece_change", "hidden_map_view",
           "map_sentence", "robustness_lab", "source_of", "taught_note"]

SECOND_MODEL = SHIPPED_DIR / "mnist-sample.npz"     # the sample-trained model, overlaid for comparison
N_CURVE = 500                                       # bundled test digits behind a robustness curve
# slider steps: fine enough to watch the answer change, coarse enough that each move means something
STEPS = {"rotation": 5.0, "thickness": 0.25, "noise": 0.05, "shift": 0.5, "scale": 0.05}
# the slider's numbers as fine as its step: "0" degrees, not "0.00"
FORMATS = {"rotation": "%d", "thickness": "%.2f", "noise": "%.2f", "shift": "%.1f", "scale": "%.2f"}
CALIBRATION_TEXT = ("A network is **calibrated** when its confidence can be taken at its word: of all the "
                    "answers it gives with 90% confidence, about 90% are right. Temperature scaling divides "
                    "every score by one number T fitted on held-out digits, which keeps each answer but makes "
                    "its confidence honest, so that \"not sure\" appears when it should.")


def source_of(path: str | Path | None) -> dict:
    """The keyword arguments that identify a model file for caching: ``{"path": ..., "mtime_ns": ...}``
    (both None for a model that has no file, such as a taught copy)."""
    if path is None:
        return {"path": None, "mtime_ns": None}
    return {"path": str(path), "mtime_ns": Path(path).stat().st_mtime_ns}


# ----- shared, read-only -------------------------------------------------------------------------

@st.cache_resource(show_spinner="Loading the bundled test digits…")
def _bundled() -> tuple[np.ndarray, np.ndarray]:
    """The bundled sample's 2,000 test digits (200 per class), normalised as the network sees them:
    x (2000, 784) float32 and y (2000,) int64, read-only."""
    ds = load_mnist_sample()
    x = np.concatenate([normalise_digits(ds.x_val[i:i + 1000]) for i in range(0, len(ds.x_val), 1000)])
    y = ds.y_val.copy()
    for a in (x, y):
        a.flags.writeable = False
    return x, y


def _curve_digits() -> tuple[np.ndarray, np.ndarray]:
    """The first N_CURVE bundled test digits: x (N_CURVE, 784), y (N_CURVE,)."""
    x, y = _bundled()
    return x[:N_CURVE], y[:N_CURVE]


def _model_key(model: MLP, path: str | None, mtime_ns: int | None) -> tuple:
    """What identifies the model in a cache: its file, or (no file) a digest of its weights."""
    if path is not None:
        return ("file", str(path), int(mtime_ns or 0))
    h = hashlib.blake2b(digest_size=16)
    for name, a in sorted(model.state().items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(a).data)
    return ("weights", h.hexdigest())


@st.cache_data(show_spinner="Measuring the model on the bundled test digits…", max_entries=16)
def _bundled_report(_model: MLP, model_key: tuple, _lock) -> dict:
    """nn.evaluate's report of the model on the bundled test digits (accuracy, per class, confused
    pairs, calibration bins with T = 1 and with its temperature; not the "not sure" shares, which
    the view does not show and which cost most of the time). Cached per ``model_key``."""
    x, y = _bundled()
    with _lock:
        return evaluate_scores(_model, scores_of(_model, x), x, y, DIGIT_NAMES, not_sure=False)


@st.cache_data(show_spinner="Distorting 500 test digits at every step…", max_entries=64)
def _curve(_model: MLP, model_key: tuple, kind: str, normalise: bool, _lock) -> tuple[np.ndarray, np.ndarray]:
    """(amounts, accuracies) of the model's robustness curve for one kind of distortion over the
    slider's whole range (the default amounts, mirrored for rotation and shift). Cached per model, kind
    and ``normalise``."""
    amounts = _curve_amounts(kind)
    x, y = _curve_digits()
    with _lock:
        return amounts, robustness_curve(_model, x, y, kind, amounts, normalise=normalise)


def _curve_amounts(kind: str) -> np.ndarray:
    d = DISTORTIONS[kind]
    amounts = set(map(float, d.curve))
    if d.low < 0 <= min(amounts):       # rotation, shift: turn or move either way
        amounts |= {-a for a in amounts}
    amounts |= {d.low, d.high}
    return np.array(sorted(amounts))


@st.cache_resource(show_spinner=False, max_entries=32)
def _about_figures(model_key: tuple, sources: tuple, _per_class: list[dict], _bins_before: list[dict],
                   _bins_after: list[dict]) -> tuple:
    """The per-class bars and the reliability diagram of a model, built once (shared, read-only:
    st.plotly_chart only reads a figure). They depend on the model alone, yet every stroke and every
    Clear rerun the tab: rebuilt, they cost the server about 25 ms each time (plotly validates every
    property it is given). Cached per ``model_key`` and ``sources`` (where the numbers come from: the
    card or the bundled digits) rather than per numbers, whose lists of dicts Streamlit would hash
    at every call."""
    return lab_charts.per_class_bars(_per_class), lab_charts.reliability_diagram(_bins_before, _bins_after)


@st.cache_resource(show_spinner="Mapping the last hidden layer…", max_entries=8)
def _file_map(_model: MLP, model_key: tuple, _lock) -> HiddenMap:
    """The hidden-layer map of a model file, built once per file version (shared, read-only)."""
    x, y = _bundled()
    with _lock:
        return hidden_map(_model, x, y)


def _session_map(model: MLP, model_key: tuple, key: str, lock) -> HiddenMap:
    """The hidden-layer map of a model without a file (this session's own), rebuilt when its weights change."""
    slot = f"{key}_hidden_map"
    held = st.session_state.get(slot)
    if held is None or held[0] != model_key:
        x, y = _bundled()
        with lock:
            held = (model_key, hidden_map(model, x, y))
        st.session_state[slot] = held
    return held[1]


def _second_model() -> MLP | None:
    """The shipped sample-trained model (read-only, shared), or None when it is missing or broken."""
    try:
        return load_model(ModelEntry(SECOND_MODEL.stem, SECOND_MODEL, "shipped"))
    except (ModelFileError, OSError):
        return None


def _as_input(x: np.ndarray | None) -> np.ndarray | None:
    return None if x is None else np.asarray(x, np.float32).reshape(1, -1)


# ----- 1. about this model -------------------------------------------------------------------------

def about_model(model: MLP, card: dict, path: str | None = None, mtime_ns: int | None = None,
                key: str = "draw_about", lock=None) -> None:
    """What the model is and how honest its confidence is.

    model : the chosen model (read only); card : its card (``model.meta`` of a loaded model; for the
        Draw page's taught copy, ui.draw_session.taught_card)
    path, mtime_ns : its file and modification time (``source_of(path)``), the cache key of what is
        measured here; None for a model with no file (a taught copy)
    key : prefix of the keys of its elements; lock : held around forward passes of a shared model

    The official-test figures (per class, confused pairs) and the reliability bins come from the card
    when they belong to these weights (a model file whose card is its own, not a taught copy's, which
    only describes how its base model was made); otherwise from nn.evaluate on the bundled sample's
    2,000 test digits.
    """
    card = card if isinstance(card, dict) else {}
    base = card.get("base_model")
    own_figures = path is not None and not base
    official = (card.get("evaluations") or {}).get("mnist") if own_figures else None
    calibration = (card.get("calibration") or {}) if own_figures else {}
    has_bins = bool(calibration.get("bins_before")) and bool(calibration.get("bins_after"))
    report = None
    model_key = _model_key(model, path, mtime_ns)
    if official is None or not has_bins:
        report = _bundled_report(model, model_key, lock or contextlib.nullcontext())

    st.markdown(f"**Architecture:** {plain(model.describe())}")
    st.markdown(f"**Trained on:** {plain(_trained_on(card))}")
    m1, m2, m3 = st.columns(3)
    if official is not None:
        m1.metric("Official MNIST test", f"{official['accuracy']:.2%}",
                  help=f"Share right of {official.get('n', 10000):,} digits it never trained on "
                       "(the official MNIST test set), from its model card.")
        results, where = official, "the official MNIST test set"
    else:
        m1.metric("Bundled test digits", bundled_accuracy(report["accuracy"]),
                  help="Share right of the bundled sample's 2,000 test digits (they come from MNIST's "
                       "training set: a model trained on all of MNIST has seen them).")
        results, where = report, "the bundled sample's 2,000 test digits"
    try:
        t = temperature_of(model)
    except ValueError:
        t = 1.0
    m2.metric("Temperature T", f"{t:.2f}",
              help="Every score is divided by T before the softmax: T > 1 softens over-confident "
                   "probabilities, T = 1 leaves them as they are."
                   + (f" Kept from {base}: fitted before the lessons, not fitted again." if base else ""))
    if has_bins:
        bins_before, bins_after = calibration["bins_before"], calibration["bins_after"]
        ece_before, ece_after = calibration.get("ece_before"), calibration.get("ece_after")
        n_check = calibration.get("n_check")
        measured = (f"{n_check:,} held-out official test digits the temperature was not fitted on"
                    if n_check else "held-out digits")
    else:
        cal = report["calibration"]
        bins_before, bins_after = cal["bins_before"], cal["bins_after"]
        ece_before, ece_after = cal["ece_before"], cal["ece_after"]
        measured = "the bundled sample's 2,000 test digits"
    if ece_before is not None and ece_after is not None:
        m3.metric("Calibration error", f"{ece_after:.2%}", delta=ece_change(ece_before, ece_after),
                  delta_color="inverse",
                  help="Expected calibration error (ECE): how far confidence is from accuracy, on average "
                       "over the answers. 0 is perfectly honest. The change is the difference of the two "
                       "figures as shown.")
    if base:
        st.caption(taught_note(plain(base), t, card.get("dataset") == "mnist"))

    per_class_fig, reliability_fig = _about_figures(model_key, (official is not None, has_bins), results["per_class"],
                                                    bins_before, bins_after)
    left, right = st.columns(2, gap="large")
    with left:
        st.plotly_chart(per_class_fig, config={"displayModeBar": False}, key=f"{key}_per_class")
        pairs = results.get("confused_pairs") or []
        if pairs:
            st.markdown(f"**Most confused** (on {where}): " + ", ".join(
                f"{p['true']} read as {p['predicted']} ({p['count']}×)" for p in pairs[:5]))
    with right:
        st.plotly_chart(reliability_fig, config={"displayModeBar": False}, key=f"{key}_reliability")
        ece = (f"ECE {ece_before:.2%} before, {ece_after:.2%} after temperature scaling (T = {t:.2f}); "
               if ece_before is not None and ece_after is not None else "")
        st.caption(f"{ece}measured on {measured}. Each bar is one band of confidence (hover for how many "
                   "answers fell in it); a calibrated model's bars reach the dashed diagonal. An MNIST "
                   "network is sure of almost every answer, so nearly all of them are in the last band.")
    st.info(CALIBRATION_TEXT)


def bundled_accuracy(accuracy: float) -> str:
    """A share right of the 2,000 bundled test digits, as the page writes it everywhere: to 0.01%, as
    fine as one digit in 2,000 (0.05%) needs, so that one mistake never shows as "100.0%"."""
    return f"{accuracy:.2%}"


def ece_change(before: float, after: float) -> str:
    """The change of the calibration error, '-0.07% vs T = 1': the difference of the two figures as
    they are shown (to 0.01%), so that it agrees with them (0.32% -> 0.25% is -0.07%, although the
    unrounded 0.316% -> 0.252% differ by 0.064%)."""
    shown = float(f"{100 * after:.2f}") - float(f"{100 * before:.2f}")
    return f"{shown:+.2f}% vs T = 1"


def taught_note(base: str, t: float, base_saw_bundled: bool) -> str:
    """What the About tab says of a taught copy's temperature and of the digits it is measured on.

    base : its base model's name; t : its temperature; base_saw_bundled : True when the base model was
    trained on all of MNIST, whose training set the bundled test digits come from."""
    note = (f"This is your taught copy of {base}: it keeps {base}'s temperature (T = {t:.2f}), fitted on "
            "held-out digits before the lessons and not fitted again since, and everything here is measured "
            "on the bundled sample's 2,000 test digits, as the line under the model picker is.")
    if base_saw_bundled:
        note += (f" {base} learnt from those digits (they come from MNIST's training set), so on them it is "
                 "surer than on new digits: there, T = 1 looks better calibrated than it would on digits it "
                 "never saw, which is why the temperature is not fitted on them.")
    return note


def _trained_on(card: dict) -> str:
    if not card:
        return "(no model card: the figures below are measured here)"
    parts = []
    if card.get("dataset"):
        parts.append(trained_on(card))
    if card.get("augment"):
        parts.append("with augmentation (shifted, turned, scaled, thickened copies)")
    if card.get("train_config", {}).get("epochs"):
        parts.append(f"{card['train_config']['epochs']} epochs")
    made = ", ".join(parts) or "(not recorded in its card)"
    if not card.get("base_model"):
        return made
    lessons = [str(k) for k in card.get("lessons") or []]
    n = len(lessons)
    taught = (f"a drawing taught as a {lessons[0]}" if n == 1
              else f"drawings taught as {', '.join(lessons)}" if n else "none yet")
    return (f"{card['base_model']}'s training ({made}), then {n} lesson{'s' * (n != 1)} by hand on the Draw "
            f"page ({taught})")


# ----- 2. the robustness lab -------------------------------------------------------------------------

@st.fragment
def robustness_lab(model: MLP, x_drawing: np.ndarray | None, key: str, path: str | None = None,
                   mtime_ns: int | None = None, lock=None) -> None:
    """Distort the drawing (or a bundled test digit) and watch the answer and the accuracy curve.

    model : the chosen model (read only); x_drawing : (1, 784) or (784,) the preprocessed drawing, or
    None to use a test digit; key : prefix of every widget key; path, mtime_ns : ``source_of`` the
    model file (None for a model without one); lock : held around forward passes of a shared model.

    A fragment: moving a slider reruns only this view. The first curve of a model and kind takes about
    a second (500 digits at every amount), then it comes from the cache.
    """
    lock = lock or contextlib.nullcontext()
    x_all, y_all = _bundled()
    kinds = list(DISTORTIONS)
    c1, c2 = st.columns([1, 2])
    kind = c1.selectbox("Distortion", kinds, format_func=str.capitalize, key=f"{key}_kind",
                        help="What to do to the digit. " + " ".join(
                            f"**{k.capitalize()}**: {d.help}" for k, d in DISTORTIONS.items()))
    d = DISTORTIONS[kind]
    amount = c2.slider(f"Amount of {kind} ({d.unit})", float(d.low), float(d.high), float(d.neutral),
                       step=STEPS[kind], format=FORMATS[kind], key=f"{key}_amount_{kind}",
                       help=f"{d.help} At {d.neutral:g} the digit is unchanged.")
    o1, o2 = st.columns(2)
    normalise = o1.toggle("Straighten and centre again", key=f"{key}_normalise",
                          help="Put the distorted digit through the same centring and deskewing a drawing "
                               "gets: it undoes a shift completely and part of a rotation. Off: what the "
                               "network alone tolerates.")
    second = _second_model() if SECOND_MODEL.exists() and path != str(SECOND_MODEL) else None
    compare = o2.toggle("Compare with the sample-trained model", key=f"{key}_compare",
                        disabled=second is None,
                        help="Overlay the curve of the shipped mnist-sample model (8,000 digits, less "
                             "augmentation) to see what more data and augmentation buy.")

    truth = None
    x = _as_input(x_drawing)
    if x is None:
        index = st.number_input("Test digit", 0, len(x_all) - 1, 0, key=f"{key}_digit",
                                help="No drawing yet: distort one of the bundled test digits (0 to 1,999). "
                                     "Draw a digit to distort your own.")
        x, truth = x_all[index:index + 1], int(y_all[index])
    xd = distort(x, kind, amount)
    if normalise:
        xd = normalise_digits(xd)
    with lock:
        view = judge(model, xd)

    amounts, acc = _curve(model, _model_key(model, path, mtime_ns), kind, normalise, lock)
    curves = {"this model": acc}
    if compare and second is not None:
        curves["sample-trained model"] = _curve(second, _model_key(second, str(SECOND_MODEL),
                                                                   SECOND_MODEL.stat().st_mtime_ns),
                                                kind, normalise, lock)[1]
    marker = (amount, float(np.interp(amount, amounts, acc)))

    left, right = st.columns([1, 1.6], gap="large")
    with left:
        i1, i2 = st.columns(2)
        i1.image(draw_charts.png_url(draw_charts.grey_image(x.reshape(28, 28), 120)), width=120,
                 caption="your drawing" if truth is None else f"test digit: a {truth}")
        i2.image(draw_charts.png_url(draw_charts.grey_image(xd.reshape(28, 28), 120)), width=120,
                 caption=f"{kind} {amount:g} {d.unit}")
        st.metric("Prediction", str(view.digit) if view.sure else "?",
                  help="What the network reads in the distorted digit, decided as everywhere in the app "
                       "(nn.explain.judge): '?' when it is not sure.")
        st.caption(f"Confidence {view.confidence:.0%}")
        if not view.readable:             # distorted into a blob: nothing to read, no guess
            st.warning(view.reason)
        elif not view.sure:
            st.warning(f"**Not sure:** {view.guesses()}. {view.reason}")
        elif truth is not None and view.digit != truth:
            st.error(f"Wrong, and sure of it: this is a {truth}.")
    with right:
        st.plotly_chart(lab_charts.robustness_figure(amounts, curves, kind, d.unit, marker),
                        config={"displayModeBar": False}, key=f"{key}_curve")
        st.caption(f"Share of {N_CURVE} bundled test digits read right at each amount of {kind}; the diamond "
                   "is your setting (between two measured amounts, read off the line). Where the curve "
                   "drops is where the network breaks: it learnt from digits centred, upright and of a "
                   "standard size, and only sees beyond that what its training showed it.")


# ----- 3. where is my digit? ---------------------------------------------------------------------

@st.fragment
def hidden_map_view(model: MLP, x_drawing: np.ndarray | None, key: str, path: str | None = None,
                    mtime_ns: int | None = None, lock=None, view: Verdict | None = None) -> None:
    """The PCA map of the last hidden layer for 2,000 bundled digits, the drawing a star on it.

    model : the chosen model (read only); x_drawing : (1, 784) or (784,) the preprocessed drawing, or
    None; key : prefix of every key; path, mtime_ns : ``source_of`` the model file (None: no file, the
    map is kept in this session); lock : held around forward passes of a shared model; view : the
    page's answer for the drawing (nn.explain.judge), judged here when not given.
    """
    if not model.config.hidden or model.config.hidden[-1] < 2:
        st.info("This network has no hidden layer to map: its pixels go straight to the ten scores.")
        return
    lock = lock or contextlib.nullcontext()
    model_key = _model_key(model, path, mtime_ns)
    if path is not None:
        hmap = _file_map(model, model_key, lock)
    else:
        hmap = _session_map(model, model_key, key, lock)
    x = _as_input(x_drawing)
    placed = None
    if x is not None:
        with lock:
            placed = hmap.place(x)
            view = view if view is not None else judge(model, x)
    st.plotly_chart(lab_charts.hidden_map_figure(hmap.coords, hmap.labels, hmap.centres, hmap.explained,
                                                 None if placed is None else placed.point),
                    config={"displayModeBar": False}, key=f"{key}_map")
    units = model.config.hidden[-1]
    if placed is None:
        st.info("Draw a digit: a star will show where it lands among the others.")
    else:
        st.markdown(map_sentence(placed, view, units, float(hmap.explained.sum())))
    on_map, in_layer = hmap.agreement
    st.caption(f"Each dot is one of {len(hmap.labels):,} bundled test digits, placed by what the last hidden "
               f"layer ({units} neurons) makes of it, squeezed to the two directions in which those "
               f"activations vary most (principal components: {hmap.explained.sum():.0%} of the variance). "
               "Digits the network finds alike land close together; the output layer only draws straight "
               "lines between the clouds. What the flat map cannot show is the rest of the variance: clouds "
               f"that overlap here can lie apart in the layer. On this map {on_map:.0%} of these digits lie "
               f"nearest the centre of their own class; in all {units} neurons, {in_layer:.0%} lie nearest "
               "their own class's average. So the sentence above measures in all the neurons, and the "
               "star only shows roughly where that is.")


def map_sentence(placed: Placement, view: Verdict, units: int, explained: float) -> str:
    """What the map view says about a drawing (markdown): where it lies in the full layer (nearest which
    class's average, inside which class's cloud), whether that agrees with the network's answer
    ``view``, and, when the flat map suggests another class, that the map is not to be trusted for that.

    placed : HiddenMap.place of the drawing; units : neurons of the last hidden layer;
    explained : share of their variance the map shows."""
    d, a = placed.nearest, view.digit
    layer = f"★ In the network's last hidden layer (all {units} neurons), your drawing"
    # ★ (not the ⭐ emoji): a plain-text star, drawn by any font, like the map's marker
    if view.sure and a != d and placed.within(a):
        # nearest another class's average, yet inside the cloud of its answer: clouds differ in size
        # (then the nearer cloud is the tighter one: r_d < dist_d < dist_a <= r_a)
        named = a
        text = (f"{layer} lies inside the cloud of the **{a}s**, as close to their average as most {a}s are, "
                f"which agrees with its answer, {a}. The average it is very nearest is the {d}s', but the "
                f"{d}s form a tighter cloud, and it lies outside that one.")
    else:
        named = d
        if placed.typical:
            text = (f"{layer} lies among the **{d}s**: nearer their average than any other digit's, and as "
                    f"near as most {d}s are.")
        else:
            text = (f"{layer} is nearer the average **{d}** than any other digit's, but farther from it than "
                    f"{TYPICAL:.0%} of the bundled {d}s: an unusual {d} to the network.")
        if not view.sure:
            text += f" The network is not sure what it is ({view.guesses()})."
        elif a == d:
            text += f" That agrees with its answer, {a}."
        else:
            text += (f" Its answer is **{a}** all the same: the output layer weighs some neurons far more "
                     f"than others, while this distance counts all {units} alike, so a drawing can lie nearer "
                     f"the average {d} and still score highest as a {a}.")
    if placed.on_map != named:
        text += (f"\n\nOn the flat map the star sits nearest the centre of the **{placed.on_map}s**, not the "
                 f"{named}s: the map keeps only 2 of the layer's {units} dimensions ({explained:.0%} of its "
                 "variance), so clouds that lie apart in the layer can overlap there. For where your drawing "
                 "really is, trust the layer, not the picture.")
    return text
