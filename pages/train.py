"""Train: watch a NumPy network learn, with every knob within reach.

The settings in the sidebar decide the data and the network; Start trains it in a separate
process (pages/train_session.py) while a fragment redraws every live view five times a second
(figures: pages/train_charts.py, built to be cheap for the browser). The settings
live in the address bar, so a link reproduces the experiment.
"""
from __future__ import annotations

import datetime as _dt

import numpy as np
import streamlit as st

from nn.data import IMAGE_DATASETS, SOURCES, TOY_DATASETS, Dataset, is_downloaded, load_dataset
from nn.download import DownloadError, download
from nn.train import digit_pipeline
from pages import train_charts as charts
from pages import train_session as ts
from pages.common import safe_model_name, through_app, user_models_dir
from pages.live_chart import live_chart

through_app("pages/train.py")
ss = st.session_state
REDRAW_SECONDS = 0.2        # every live view: five times a second while training
RUN, SETTINGS, MESSAGE = "train_run", "train_settings", "train_message"

DATASET_LABELS = {"xor": "XOR (four quadrants)", "spirals": "Spirals", "moons": "Two moons",
                  "circles": "Circles (ring around a disc)", "blobs": "Gaussian blobs",
                  "mnist-sample": "MNIST digits: bundled sample (10,000)",
                  "mnist": "MNIST digits: full (70,000, download)",
                  "fashion-mnist": "Fashion-MNIST clothes (70,000, download)"}
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov momentum",
                    "adagrad": "AdaGrad", "rmsprop": "RMSprop", "adam": "Adam"}


# ----- data (shared, read-only) ------------------------------------------------------------------

@st.cache_resource(show_spinner="Preparing the data…", max_entries=16)
def run_data(name: str, n: int, noise: float, val_share: float, n_classes: int, seed: int,
             augment: bool) -> tuple[ts.RunData, Dataset]:
    """(what the network trains on, the dataset as people see it), shared read-only by all sessions
    (a Dataset's arrays are read-only; cached once here rather than copied out of st.cache_data)."""
    if name in TOY_DATASETS:
        ds = load_dataset(name, n=n, noise=noise, val_fraction=val_share, seed=seed, n_classes=n_classes)
        return ts.RunData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds), ds
    ds = load_dataset(name)
    # digits are deskewed as the Draw page deskews a drawing (with augmentation, the worker
    # distorts and deskews every batch again: nn.train.augment_digits)
    x_train, x_val, _ = digit_pipeline(ds.x_train, ds.x_val, augment)
    return ts.RunData(x_train, ds.y_train, x_val, ds.y_val, ds.n_classes, None, augment), ds


@st.cache_resource(show_spinner=False, max_entries=16)
def points_layer(name: str, n: int, noise: float, val_share: float, n_classes: int, seed: int) -> tuple:
    """The points of a 2-D dataset as pixels (train_charts.points_layer), drawn once, shared read-only."""
    _, ds = run_data(name, n, noise, val_share, n_classes, seed, False)
    return charts.points_layer(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.bounds)


def boundary_image(s: ts.Settings, proba: np.ndarray | None, n_classes: int) -> np.ndarray:
    return charts.boundary_image(proba, n_classes,
                                 points_layer(s.dataset, s.n_points, s.noise, s.val_share, s.n_classes, s.seed))


@st.cache_resource(show_spinner=False)
def _warm_up_worker_server() -> bool:
    ts.warm_up()            # the first Start then needs no extra 0.3 s
    return True


def data_for(s: ts.Settings) -> tuple[ts.RunData, Dataset]:
    """run_data for settings s; full datasets not downloaded yet fall back to the bundled sample."""
    if s.dataset in TOY_DATASETS:
        return run_data(s.dataset, s.n_points, s.noise, s.val_share, s.n_classes, s.seed, False)
    name = s.dataset if is_downloaded(s.dataset) else "mnist-sample"
    return run_data(name, 0, 0.0, 0.0, 0, 0, s.augment)        # images ignore the toy knobs and seed


# ----- settings <-> widgets <-> URL ----------------------------------------------------------------

