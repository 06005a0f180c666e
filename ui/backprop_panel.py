"""The Train page's "One training step, with numbers": backpropagation by hand, on the learner's own
network, with the numbers nn computes (nn.trace on copies of the run's model and optimiser).

    backprop_panel   pick one training example or the next mini-batch; then the step in four tabs:
                     the forward pass layer by layer, the loss, the backward pass layer by layer
                     (gradient from above, local derivative, chain rule, dW, db, dx), and the update
                     with the optimiser's state; every formula beside its numbers. The same step as a
                     worksheet (nn.trace.trace_to_markdown) to download, blank or with the answers.

Every table names its rows and columns as nn.trace.trace_labels does, and the worksheet gets the same
labels: inputs x₁, x₂ (pixels by index and position), neurons n1, n2 within each layer, the output
layer's units and the probabilities by class label, weights W[input→neuron]. Matrices show at most
MAX_SHOWN rows and columns; of an image, the pixels with the most ink.
"""
from __future__ import annotations

from contextlib import contextmanager
from math import isqrt

import numpy as np
import streamlit as st

from nn.trace import (PARAM_SYMBOLS, ROUNDING_NOTE, SCORES, Axis, Labels, Trace, shown_table,
                      trace_labels, trace_to_markdown)
from ui.run_client import LiveRun, RunError, RunLost

MODES = ("One training example", "The next mini-batch")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _number(v) -> str:
    return f"{float(v) + 0:.4g}"


def pixel_names(n_pixels: int) -> list[str]:
    """An image's inputs by index, from 1 like x₁, x₂ of a point: "x₄₀₇" is pixel 407 in reading order."""
    return [f"x{str(k + 1).translate(_SUBSCRIPT)}" for k in range(n_pixels)]


def _position(k: int, n_pixels: int) -> str:
    """Where pixel k (from 0) of a square image sits, counted from 1: "row 15, col 15"."""
    side = isqrt(n_pixels)
    return f"row {k // side + 1}, col {k % side + 1}" if side * side == n_pixels else f"pixel {k + 1}"


def _matrix(title: str, a, rows: Axis | None = None, cols: Axis | None = None) -> None:
    """A labelled number, vector or matrix: the rows and columns its Axis picks, as a named table."""
    a = np.asarray(a)
    if a.ndim == 0:
        st.markdown(f"{title} = **{_number(a)}**")
        return
    table, row_names, col_names, note = shown_table(a, rows, cols)
    st.caption(f"{title} · shape {tuple(a.shape)}{note}")
    data = {"": row_names}
    for j, name in enumerate(col_names):
        data[name] = [_number(v) for v in table[:, j]]
    st.table(data)


@contextmanager
def _step(formula: str):
    """A formula (left) beside its numbers (right: drawn inside the ``with`` block)."""
    left, right = st.columns([2, 5], vertical_alignment="top")
    left.code(formula.replace(";  ", "\n"), language=None, wrap_lines=True)     # one statement a line
    with right:
        yield


def _param(trace: Trace, name: str) -> str:
    """The learner's name first, the code's second: "Hidden layer 1 · W (`layers.0.W`)"."""
    return f"{trace.param_title(name)} (`{name}`)"


def _forward(trace: Trace, labels: Labels) -> None:
    for s in trace.forward:
        sym_in, sym_out = s.symbols
        scores = " (the scores the loss reads)" if sym_out == SCORES else ""
        st.markdown(f"**{trace.heading(s)}**: {sym_in} → {sym_out}{scores}")
        with _step(s.formula):
            if s.layer == 0:
                _matrix(f"{sym_in}, the input", s.x, labels.examples, labels.ins[0])
            for name, value in s.params.items():
                what = ": row = input, column = neuron" if name.endswith(".W") else ""
                _matrix(f"{_param(trace, name)}{what}", value, *labels.param_axes(name))
            _matrix(f"{sym_out}, the output", s.out, labels.examples, labels.outs[s.layer])


