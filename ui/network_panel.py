"""The Train page's "The network" look: the live network picture, and the neuron the learner picked,
to look at and to touch.

    picked_neuron   the neuron the learner picked (layer, unit), for the snapshot to inspect too
    network_panel   the picture (redrawn with the live views) and the picked neuron: its picture
                    large, its incoming weights and bias with their latest gradients and update,
                    and, while paused, a weight or bias to set by hand, a switch to turn it off,
                    and a button that puts the trained values back

Every change goes to the training process (LiveRun.set_param, set_neuron_off, restore_edits) and the
live views show its effect on their next redraw: the decision regions and the loss at once.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from nn.features import LABELS
from ui.live_chart import live_chart
from ui.network_picture import network_figure, neuron_label, neuron_rgb, source_labels, with_points
from ui.run_client import LiveRun, RunError, RunLost
from ui.run_compare import loss_text
from ui.train_settings import Settings

NETWORK_VIEW = "The network"      # the name of this look among the Train page's looks inside the network
NEURON_KEY, ERROR_KEY = "train_neuron", "train_touch_error"


def _number(v: float) -> str:
    return f"{v + 0:.4g}"            # + 0: no "-0"


def _report(e: Exception) -> None:
    st.session_state[ERROR_KEY] = str(e)


def _set_weight(run: LiveRun, key: str, index: tuple[int, ...], widget: str) -> None:
    try:
        run.set_param(key, index, st.session_state[widget])
    except (RunError, RunLost) as e:
        _report(e)


def _switch(run: LiveRun, layer: int, unit: int, widget: str) -> None:
    try:
        run.set_neuron_off(layer, unit, st.session_state[widget])
    except (RunError, RunLost) as e:
        _report(e)


def _restore(run: LiveRun) -> None:
    try:
        run.restore_edits()
    except (RunError, RunLost) as e:
        _report(e)


def _neurons(settings: Settings, n_classes: int) -> list[tuple[int, int]]:
    """Every neuron of the network of ``settings``: (Dense layer from 0, unit), the output layer last."""
    sizes = [*settings.hidden, 1 if settings.loss == "sigmoid_bce" else n_classes]
    return [(layer, unit) for layer, n in enumerate(sizes) for unit in range(n)]


def picked_neuron(settings: Settings, n_classes: int) -> tuple[int, int]:
    """The neuron the learner picked in this network (the first hidden one until they pick)."""
    options = _neurons(settings, n_classes)
    if st.session_state.get(NEURON_KEY) not in options:
        st.session_state[NEURON_KEY] = options[0]
    return st.session_state[NEURON_KEY]


def network_panel(run: LiveRun, snap: dict, settings: Settings, class_names, points, regions: np.ndarray) -> None:
    """The network picture of snapshot ``snap`` (its "network" view) and the picked neuron (its
    "neuron": ask for it with ``picked_neuron``).

    points : train_charts.points_layer of the data (drawn over the neuron's large picture);
    regions : the decision-regions picture of the same snapshot (train_charts.boundary_image)."""
    ss = st.session_state
    view = snap["network"]
    features = [LABELS[f] for f in settings.features]
    sizes = [len(n) for n in view["neurons"]]
    n_layers, n_out = len(sizes), sizes[-1]
    options = [(layer, unit) for layer, n in enumerate(sizes) for unit in range(n)]
    picked = picked_neuron(settings, len(class_names))
    layer, unit = st.selectbox(
        "Pick a neuron", options, key=NEURON_KEY,
        format_func=lambda o: neuron_label(o[0], o[1], n_layers, class_names, n_out),
        help="Its picture is outlined in the network and shown large below, with the weights that feed it.")
    live_chart(network_figure(view, settings.activation, settings.loss, features, class_names, (layer, unit)),
               key="train_network")
    st.caption("Each square is one neuron's output over the whole plane of points: red where it is positive, "
               "blue where negative (hidden neurons), the class colour where it says its class (outputs). "
               "Links are red for positive weights, blue for negative ones, thicker for larger ones. Each layer "
               "combines the pictures of the layer before it into new shapes.")

    if (layer, unit) != picked:              # picked just now: the snapshot showed the one before
        try:
            info = run.inspect(layer, unit)
        except (RunError, RunLost) as e:
            st.error(str(e))
            return
    else:
        info = snap["neuron"]
    if ERROR_KEY in ss:
        st.error(ss.pop(ERROR_KEY))
    role = "output" if layer == n_layers - 1 else "hidden"
    name = neuron_label(layer, unit, n_layers, class_names, n_out)
    sources = [*source_labels(layer, len(info["weights"]), features), "bias"]
    paused = not snap["running"]

    left, middle, right = st.columns([1.1, 1.7, 1.1])
    with left:
        if paused:
            picture = neuron_rgb(info["picture"], role, settings.activation, settings.loss, unit, n_out)
            # JPEG: a PNG would cost ~40 ms of the server's time, JPEG ~1 ms
            st.image(with_points(picture, points), caption=f"{name}{' (switched off)' if info['off'] else ''}: "
                     "its output over the plane, with the data points", width="stretch", output_format="JPEG")
        else:     # while training its picture is the outlined one above: the page redraws light
            st.info(f"Pause to see {name} large, with the data, and to change it by hand.",
                    icon=":material/pause_circle:")
    with middle:
        feeders = "the input features" if layer == 0 else f"the neurons of hidden layer {layer}"
        st.markdown(f"**What feeds {name}**: {feeders}",
                    help="Its weighted sum is z = Σ weight × input + bias; its output is the activation of z. "
                         "The gradient is dL/d(weight) on the last batch trained; the update is how much the "
                         "optimiser's last step changed the weight.")
        st.table({"from": sources,
                  "weight": [*map(_number, info["weights"]), _number(info["bias"])],
                  "latest gradient": [*map(_number, info["grad_w"]), _number(info["grad_b"])],
                  "latest update": [*map(_number, info["update_w"]), _number(info["update_b"])]})
        _touch(run, info, layer, unit, role, sources, paused)
    losses, trained = info["losses"], info["trained"]
    if losses is not None:                   # paused: the loss and the regions as they are now
        with right:
            delta = None if trained is None else f"{losses['train_loss'] - trained['train_loss']:+.4g} by hand"
            st.metric("Training loss now", loss_text(losses["train_loss"]), delta=delta, delta_color="inverse",
                      help="Cross-entropy over the whole training set with the weights as they are now, hand "
                           "edits included (the loss curves show the loss of past batches).")
            acc_delta = None if trained is None else \
                f"{100 * (losses['train_acc'] - trained['train_acc']):+.1f} points"
            st.metric("Training accuracy now", f"{100 * losses['train_acc']:.1f}%", delta=acc_delta,
                      help="Share of the training points this network classifies correctly right now.")
            st.image(regions, caption="Decision regions now", width="stretch", output_format="JPEG")


def _touch(run: LiveRun, info: dict, layer: int, unit: int, role: str, sources: list[str], paused: bool) -> None:
    """The controls that change the picked neuron: while paused only (while it trains the weights
    change under the learner's hands, and widgets made anew at every redraw would cost the browser)."""
    if not paused:
        st.caption(":material/pause_circle: Pause to change a weight by hand, switch this neuron off, or put "
                   "back the trained values.")
        return
    version = "_".join(map(str, info["version"]))
    which = st.selectbox("Weight to change", range(len(sources)), format_func=lambda i: sources[i],
                         key=f"train_edit_which_{layer}_{unit}", help="One incoming weight of this neuron, or its bias.")
    bias = which == len(sources) - 1
    current = info["bias"] if bias else float(info["weights"][which])
    key, index = (info["keys"]["b"], (unit,)) if bias else (info["keys"]["W"], (which, unit))
    # a new widget whenever the weights change (training, an edit, "put back"): it shows the value now
    widget = f"train_edit_value_{version}_{layer}_{unit}_{which}"
    st.number_input("New value", value=float(current), step=0.1, format="%.4f", key=widget,
                    on_change=_set_weight, args=(run, key, index, widget),
                    help="Type a value and press Enter: the decision regions and the loss change at once. The "
                         "network keeps it until training or 'Put back' moves it.")
    if role == "hidden":
        switch = f"train_off_{version}_{layer}_{unit}"
        st.toggle("Switch this neuron off", value=info["off"], key=switch, on_change=_switch,
                  args=(run, layer, unit, switch),
                  help="Its outgoing weights become 0 and are set back to 0 after every training step, so "
                       "nothing above it hears it, and it stays off while the network trains.")
    st.button("Put back the trained values", icon=":material/undo:", key="train_restore", on_click=_restore,
              args=(run,), disabled=not info["edited"],
              help="Undo every hand edit since the network last trained, and switch every neuron back on. "
                   "After training on an edited network, only the switches are undone: its weights are "
                   "what it has learned since.")