def widget_values(s: ts.Settings) -> dict:
    """Session-state value of every settings widget for settings s."""
    values = {f"train_{name}": getattr(s, name) for name in ts.Settings.__dataclass_fields__
              if name != "hidden"}
    values["train_layers"] = len(s.hidden)
    base = ts.defaults_for(s.dataset).hidden
    for i in range(ts.MAX_LAYERS):
        values[f"train_width_{i}"] = s.hidden[i] if i < len(s.hidden) else base[min(i, len(base) - 1)]
    return values


def restore_widgets() -> None:
    """First visit: settings from the link. Later: widgets Streamlit forgot (hidden ones, or after
    a visit to another page) come back from the last settings."""
    if SETTINGS not in ss:
        settings, warnings = ts.from_query(st.query_params.to_dict())
        ss[SETTINGS], ss["train_url_warnings"] = settings, warnings
    for key, value in widget_values(ss[SETTINGS]).items():
        if key not in ss:
            ss[key] = value


def dataset_changed() -> None:
    """Switching between 2-D points and images loads that kind's recipe (network, optimiser...)."""
    new, old = ss["train_dataset"], ss[SETTINGS].dataset
    recipe = ts.defaults_for(new)
    if (new in IMAGE_DATASETS) != (old in IMAGE_DATASETS):
        for key, value in widget_values(recipe).items():
            if key not in ("train_dataset", "train_seed"):
                ss[key] = value
    ss["train_n_classes"] = recipe.n_classes


