"""Train: watch a NumPy network learn, with every knob within reach.

The sidebar (ui/train_sidebar.py, built from nn/settings.py) decides the data and the network;
Start trains it in a separate process (ui/run_client.py) while a fragment redraws every live view
five times a second (ui/train_views.py, ui/train_charts.py); for small 2-D networks, the network itself
with every neuron, to look at and touch (ui/network_panel.py). A run that ends gets an honest verdict
(nn/verdict.py, shown by ui/train_views.py), and every run of the session is kept to compare and
restore (ui/run_compare.py). What each button does to the session's runs is ui/train_runs.py; the
data they train on, prepared once for every session, ui/train_data.py. Below, one training step with all its numbers (ui/backprop_panel.py).
The settings live in the address bar, so a link reproduces the experiment.
"""
from __future__ import annotations

import datetime as _dt

import streamlit as st

from nn.data import SOURCES, is_downloaded
from nn.download import DownloadError, download
from nn.features import LABELS
from nn.gradcheck import agreement
from ui import train_charts as charts
from ui import server_load
from ui import train_runs as runs
from ui.backprop_panel import backprop_panel
from ui.lessons import is_hidden, is_locked, lesson_card, link_params
from ui.live_chart import live_chart
from ui.navigation import through_app
from ui.network_panel import NETWORK_VIEW, network_panel, picked_neuron
from ui.run_client import RunError, RunLost
from ui.run_compare import compare_section
from ui.run_slots import slots
from ui.shared import save_path
from ui.text import plain
from ui.train_data import boundary_image, data_for, points_layer, warm_up_worker_server
from ui.train_settings import Settings, architecture, to_query, why_no_picture
from ui.train_sidebar import SETTINGS_KEY, WARNINGS_KEY, restore_widgets, settings_sidebar
from ui.train_views import (INSIDE_CAPTIONS, VIEW_NEEDS, inside_figure, render_metrics, verdict_banner, verdict_text,
                            waiting_text)
from ui.widgets import setting_widget

through_app("pages/train.py")
ss = st.session_state
REDRAW_SECONDS = server_load.LEVELS[0]    # every live view: five times a second while training, unless
REDRAW = "train_redraw_seconds"           # the server is busy (ui/server_load.py): the interval in use
# while waiting for a training place only the queue moves: once a second is enough, and a class
# queueing behind the limit would otherwise cost the server a live view's redraw 5x a second each
WAITING_REDRAW_SECONDS = 1.0


# ----- the page -------------------------------------------------------------------------------

st.title("Train a network")
st.markdown("Pick data and a network in the sidebar, press **Start**, and watch it learn: the loss "
            "should fall, the accuracy rise and the picture sharpen. Change one knob at a time, "
            "press **Reset**, and compare. The learning rate can be changed while it trains.")
lesson_card()
warm_up_worker_server()
restore_widgets()
with st.sidebar:
    settings, notes = settings_sidebar()

# Messages that come and go sit in containers made on every run: the live view's fragment below
# then keeps its place, hence its id, and a timer tick in flight when a message appears finds it
# (otherwise Streamlit logs "The fragment with id ... does not exist anymore").
notices = st.container()
for warning in ss.pop(WARNINGS_KEY, []) + notes:
    notices.warning(plain(warning), icon=":material/link_off:")

# the full datasets must be downloaded once; until then the bundled sample stands in
with notices:
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

# -- what became of the run since the last look --
run = runs.catch_up(settings)
# what is on screen is the run's data (its settings may differ from the sidebar until Reset)
data, ds = data_for(run.settings if run is not None else settings)

# -- run controls --
running = run is not None and run.running
waiting = run is not None and not running and run.place > 0
finished = run is not None and run.status["done"]
# one row that wraps rather than cuts a label off (phones: the buttons in two rows, the rate below)
controls = st.container(horizontal=True, vertical_alignment="bottom", key="train_controls")
for label, icon, action, disabled, tip in [
        ("Start", "play_arrow", "start", run is not None,
         "Build the network from the settings and train until the last epoch (or Pause)."),
        ("Pause", "pause", "pause", not (running or waiting),
         "Stop right now, even in the middle of an epoch (or leave the queue for a training place)."),
        ("Resume", "resume", "resume", run is None or running or waiting or finished,
         "Carry on training from where it stopped."),
        ("Step", "skip_next", "step", running or waiting or finished,
         "Train exactly one epoch (to its end), then stop."),
        ("Reset", "restart_alt", "reset", run is None,
         "Throw the network away (it stays under Compare runs once it trained an epoch); the next "
         "Start builds a fresh one from the current settings.")]:
    controls.button(label, icon=f":material/{icon}:", key=f"train_{action}", on_click=runs.do, args=(action,), help=tip,
                    disabled=disabled, width="content", type="primary" if action == "start" else "secondary")