def _loss(trace: Trace, labels: Labels) -> None:
    loss = trace.loss
    with _step(loss.formula):
        _matrix(f"{SCORES}, the scores (logits): the output layer's output", loss.scores, labels.examples,
                labels.outs[-1])
        _matrix("p, the probabilities the network gives each class", loss.probabilities, labels.examples,
                labels.classes)
        _matrix("y, the labels", loss.y, None, labels.examples)
        if trace.l2:
            st.markdown(f"data loss **{_number(loss.data_loss)}** + L2 penalty **{_number(loss.l2_penalty)}**")
        st.markdown(f"L = **{_number(loss.value)}**")
    with _step(loss.dscores_formula):
        _matrix(f"dL/d{SCORES}, where the backward pass starts", loss.dscores, labels.examples, labels.outs[-1])


def _backward(trace: Trace, labels: Labels) -> None:
    for s in trace.backward:
        sym_in, sym_out = s.symbols
        ins, outs = labels.ins[s.layer], labels.outs[s.layer]
        st.markdown(f"**{trace.heading(s)}** (backwards: dL/d{sym_out} → dL/d{sym_in})")
        source = "the loss (tab 2)" if sym_out == SCORES else "the layer above"
        with _step(f"dL/d{sym_out}: arrives from {source}"):
            _matrix(f"dL/d{sym_out}", s.dout, labels.examples, outs)
        with _step(f"Local derivative: {s.local_formula}"):
            if s.kind == "Dense":                         # its input and W: shown in the forward pass
                st.caption(f"{sym_in} and W: the numbers of the forward pass.")
            for symbol, value in s.local.items():
                if s.kind != "Dense":
                    _matrix(symbol, value, labels.examples, ins)
        for name, grad in s.grads.items():
            key = name.rsplit(".", 1)[1]
            with _step(s.formulas[name]):
                _matrix(f"{trace.param_title(name)}: dL/d{PARAM_SYMBOLS.get(key, key)} (`{name}`)", grad,
                        *labels.param_axes(name))
        with _step(s.formulas["dx"] + "  (passed down)"):
            _matrix(f"dL/d{sym_in}", s.dx, labels.examples, ins)


def _update(trace: Trace, labels: Labels) -> None:
    settings = ", ".join(f"{k} = {v:g}" for k, v in trace.optimizer_settings.items())
    st.markdown(f"**Optimiser {trace.optimizer}** ({settings}): every parameter moves by its own step.")
    if any(u.rounded for u in trace.update):
        st.info(ROUNDING_NOTE, icon=":material/info:")
    for u in trace.update:
        rows = {"p before": u.before, "g (gradient)": u.grad}
        rows.update({f"{key} before": value for key, value in u.state_before.items()})
        rows.update({f"{key} after": value for key, value in u.state_after.items()})
        rows.update(u.derived)
        if u.rounded:
            rows["step (computed)"] = u.step
            rows["Δ = p after − p before (stored)"] = u.delta
        else:
            rows["Δ (update)"] = u.delta
        rows["p after"] = u.after
        entries = labels.entries(u.name)
        # one column per shown entry of the parameter, one row per quantity; Adam's t is one number
        table = {"": list(rows)}
        for entry, index in entries:
            table[entry] = [_number(v[index] if np.ndim(v) else v) for v in rows.values()]
        with _step(trace.optimizer_formula):
            note = "" if u.before.size <= len(entries) else f", {len(entries)} of its {u.before.size} entries"
            st.caption(f"**{trace.param_title(u.name)}** (`{u.name}`) · shape {tuple(u.before.shape)}{note}")
            st.table(table)
            if u.rounded and any(_number(u.step[i]) != _number(u.delta[i]) for _, i in entries):
                st.caption(":material/info: Here Δ differs from the step computed: p is stored in float32 "
                           "(about 7 significant digits), see the note above.")


def _pixels_line(labels: Labels, n_examples: int) -> str:
    first, n = labels.ins[0], len(labels.ins[0].names)
    where = "this image" if n_examples == 1 else "these images"
    return (f"{n} pixels, x₁ to x{str(n).translate(_SUBSCRIPT)} row by row; the tables show the "
            f"{len(first.shown)} with the most ink in {where} (blank pixels would show only zeros): "
            + ", ".join(f"{first.names[j]} ({_position(j, n)})" for j in first.shown) + ".")


