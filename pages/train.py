"""Train: watch a NumPy network learn, with every knob within reach.

The sidebar (ui/train_sidebar.py, built from nn/settings.py) decides the data and the network;
Start trains it in a separate process (ui/run_client.py) while a fragment redraws every live view
five times a second (ui/train_views.py, ui/train_charts.py); for small 2-D networks, the network itself
with every neuron, to look at and touch (ui/network_panel.py). Below, one training step with all its
numbers (ui/backprop_panel.py). The settings live in the address bar, so a link reproduces the experiment.
"""
from __future__ import annotations

import datetime as _dt

import numpy as np
import streamlit as st

from nn.data import SOURCES, TOY_DATASETS, Dataset, is_downloaded, load_dataset
from nn.download import DownloadError, download
from nn.features import LABELS
from nn.train import digit_pipeline
from ui import train_charts as charts
from ui.backprop_panel import backprop_panel
from ui.live_chart import live_chart
from ui.navigation import through_app
from ui.network_panel import NETWORK_VIEW, network_panel, picked_neuron
from ui.processes import warm_up
from ui.run_client import LiveRun, RunError, RunLost
from ui.run_protocol import RunData
from ui.shared import safe_model_name, user_models_dir
from ui.text import plain
from ui.train_settings import Settings, architecture, to_query, why_no_picture
from ui.train_sidebar import SETTINGS_KEY, WARNINGS_KEY, restore_widgets, settings_sidebar
from ui.train_views import INSIDE_CAPTIONS, VIEW_NEEDS, inside_figure, render_metrics
from ui.widgets import setting_widget

through_app("pages/train.py")
ss = st.session_state
REDRAW_SECONDS = 0.2        # every live view: five times a second while training
RUN, MESSAGE = "train_run", "train_message"


# ----- data (shared, read-only) ------------------------------------------------------------------

@st.cache_resource(show_spinner="Preparing the data…", max_entries=16)
def run_data(name: str, n: int, noise: float, val_share: float, n_classes: int, seed: int,
             augment: bool) -> tuple[RunData, Dataset]:
    """(what the network trains on, the dataset as people see it), shared read-only by all sessions
    (a Dataset's arrays are read-only; cached once here rather than copied out of st.cache_data)."""
    if name in TOY_DATASETS:
        ds = load_dataset(name, n=n, noise=noise, val_fraction=val_share, seed=seed, n_classes=n_classes)
        return RunData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds), ds
    ds = load_dataset(name)
    # digits are deskewed as the Draw page deskews a drawing (with augmentation, the worker
    # distorts and deskews every batch again: nn.train.augment_digits)
    x_train, x_val, _ = digit_pipeline(ds.x_train, ds.x_val, augment)
    return RunData(x_train, ds.y_train, x_val, ds.y_val, ds.n_classes, None, augment), ds


@st.cache_resource(show_spinner=False, max_entries=16)
def points_layer(name: str, n: int, noise: float, val_share: float, n_classes: int, seed: int) -> tuple:
    """The points of a 2-D dataset as pixels (train_charts.points_layer), drawn once, shared read-only."""
    _, ds = run_data(name, n, noise, val_share, n_classes, seed, False)
    return charts.points_layer(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.bounds)


def boundary_image(s: Settings, proba: np.ndarray | None, n_classes: int) -> np.ndarray:
    return charts.boundary_image(proba, n_classes,
                                 points_layer(s.dataset, s.n_points, s.noise, s.val_share, s.n_classes, s.seed))


@st.cache_resource(show_spinner=False)
def _warm_up_worker_server() -> bool:
    warm_up()            # the first Start then needs no extra 0.3 s
    return True


def data_for(s: Settings) -> tuple[RunData, Dataset]:
    """run_data for settings s; full datasets not downloaded yet fall back to the bundled sample."""
    if s.dataset in TOY_DATASETS:
        return run_data(s.dataset, s.n_points, s.noise, s.val_share, s.n_classes, s.seed, False)
    name = s.dataset if is_downloaded(s.dataset) else "mnist-sample"
    return run_data(name, 0, 0.0, 0.0, 0, 0, s.augment)        # images ignore the toy knobs and seed


# ----- actions (button callbacks run before the page is drawn) ------------------------------------

