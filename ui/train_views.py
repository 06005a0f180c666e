"""What the Train page shows of a running network: its numbers, the looks inside it, and what
became of it.

    render_metrics   epoch, losses, accuracies and learning rate of a snapshot, and a progress bar
    inside_figure    the chosen look inside: weights & activations, gradients, mistakes, neurons
    verdict_banner   the verdict on a run that ended (nn/verdict.py), coloured by its kind
    waiting_text     what a run waiting for a training place is told
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from nn.data import Dataset
from ui import train_charts as charts
from ui.run_compare import epochs, loss_text


def render_metrics(snap: dict, n_train: int) -> None:
    """The numbers of a snapshot: epoch, losses, accuracies, learning rate, and a progress bar."""
    def last(values, fmt) -> str:
        return fmt(values[-1]) if len(values) and np.isfinite(values[-1]) else "—"

    def percent(v: float) -> str:
        return f"{v:.1f}%"

    # one row that wraps rather than cuts a label off ("Validation acc…" in six fixed columns at 1280 px)
    row = st.container(horizontal=True, gap="medium")
    for label, value, tip in [
            ("Epoch", epochs(snap["progress"]),
             f"Passes over the training data so far, of {snap['epochs']} (fractional while one is under way)."),
            ("Train loss (recent)", last(snap["batch_loss"], loss_text),
             "The loss on the recent training batches (smoothed), while the weights were changing. It should "
             "fall. The compare table quotes the whole last epoch, the verdict its last few epochs."),
            ("Validation loss", last(snap["val_loss"], loss_text),
             "Cross-entropy on held-out data after the last full epoch. If it rises while the train loss "
             "falls, the network is memorising (overfitting)."),
            ("Train accuracy (recent)", last(snap["batch_acc"] * 100, percent),
             "Share of the recent training batches' samples classified correctly (smoothed), while the weights "
             "were changing. The compare table quotes the whole last epoch, the verdict its last few epochs."),
            ("Validation accuracy", last(np.asarray(snap["val_acc"]) * 100, percent),
             "Share of held-out samples classified correctly after the last full epoch."),
            ("Learning rate now", f"{snap['lr']:.3g}", "The base rate times the schedule: what the next update uses.")]:
        row.metric(label, value, help=tip, width="content")
    rate = snap["samples_seen"] / snap["seconds"] if snap["seconds"] > 0 else 0.0
    left = (snap["epochs"] - snap["progress"]) * n_train / rate if rate > 0 else float("nan")
    text = f"Epoch {epochs(snap['progress'])} of {snap['epochs']} · {rate:,.0f} samples/s"
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


def inside_figure(snap: dict, view: str, learned_only: bool, ds: Dataset, hidden: tuple[int, ...]):
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
    width = hidden[0] if hidden else ds.n_classes
    who = "hidden units" if hidden else "outputs, one per class,"
    return charts.neurons_figure(weights, f"What {len(weights)} of the first layer's {width} {who} look for")


# st.<kind> and icon of each verdict kind: only a run that learned is a success
VERDICT_LOOK = {"learned": ("success", ":material/check_circle:"), "still_improving": ("info", ":material/trending_down:"),
                "overfitting": ("warning", ":material/warning:"), "stuck": ("warning", ":material/warning:"),
                "diverged": ("error", ":material/error:")}


def verdict_text(verdict: dict) -> str:
    """A verdict as one paragraph: "**Headline.** Why. What to try." (markdown)."""
    return f"**{verdict['headline']}.** {verdict['why']} {verdict['try_next']}"


def verdict_banner(verdict: dict | None, epochs: int) -> None:
    """The verdict on a run that ended (finished its ``epochs`` or diverged), in the colour of its
    kind, and what to do next; without a verdict, that it finished."""
    after = (" This run is kept under **Compare runs** below: change a setting, press **Reset** and "
             "**Start**, and compare.")
    if verdict is None:
        st.info(f"Finished all {epochs} epochs.{after}", icon=":material/flag:")
        return
    kind, icon = VERDICT_LOOK.get(verdict["kind"], ("info", ":material/info:"))
    getattr(st, kind)(verdict_text(verdict) + after, icon=icon)


def waiting_text(place: int, limit: int) -> str:
    """What a run at ``place`` (1 = next) in the queue for one of ``limit`` training places is told."""
    ahead = place - 1
    queue = ("no runs ahead of you (you are next)" if ahead == 0
             else f"{ahead} run{'s' if ahead > 1 else ''} ahead of you")
    return (f"Waiting for a training place: {queue}. All {limit} training places of this server are in use; "
            "your run starts by itself as soon as one is free (Pause leaves the queue).")