def backprop_panel(run: LiveRun | None, n_train: int, x_points: np.ndarray | None, feature_labels,
                   class_names, batch_size: int) -> None:
    """Controls, then one training step of the run's network with every number.

    x_points : (N, 2) the training points as drawn (2-D data; None for images);
    feature_labels : what the network reads from each point (None for images)."""
    st.markdown("One real step of training, on copies of this network and its optimiser (the run itself "
                "does not move): the forward pass layer by layer, the loss, the backward pass from the top "
                "(each layer multiplies the gradient arriving from above by its own local derivative: the "
                "chain rule), and the update. The numbers come from nn's own forward, backward and optimiser.")
    batchnorm = run is not None and run.settings.batchnorm
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    mode = left.radio("Trace", MODES, horizontal=True, key="train_trace_mode",
                      help="One example is easiest to follow by hand. The next mini-batch is exactly the step "
                           f"training takes next ({batch_size} examples; gradients are averaged over them). "
                           "With batch normalisation only the mini-batch can be traced.")
    example = None
    if mode == MODES[0]:
        example = right.number_input("Training example", 0, max(n_train - 1, 0), step=1, key="train_trace_example",
                                     disabled=batchnorm,
                                     help="With batch normalisation the next mini-batch is traced: one example "
                                          "has no spread to normalise by." if batchnorm else
                                          f"Which of the {n_train:,} training examples (0 is the first).")
    if run is None:
        st.info("Press **Step** (or **Start**, then **Pause**) first: the step is traced on the network as it is.")
        return
    try:
        result = run.trace(example)
    except (RunError, RunLost) as e:
        st.error(str(e))
        return
    trace, indices = result["trace"], result["indices"]
    if result.get("note"):
        st.info(result["note"], icon=":material/info:")
    examples = [f"#{i}" for i in indices]
    inputs = list(feature_labels) if feature_labels is not None else pixel_names(trace.x.shape[1])
    labels = trace_labels(trace, inputs, class_names, examples)
    if len(indices) == 1:
        label = class_names[int(trace.y[0])] if class_names is not None else f"class {int(trace.y[0])}"
        if x_points is not None:
            point = ", ".join(_number(v) for v in x_points[indices[0]])
            st.markdown(f"Example #{indices[0]}: the point ({point}), of **{label}**.")
        else:
            st.markdown(f"Example #{indices[0]}: an image of **{label}**.")
    else:
        st.markdown(f"{len(indices)} example{'s' if len(indices) != 1 else ''}: "
                    f"{', '.join(examples[:12])}{' …' if len(examples) > 12 else ''}.")
    if x_points is None:
        st.markdown(_pixels_line(labels, len(indices)))
    st.caption(f"Network: {trace.network}. Neurons are counted from 1 in each layer (n1, n2, …); the output "
               "layer's are named by the class they score; W[i→j] joins input i (a row of W) to neuron j "
               "(a column).")
    left, right = st.columns(2)
    left.download_button("Worksheet to fill in (Markdown)", trace_to_markdown(trace, True, labels),
                         file_name="backprop-worksheet.md", mime="text/markdown", key="train_worksheet_blank",
                         on_click="ignore", icon=":material/edit_note:",
                         help="The same step with every computed number left blank (____) for a class to "
                              "work out by hand: the example, the starting weights and every formula are given.")
    right.download_button("Worksheet with the answers (Markdown)", trace_to_markdown(trace, False, labels),
                          file_name="backprop-answers.md", mime="text/markdown", key="train_worksheet_answers",
                          on_click="ignore", icon=":material/task:",
                          help="The same step with every number filled in, to check the worksheet against.")
    forward, loss, backward, update = st.tabs(["1 · Forward", "2 · Loss", "3 · Backward", "4 · Update"])
    with forward:
        _forward(trace, labels)
    with loss:
        _loss(trace, labels)
    with backward:
        _backward(trace, labels)
    with update:
        _update(trace, labels)