def settings_sidebar() -> ts.Settings:
    """Every knob, with a line on what it does to learning. Returns the chosen settings."""
    last = ss[SETTINGS]
    st.header("Experiment")
    with st.expander("Data", expanded=True):
        name = st.selectbox("Dataset", ts.TOY_DATASETS + ts.IMAGE_DATASETS, key="train_dataset",
                            format_func=DATASET_LABELS.get, on_change=dataset_changed,
                            help="2-D points show the decision regions as they form; digits show "
                                 "which digits get confused and what neurons look for.")
        images = name in IMAGE_DATASETS
        if not images:
            st.slider("Number of points", 50, 2000, step=50, key="train_n_points",
                      help="More points outline the shape better and make overfitting harder.")
            st.slider("Noise", 0.0, 0.5, step=0.01, key="train_noise",
                      help="How far points stray from the clean shape: noisy classes overlap, "
                           "and no boundary can get them all right.")
            st.slider("Validation share", 0.1, 0.5, step=0.05, key="train_val_share",
                      help="Points held out from training. The network never learns from them, so "
                           "they show how well it does on new data.")
            if name in ts.CLASS_RANGE:
                st.slider("Classes", *ts.CLASS_RANGE[name], key="train_n_classes",
                          help="How many groups to tell apart; more classes need a bigger network.")
        st.toggle("Augment digits", key="train_augment", disabled=name not in ("mnist-sample", "mnist"),
                  help="Train on randomly shifted, rotated, thickened and warped copies of each digit: "
                       "slower to fit, but better on digits drawn by hand (the Draw page).")
    with st.expander("Network", expanded=True):
        layers = st.slider("Hidden layers", 0, ts.MAX_LAYERS, key="train_layers",
                           help="0 gives a linear classifier (straight boundaries only); every hidden "
                                "layer can bend the boundary further.")
        hidden = tuple(st.select_slider(f"Neurons in hidden layer {i + 1}", ts.WIDTHS, key=f"train_width_{i}",
                                        help="Wider layers can draw more detailed boundaries, "
                                             "but are slower and overfit more easily.")
                       for i in range(layers))
        st.selectbox("Activation", ts.ACTIVATIONS, key="train_activation",
                     help="The bend after each layer. ReLU learns fast but units can die (output 0 "
                          "forever); tanh and sigmoid saturate, and gradients vanish through many layers.")
        init = st.selectbox("Initialisation", ts.INITS, key="train_init",
                            help="How the random starting weights are scaled. He suits ReLU, Xavier suits "
                                 "tanh/sigmoid; too small and the signal fades, too big and it explodes.")
        if init == "normal":
            st.select_slider("Initial weight spread (std)", ts.INIT_STDS, key="train_init_std",
                             help="The standard deviation of every starting weight. Try 0.001 with many "
                                  "layers to see gradients vanish.")
        st.slider("Dropout", 0.0, 0.9, step=0.05, key="train_dropout",
                  help="Share of hidden units switched off at random in each training batch: fights "
                       "overfitting, but makes the training curve noisier and slower.")
        st.toggle("Batch normalisation", key="train_batchnorm",
                  help="Re-centre and re-scale each layer's outputs over the batch: deep networks "
                       "train faster and tolerate larger learning rates.")
    with st.expander("Training", expanded=True):
        opt = st.selectbox("Optimiser", ts.OPTIMIZERS, key="train_optimizer", format_func=OPTIMIZER_LABELS.get,
                           help="How gradients turn into weight updates. Adam adapts each weight's step "
                                "size and is the forgiving choice; plain SGD needs a well-chosen rate.")
        if opt in ("momentum", "nesterov"):
            st.slider("Momentum", 0.0, 0.99, step=0.01, key="train_momentum",
                      help="How much of the previous step carries over: speeds up along consistent "
                           "directions, overshoots when too high.")
        if opt == "adam":
            st.slider("β1 (momentum of the gradient)", 0.0, 0.99, step=0.01, key="train_beta1",
                      help="Averaging of gradients over steps; lower reacts faster but is noisier.")
            st.select_slider("β2 (memory of squared gradients)", (0.9, 0.99, 0.995, 0.999, 0.9999),
                             key="train_beta2",
                             help="How long Adam remembers gradient sizes to scale each step; 0.999 is usual.")
        if opt == "rmsprop":
            st.slider("ρ (memory of squared gradients)", 0.0, 0.99, step=0.01, key="train_rho",
                      help="How long RMSprop remembers gradient sizes to scale each step.")
        schedule = st.selectbox("Learning-rate schedule", ts.SCHEDULES, key="train_schedule",
                                help="constant keeps the rate; step multiplies it by γ every few epochs; "
                                     "cosine lowers it smoothly to 1% by the last epoch. Smaller steps "
                                     "late in training settle into a minimum.")
        if schedule == "step":
            st.number_input("Step every (epochs)", 1, 1000, key="train_step_epochs",
                            help="How many epochs between two drops of the learning rate.")
            st.slider("γ (multiply by)", 0.05, 1.0, step=0.05, key="train_gamma",
                      help="The factor applied at each drop: 0.5 halves the rate.")
        st.select_slider("Batch size", ts.BATCH_SIZES, key="train_batch_size",
                         help="Samples per weight update. Small batches: many noisy steps; large "
                              "batches: fewer, smoother steps that each cost more.")
        st.number_input("Epochs", 1, 5000, key="train_epochs",
                        help="Passes over the whole training set before training stops.")
        st.select_slider("L2 weight decay", ts.L2_GRID, key="train_l2", format_func=lambda v: f"{v:g}",
                         help="A penalty on large weights: smoother boundaries and less overfitting; "
                              "too much and the network cannot fit the data.")
        st.number_input("Seed", 0, 2**32 - 1, key="train_seed",
                        help="Same seed, same points, same starting weights, same batch order: the run "
                             "can be repeated exactly. Change it to see how much luck matters.")
    values = {field: ss[f"train_{field}"] if f"train_{field}" in ss else getattr(last, field)
              for field in ts.Settings.__dataclass_fields__ if field != "hidden"}
    if name not in ts.CLASS_RANGE:
        values["n_classes"] = ts.defaults_for(name).n_classes
    values["augment"] = values["augment"] and name in ("mnist-sample", "mnist")
    return ts.Settings(**{**values, "hidden": hidden})


# ----- actions (button callbacks run before the page is drawn) ------------------------------------

def _report(kind: str, text: str) -> None:
    ss[MESSAGE] = (kind, text)