if not is_hidden("lr"):
    with controls:
        setting_widget("lr", "train_lr", on_change=runs.lr_changed, disabled=is_locked("lr"))
settings = Settings(**{**settings.__dict__, "lr": ss["train_lr"]})
ss[SETTINGS_KEY] = settings
st.query_params.from_dict({**to_query(settings), **link_params()})
st.caption(":material/link: The address bar holds these settings: copy it to share this experiment.")

with st.container():
    runs.show_message(settings.dataset)
    if run is not None and run.settings.run_identity() != settings.run_identity():
        st.warning("Settings changed: this run keeps its old ones. Press **Reset** to apply them.",
                   icon=":material/tune:")
    # why a run stopped, said where the learner looks
    if run is not None and not running and not waiting:
        if finished:
            verdict_banner(run.status["verdict"], run.settings.epochs)
        elif run.status["paused_reason"]:
            st.info(run.status["paused_reason"] + " Press **Resume** to go on.")


# -- live views --

@st.fragment(run_every=ss.setdefault(REDRAW, REDRAW_SECONDS) if running else WAITING_REDRAW_SECONDS if waiting
             else None)
def live_view() -> None:
    run = ss.get(runs.RUN)
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
    place = run.place
    needs = "network" if view == NETWORK_VIEW else VIEW_NEEDS.get(view, "")
    neuron = picked_neuron(run.settings, ds.n_classes) if view == NETWORK_VIEW else None
    try:
        snap = run.snapshot(frozenset({"confusion" if images else "boundary", needs, "verdict"}), neuron)
    except RunLost as e:
        runs.lost(e)
        st.rerun()               # the whole page: the message once, the buttons that still work
    except RunError as e:
        st.error(plain(str(e)))
        return
    if snap["running"] != running or bool(place) != waiting:
        # it stopped or started since the page was drawn (the slots' keeper may have noticed first,
        # so compare with the page, not with run.running): buttons, messages, timer on or off
        st.rerun()
    if running:
        redraw = server_load.redraw_seconds(ss[REDRAW], server_load.load())
        if redraw != ss[REDRAW]:
            ss[REDRAW] = redraw
            st.rerun()           # the timer is set when the page runs

    if place:
        st.info(waiting_text(place, slots().limit), icon=":material/hourglass_top:")
    render_metrics(snap, run.info["n_train"])
    if running and ss[REDRAW] > REDRAW_SECONDS:
        st.caption(f":material/speed: The server is busy: these views redraw every {ss[REDRAW]:g} s instead "
                   f"of {REDRAW_SECONDS:g} s (training itself goes on at full speed).")
    if not snap["running"] and not snap["done"] and snap.get("verdict"):
        st.caption(":material/insights: So far: " + verdict_text(snap["verdict"]))
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

if len(runs.history()):
    compare_section(runs.history(), runs.SHOWN, settings, runs.restore, runs.clear_runs)

shown = run.settings if run is not None else settings
with st.expander("One training step, with numbers", icon=":material/calculate:", key="train_backprop",
                 on_change="rerun") as step_box:
    if step_box.open:
        if run is None:
            st.button("Build the network", key="train_build", on_click=runs.do, args=("build",),
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
    st.button("Compare with numerical gradients", key="train_gradcheck_button", on_click=runs.do,
              args=("gradcheck",), disabled=running or waiting,
              help="Runs on 16 training samples in float64, 40 random weights per array, with the network "
                   "as it is now (pause first).")
    if "train_gradcheck" in ss:
        results = ss["train_gradcheck"]
        st.plotly_chart(charts.gradcheck_figure(results), key="train_gradcheck_chart", config=charts.CONFIG)
        worst = max(err for _, err in results)
        st.caption(f"Largest relative error {worst:.1e}: {agreement(worst)[1]}. Below 10⁻⁵ (green "
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
    if st.button("Save", key="train_save", disabled=run is None or running or waiting,
                 help="Writes <name>.npz, with a JSON card of how it was trained, to your own models "
                      "(pause first)."):
        try:
            path = save_path(name)
            if path.exists() and not overwrite:
                st.error(f"A model called '{path.stem}' exists already: pick another name or tick 'Replace'.")
            else:
                card = {"dataset": ds.name, "augment": run.settings.augment, "source": "Train page",
                        "settings": to_query(run.settings),
                        "saved": _dt.datetime.now().isoformat(timespec="seconds")}
                run.save(path, card)
                st.success(f"Saved as {path.name}" + (" — try it on the Draw page." if ds.image_shape else "."))
        except ValueError as e:
            st.error(plain(str(e)))
        except RunLost as e:
            runs.lost(e)
            st.rerun()
        except RunError as e:
            st.error(plain(f"Could not save: {e}"))