def _report(kind: str, text: str) -> None:
    ss[MESSAGE] = (kind, text)


def _ensure_run() -> LiveRun | None:
    if ss.get(RUN) is not None:
        return ss[RUN]
    settings = ss[SETTINGS_KEY]
    try:
        data, _ = data_for(settings)
        ss[RUN] = LiveRun(settings, data)
    except (ValueError, RunError, RunLost) as e:
        _report("error", f"Cannot build this network: {e}")
        return None
    return ss[RUN]


def _do(action: str) -> None:
    ss.pop(MESSAGE, None)
    try:
        if action == "reset":
            if ss.get(RUN) is not None:
                ss.pop(RUN).close()
            ss.pop("train_gradcheck", None)
            return
        run = ss.get(RUN) if action in ("pause", "resume") else _ensure_run()
        if run is None or action == "build":
            return
        if action in ("start", "resume"):
            run.start()
        elif action == "pause":
            run.pause()
        elif action == "step":
            run.step_epoch()
        elif action == "gradcheck":
            ss["train_gradcheck"] = run.gradient_check()
    except (RunError, RunLost) as e:
        _report("error", str(e))


def _lr_changed() -> None:
    run = ss.get(RUN)
    if run is not None:
        try:
            run.set_lr(ss["train_lr"])
        except (RunError, RunLost) as e:
            _report("error", str(e))


# ----- the page -------------------------------------------------------------------------------

st.title("Train a network")
st.markdown("Pick data and a network in the sidebar, press **Start**, and watch it learn: the loss "
            "should fall, the accuracy rise and the picture sharpen. Change one knob at a time, "
            "press **Reset**, and compare. The learning rate can be changed while it trains.")
_warm_up_worker_server()
restore_widgets()
with st.sidebar:
    settings, notes = settings_sidebar()

for warning in ss.pop(WARNINGS_KEY, []) + notes:
    st.warning(plain(warning), icon=":material/link_off:")

# the full datasets must be downloaded once; until then the bundled sample stands in
if settings.dataset in SOURCES and not is_downloaded(settings.dataset):
    source = SOURCES[settings.dataset]
    st.info(f"{source.title} is not on this machine yet (about {source.megabytes} MB). "
            f"Until it is, the page trains on the bundled MNIST sample.")
    if st.button(f"Download {source.title}", key="train_download",
                 help="Fetch the four official files once; they are checked (SHA-256) and cached."):
        bar = st.progress(0.0, text="Connecting…")

        def show(done: int, total: int | None, filename: str) -> None:
            of = f" of {total / 1e6:.1f} MB" if total else ""
            bar.progress(min(done / total, 1.0) if total else 0.0, text=f"{filename}: {done / 1e6:.1f} MB{of}")

        try:
            download(settings.dataset, progress=show)
            st.rerun()
        except DownloadError as e:
            bar.empty()
            st.error(str(e))

run: LiveRun | None = ss.get(RUN)
# what is on screen is the run's data (its settings may differ from the sidebar until Reset)
data, ds = data_for(run.settings if run is not None else settings)

# -- run controls --
running = run is not None and run.running
finished = run is not None and run.status["done"]
c = st.columns([1, 1, 1.2, 1, 1, 3.2], vertical_alignment="bottom")
for col, (label, icon, action, disabled, tip) in zip(c, [
        ("Start", "play_arrow", "start", run is not None,
         "Build the network from the settings and train until the last epoch (or Pause)."),
        ("Pause", "pause", "pause", not running, "Stop right now, even in the middle of an epoch."),
        ("Resume", "resume", "resume", run is None or running or finished,
         "Carry on training from where it stopped."),
        ("Step", "skip_next", "step", running or finished, "Train exactly one epoch (to its end), then stop."),
        ("Reset", "restart_alt", "reset", run is None,
         "Throw the network away; the next Start builds a fresh one from the current settings.")]):
    col.button(label, icon=f":material/{icon}:", key=f"train_{action}", on_click=_do, args=(action,), help=tip,
               disabled=disabled, width="stretch", type="primary" if action == "start" else "secondary")
with c[5]:
    setting_widget("lr", "train_lr", on_change=_lr_changed)