def _ensure_run() -> ts.LiveRun | None:
    if ss.get(RUN) is not None:
        return ss[RUN]
    settings = ss[SETTINGS]
    try:
        data, _ = data_for(settings)
        ss[RUN] = ts.LiveRun(settings, data)
    except (ValueError, ts.RunError, ts.RunLost) as e:
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
        if run is None:
            return
        if action in ("start", "resume"):
            run.start()
        elif action == "pause":
            run.pause()
        elif action == "step":
            run.step_epoch()
        elif action == "gradcheck":
            ss["train_gradcheck"] = run.gradient_check()
    except (ts.RunError, ts.RunLost) as e:
        _report("error", str(e))


def _lr_changed() -> None:
    run = ss.get(RUN)
    if run is not None:
        try:
            run.set_lr(ss["train_lr"])
        except (ts.RunError, ts.RunLost) as e:
            _report("error", str(e))


# ----- the page -------------------------------------------------------------------------------

st.title("Train a network")
st.markdown("Pick data and a network in the sidebar, press **Start**, and watch it learn: the loss "
            "should fall, the accuracy rise and the picture sharpen. Change one knob at a time, "
            "press **Reset**, and compare. The learning rate can be changed while it trains.")
_warm_up_worker_server()
restore_widgets()
with st.sidebar:
    settings = settings_sidebar()

for warning in ss.pop("train_url_warnings", []):
    st.warning(warning, icon=":material/link_off:")

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

run: ts.LiveRun | None = ss.get(RUN)
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
c[5].select_slider("Learning rate (can change while training)", ts.LR_GRID, key="train_lr",
                   format_func=lambda v: f"{v:g}", on_change=_lr_changed,
                   help="How big a step each update takes, on a log scale. Too small: the loss "
                        "creeps down. Too big: it jumps around or explodes to NaN.")
settings = ts.Settings(**{**settings.__dict__, "lr": ss["train_lr"]})
ss[SETTINGS] = settings
st.query_params.from_dict(ts.to_query(settings))
st.caption(":material/link: The address bar holds these settings: copy it to share this experiment.")

if MESSAGE in ss:
    kind, text = ss[MESSAGE]
    getattr(st, kind)(text)
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

def render_metrics(snap: dict) -> None:
    def last(values, fmt) -> str:
        return fmt(values[-1]) if len(values) and np.isfinite(values[-1]) else "—"

    def loss(v: float) -> str:
        return f"{v:.1e}" if 0 < v < 1e-3 else f"{v:.4g}"        # 0.0006123 would not fit the column

    def percent(v: float) -> str:
        return f"{v:.1f}%"

    m = st.columns(6)
    m[0].metric("Epoch", f"{snap['progress']:.1f}",
                help=f"Passes over the training data so far, of {snap['epochs']} (fractional while one "
                     "is under way).")
    m[1].metric("Train loss", last(snap["batch_loss"], loss),
                help="Cross-entropy on the recent training batches (smoothed). It should fall.")
    m[2].metric("Validation loss", last(snap["val_loss"], loss),
                help="Cross-entropy on held-out data after the last full epoch. If it rises while the "
                     "train loss falls, the network is memorising (overfitting).")
    m[3].metric("Train accuracy", last(snap["batch_acc"] * 100, percent),
                help="Share of recent training samples classified correctly (smoothed).")
    m[4].metric("Validation accuracy", last(np.asarray(snap["val_acc"]) * 100, percent),
                help="Share of held-out samples classified correctly after the last full epoch.")
    m[5].metric("Learning rate now", f"{snap['lr']:.3g}",
                help="The base rate times the schedule: what the next update uses.")
    rate = snap["samples_seen"] / snap["seconds"] if snap["seconds"] > 0 else 0.0
    left = (snap["epochs"] - snap["progress"]) * run.info["n_train"] / rate if rate > 0 else float("nan")
    text = f"Epoch {snap['progress']:.1f} of {snap['epochs']} · {rate:,.0f} samples/s"
    if snap["running"] and np.isfinite(left):
        text += f" · about {left:.0f} s left" if left < 120 else f" · about {left / 60:.0f} min left"
    st.progress(min(snap["progress"] / snap["epochs"], 1.0), text=text)