settings = Settings(**{**settings.__dict__, "lr": ss["train_lr"]})
ss[SETTINGS_KEY] = settings
st.query_params.from_dict(to_query(settings))
st.caption(":material/link: The address bar holds these settings: copy it to share this experiment.")

if MESSAGE in ss:
    kind, text = ss[MESSAGE]
    getattr(st, kind)(plain(text))
if run is not None and run.settings.run_identity() != settings.run_identity():
    st.warning("Settings changed: this run keeps its old ones. Press **Reset** to apply them.",
               icon=":material/tune:")
# why a run stopped, said where the learner looks
if run is not None and not run.running:
    status = run.status
    if status["diverged"]:
        st.error(f"Training stopped: it {status['diverged']}. The steps were so large that the weights "
                 "overshot and the numbers overflowed. Try: a learning rate 10× smaller, Adam instead of "
                 "SGD, batch normalisation, or fewer/narrower layers. Then press **Reset** and **Start**.",
                 icon=":material/error:")
    elif status["paused_reason"]:
        st.info(status["paused_reason"] + " Press **Resume** to go on.")
    elif status["done"]:
        st.success(f"Finished all {run.settings.epochs} epochs. Save the network below, or change a setting, "
                   "press **Reset** and compare.")


# -- live views --

@st.fragment(run_every=REDRAW_SECONDS if running else None)
def live_view() -> None:
    run = ss.get(RUN)
    images = ds.image_shape is not None
    shown = run.settings if run is not None else settings
    if run is None:
        arch, n_params = architecture(settings, ds.n_features, ds.n_classes)
        st.info(f"Network: {arch} ({n_params:,} parameters). Press **Start** to train it, or **Step** "
                "for one epoch at a time.", icon=":material/info:")
        if images:
            st.plotly_chart(charts.gallery_figure(ds.x_train[:16], [ds.class_names[k] for k in ds.y_train[:16]],
                                                  f"{len(ds.x_train):,} training images, e.g."),
                            key="train_preview", config=charts.CONFIG)
        else:
            _, right = st.columns([3, 2])
            right.plotly_chart(charts.boundary_figure(boundary_image(shown, None, ds.n_classes), ds.bounds,
                                                      "The data"),
                               key="train_preview", config=charts.CONFIG)
        return
    view_options = ["Weights & activations", "Gradients"]
    if images:
        view_options += ["Mistakes", "What neurons look for"]
    elif why_no_picture(run.settings) is None:
        view_options.insert(0, NETWORK_VIEW)        # every neuron of a small 2-D network, to touch
    view = ss.get("train_view") if ss.get("train_view") in view_options else view_options[0]
    learned_only = ss.get("train_neurons_delta", True)
    was_running = run.running
    needs = "network" if view == NETWORK_VIEW else VIEW_NEEDS.get(view, "")
    neuron = picked_neuron(run.settings, ds.n_classes) if view == NETWORK_VIEW else None
    try:
        snap = run.snapshot(frozenset({"confusion" if images else "boundary", needs}), neuron)
    except (RunError, RunLost) as e:
        st.error(str(e))
        return
    if was_running and not snap["running"]:
        st.rerun()               # redraw the whole page: buttons, messages, no more timer

    render_metrics(snap, run.info["n_train"])
    if images:
        picture = charts.confusion_panel(snap["confusion"], ds.class_names)
    else:
        regions = boundary_image(shown, snap["boundary"][2], ds.n_classes)
        picture = charts.boundary_panel(regions, ds.bounds, "Decision regions")
    live_chart(charts.live_figure(snap, picture), key="train_live")
    left, right = st.columns([3, 2])
    left.caption("Training curves falling (loss) and rising (accuracy) mean it is learning. Validation "
                 "following them means it generalises to new data; validation getting worse while "
                 "training keeps improving means it memorises the training set (overfitting).")
    if images:
        right.caption(f"Row = the true class, column = what the network said, for {snap['confusion'].sum():,} "
                      "validation images. A perfect network has numbers only on the diagonal; dark cells off it "
                      "are the pairs it confuses.")
    else:
        right.caption("The background is the class the network predicts at each point, pale where it is "
                      "unsure. Watch it bend around the points; a boundary that wraps single points is "
                      "overfitting.")
    st.segmented_control("Look inside the network", view_options, default=view_options[0], required=True,
                         key="train_view", help="Choose what to watch inside the network while it learns.")
    if view == "What neurons look for":
        st.toggle("Show only what training changed", value=True, key="train_neurons_delta",
                  help="Subtract each weight's random starting value. Pixels that are never inked (the "
                       "border) get no gradient, so there the weights keep their starting noise, which "
                       "hides the pattern.")
    if not images and NETWORK_VIEW not in view_options:
        st.caption(":material/visibility_off: " + why_no_picture(run.settings))
    if view == NETWORK_VIEW:
        network_panel(run, snap, shown, ds.class_names,
                      points_layer(shown.dataset, shown.n_points, shown.noise, shown.val_share, shown.n_classes,
                                   shown.seed), regions)
        return
    live_chart(inside_figure(snap, view, learned_only, ds, run.settings.hidden), key="train_inside")
    st.caption(INSIDE_CAPTIONS[view])