INSIDE_CAPTIONS = {
    "Weights & activations": "Left: the weights of each layer; they start as the initialisation made them and "
        "spread as the network learns. Right: what each hidden layer outputs for 256 validation samples. Many "
        "ReLU outputs stuck at 0 (dead units) or tanh/sigmoid outputs piled up at the ends (saturated) pass "
        "almost no gradient back.",
    "Gradients": "How big each layer's weight update signal is. Lines far apart, with the input-side layers "
        "much smaller, mean vanishing gradients: early layers barely learn (try sigmoid with many layers). "
        "Lines shooting up mean exploding gradients (try a huge learning rate).",
    "Mistakes": "Each caption says true → predicted and how sure the network was. Early on the mistakes are "
        "random; later they are digits a person might misread too.",
    "What neurons look for": "Each picture is one first-layer neuron's 784 weights, laid out like the image: "
        "ink on red pixels pushes the neuron up, ink on blue pixels pushes it down. Watch strokes and blobs "
        "appear as the network learns which shapes tell the digits apart.",
}
VIEW_NEEDS = {"Weights & activations": "hist", "What neurons look for": "neurons"}   # extra snapshot views
BOUNDARY_TITLE = "Decision regions"


def inside_figure(run: ts.LiveRun, snap: dict, view: str, learned_only: bool):
    """The chosen look inside the network, for this snapshot."""
    if view == "Weights & activations":
        return charts.histograms_figure(snap["weight_hists"], snap["act_hists"], list(snap["grad_norms"]),
                                        snap["health"])
    if view == "Gradients":
        return charts.gradient_figure(snap)
    if view == "Mistakes":
        idx, pred, conf = snap["mistakes"]
        names = ds.class_names
        captions = [f"{names[ds.y_val[i]]}→{names[p]} {c:.0%}" for i, p, c in zip(idx, pred, conf)]
        return charts.gallery_figure(ds.x_val[idx], captions, "Validation images it gets wrong, most confident first")
    weights = snap["neurons"] - snap["neurons_start"] if learned_only else snap["neurons"]
    width = run.settings.hidden[0] if run.settings.hidden else ds.n_classes
    who = "hidden units" if run.settings.hidden else "outputs, one per class,"
    return charts.neurons_figure(weights, f"What {len(weights)} of the first layer's {width} {who} look for")


@st.fragment(run_every=REDRAW_SECONDS if running else None)
def live_view() -> None:
    run = ss.get(RUN)
    images = ds.image_shape is not None
    shown = run.settings if run is not None else settings
    if run is None:
        arch, n_params = ts.architecture(settings, ds.n_features, ds.n_classes)
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
    view = ss.get("train_view") if ss.get("train_view") in view_options else view_options[0]
    learned_only = ss.get("train_neurons_delta", True)
    was_running = run.running
    try:
        snap = run.snapshot(frozenset({"confusion" if images else "boundary", VIEW_NEEDS.get(view, "")}))
    except (ts.RunError, ts.RunLost) as e:
        st.error(str(e))
        return
    if was_running and not snap["running"]:
        st.rerun()               # redraw the whole page: buttons, messages, no more timer

    render_metrics(snap)
    if images:
        picture = charts.confusion_panel(snap["confusion"], ds.class_names)
    else:
        picture = charts.boundary_panel(boundary_image(shown, snap["boundary"][2], ds.n_classes), ds.bounds,
                                        BOUNDARY_TITLE)
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
    live_chart(inside_figure(run, snap, view, learned_only), key="train_inside")
    st.caption(INSIDE_CAPTIONS[view])


live_view()

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
                        "settings": ts.to_query(run.settings),
                        "saved": _dt.datetime.now().isoformat(timespec="seconds")}
                run.save(path, card)
                st.success(f"Saved as {path.name}" + (" — try it on the Draw page." if ds.image_shape else "."))
        except ValueError as e:
            st.error(str(e))
        except (ts.RunError, ts.RunLost) as e:
            st.error(f"Could not save: {e}")