live_view()

shown = run.settings if run is not None else settings
with st.expander("One training step, with numbers", icon=":material/calculate:", key="train_backprop",
                 on_change="rerun") as step_box:
    if step_box.open:
        if run is None:
            st.button("Build the network", key="train_build", on_click=_do, args=("build",),
                      help="Build the network from the settings without training it: trace its very first step.")
        backprop_panel(run, len(ds.x_train), None if ds.image_shape else ds.x_train,
                       None if ds.image_shape else [LABELS[f] for f in shown.features], ds.class_names,
                       shown.batch_size)

st.divider()
left, right = st.columns(2)
with left:
    st.subheader("Check the gradients")
    st.markdown("Backpropagation computes every gradient in one backward pass. The slow, obviously "
                "correct way nudges each weight up and down by h = 10⁻⁵ and watches the loss: "
                "(L(w+h) − L(w−h)) / 2h. If the two agree, backprop is right.")
    st.button("Compare with numerical gradients", key="train_gradcheck_button", on_click=_do,
              args=("gradcheck",), disabled=running,
              help="Runs on 16 training samples in float64, 40 random weights per array, with the network "
                   "as it is now (pause first).")
    if "train_gradcheck" in ss:
        results = ss["train_gradcheck"]
        st.plotly_chart(charts.gradcheck_figure(results), key="train_gradcheck_chart", config=charts.CONFIG)
        worst = max(err for _, err in results)
        st.caption(f"Largest relative error {worst:.1e}: {charts.verdict(worst)[0]}. Below 10⁻⁵ (green "
                   "line) the two methods agree to many digits; above 10⁻³ (red line) something is wrong. "
                   "A ReLU switching on or off between the two nudges can land in between.")
with right:
    st.subheader("Save the network")
    if ds.image_shape is None:
        st.caption("This network reads 2 numbers, not a 28×28 drawing: it can be saved, but the Draw page "
                   "will list it as unusable.")
    elif ds.name == "fashion-mnist":
        st.caption("This network knows clothes, not digits: the Draw page will still offer it.")
    else:
        st.caption("Saved digit networks appear in the Draw page's model list.")
    name = st.text_input("Model name", key="train_save_name", placeholder="e.g. my-first-mnist",
                         help="Letters, digits, '-' and '_'. 'default' is the shipped model and is taken.")
    overwrite = st.checkbox("Replace a model with the same name", key="train_overwrite",
                            help="Otherwise saving refuses to overwrite an existing file.")
    if st.button("Save", key="train_save", disabled=run is None or running,
                 help="Writes weights/<name>.npz with a JSON card of how it was trained (pause first)."):
        try:
            safe = safe_model_name(name)
            path = user_models_dir() / f"{safe}.npz"
            if path.exists() and not overwrite:
                st.error(f"A model called '{safe}' exists already: pick another name or tick 'Replace'.")
            else:
                card = {"dataset": ds.name, "augment": run.settings.augment, "source": "Train page",
                        "settings": to_query(run.settings),
                        "saved": _dt.datetime.now().isoformat(timespec="seconds")}
                run.save(path, card)
                st.success(f"Saved as {path.name}" + (" — try it on the Draw page." if ds.image_shape else "."))
        except ValueError as e:
            st.error(str(e))
        except (RunError, RunLost) as e:
            st.error(f"Could not save: {e}")
