"""The Train page's "One training step, with numbers": backpropagation by hand, on the learner's own
network, with the numbers nn computes (nn.trace on copies of the run's model and optimiser).

    backprop_panel   pick one training example or the next mini-batch; then the step in four tabs:
                     the forward pass layer by layer, the loss, the backward pass layer by layer
                     (gradient from above, local derivative, chain rule, dW, db, dx), and the update
                     with the optimiser's state; every formula beside its numbers. The same step as a
                     worksheet (nn.trace.trace_to_markdown) to download, blank or with the answers.

Matrices show their first MAX_SHOWN rows and columns (the worksheet's rule), so large layers stay readable.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import streamlit as st

from nn.trace import MAX_SHOWN, Trace, trace_to_markdown
from ui.run_client import LiveRun, RunError, RunLost

MODES = ("One training example", "The next mini-batch")


def _number(v) -> str:
    return f"{float(v) + 0:.4g}"


def _names(n: int, names=None, prefix: str = "") -> list[str]:
    return [names[k] if names is not None and k < len(names) else f"{prefix}{k + 1}" for k in range(n)]


def _matrix(title: str, a, rows=None, columns=None, row_prefix: str = "", col_prefix: str = "") -> None:
    """A labelled number, vector or matrix: its first MAX_SHOWN rows and columns as a table."""
    a = np.asarray(a)
    if a.ndim == 0:
        st.markdown(f"{title} = **{_number(a)}**")
        return
    m = a.reshape(1, -1) if a.ndim == 1 else a
    shown = m[:MAX_SHOWN, :MAX_SHOWN]
    note = "" if shown.shape == m.shape else f", first {shown.shape[0]} × {shown.shape[1]}"
    st.caption(f"{title} · shape {tuple(a.shape)}{note}")
    table = {"": _names(shown.shape[0], rows, row_prefix) if a.ndim == 2 else [""]}
    for j, name in enumerate(_names(shown.shape[1], columns, col_prefix)):
        table[name] = [_number(v) for v in shown[:, j]]
    st.table(table)


@contextmanager
def _step(formula: str):
    """A formula (left) beside its numbers (right: drawn inside the ``with`` block)."""
    left, right = st.columns([2, 5], vertical_alignment="top")
    left.code(formula.replace(";  ", "\n"), language=None, wrap_lines=True)     # one statement a line
    with right:
        yield


def _forward(trace: Trace, examples: list[str], inputs: list[str] | None) -> None:
    for s in trace.forward:
        sym_in, sym_out = s.symbols
        st.markdown(f"**{trace.heading(s)}**: {sym_in} → {sym_out}")
        with _step(s.formula):
            if s.layer == 0:
                _matrix(f"{sym_in}, the input", s.x, examples, inputs)
            for name, value in s.params.items():
                short = name.rsplit(".", 1)[1]
                if short == "W":
                    _matrix(f"W ({name}): row = input, column = neuron", value,
                            inputs if s.layer == 0 else None, None, "in ", "n")
                else:
                    _matrix(f"{short} ({name})", value, None, None, "", "n")
            _matrix(f"{sym_out}, the output", s.out, examples, None, "", "n")


def _loss(trace: Trace, examples: list[str], class_names) -> None:
    loss = trace.loss
    classes = [f"p({class_names[k] if class_names is not None else f'class {k}'})"
               for k in range(loss.probabilities.shape[1])]
    with _step(loss.formula):
        _matrix("s, the scores (logits)", loss.scores, examples, None, "", "s")
        _matrix("the probabilities the network gives", loss.probabilities, examples, classes)
        _matrix("y, the labels", loss.y, None, examples)
        if trace.l2:
            st.markdown(f"data loss **{_number(loss.data_loss)}** + L2 penalty **{_number(loss.l2_penalty)}**")
        st.markdown(f"L = **{_number(loss.value)}**")
    with _step(loss.dscores_formula):
        _matrix("dL/ds, where the backward pass starts", loss.dscores, examples, None, "", "s")


def _backward(trace: Trace, examples: list[str], inputs: list[str] | None) -> None:
    for s in trace.backward:
        sym_in, sym_out = s.symbols
        first = s.layer == 0
        st.markdown(f"**{trace.heading(s)}** (backwards: {sym_out} → {sym_in})")
        with _step(f"dL/d{sym_out}: arrives from the layer above"):
            _matrix(f"dL/d{sym_out}", s.dout, examples, None, "", "n")
        with _step(f"Local derivative: {s.local_formula}"):
            for symbol, value in s.local.items():
                if symbol not in ("x", "W"):              # Dense's x and W: shown in the forward pass
                    _matrix(symbol, value, examples, None, "", "n")
            if "W" in s.local:
                st.caption("x and W: the numbers of the forward pass.")
        for name, grad in s.grads.items():
            short = name.rsplit(".", 1)[1]
            with _step(s.formulas[name]):
                _matrix(f"dL/d{short} ({name})", grad, inputs if short == "W" and first else None, None,
                        "in " if short == "W" else "", "n")
        with _step(s.formulas["dx"] + "  (passed down)"):
            _matrix(f"dL/d{sym_in}", s.dx, examples, inputs if first else None, "", "n")


def _update(trace: Trace) -> None:
    settings = ", ".join(f"{k} = {v:g}" for k, v in trace.optimizer_settings.items())
    st.markdown(f"**Optimiser {trace.optimizer}** ({settings}): every parameter moves by its own update Δ.")
    for u in trace.update:
        rows = {"p before": u.before, "g (gradient)": u.grad}
        rows.update({f"{key} before": value for key, value in u.state_before.items()})
        rows.update({f"{key} after": value for key, value in u.state_after.items()})
        rows.update(u.derived)
        rows["Δ (update)"] = u.delta
        rows["p after"] = u.after
        shown = min(u.before.size, MAX_SHOWN)
        # one column per entry of the parameter (its first MAX_SHOWN, in reading order), one row per quantity
        entries = [f"[{','.join(map(str, np.unravel_index(k, u.before.shape)))}]" for k in range(shown)]
        table = {"": list(rows)}
        for k, entry in enumerate(entries):
            # Adam's step count t is one number for the whole array
            table[f"{u.name.rsplit('.', 1)[1]}{entry}"] = [
                _number(np.ravel(v)[k] if np.size(v) > 1 else np.ravel(v)[0]) for v in rows.values()]
        with _step(trace.optimizer_formula):
            note = "" if u.before.size <= MAX_SHOWN else f", first {MAX_SHOWN} of {u.before.size} entries"
            st.caption(f"{u.name} · shape {tuple(u.before.shape)}{note}")
            st.table(table)


def backprop_panel(run: LiveRun | None, n_train: int, x_points: np.ndarray | None, feature_labels,
                   class_names, batch_size: int) -> None:
    """Controls, then one training step of the run's network with every number.

    x_points : (N, 2) the training points as drawn (2-D data; None for images);
    feature_labels : what the network reads from each point (None for images)."""
    st.markdown("One real step of training, on copies of this network and its optimiser (the run itself "
                "does not move): the forward pass layer by layer, the loss, the backward pass from the top "
                "(each layer multiplies the gradient arriving from above by its own local derivative: the "
                "chain rule), and the update. The numbers come from nn's own forward, backward and optimiser.")
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    mode = left.radio("Trace", MODES, horizontal=True, key="train_trace_mode",
                      help="One example is easiest to follow by hand. The next mini-batch is exactly the step "
                           f"training takes next ({batch_size} examples; gradients are averaged over them).")
    example = None
    if mode == MODES[0]:
        example = right.number_input("Training example", 0, max(n_train - 1, 0), step=1, key="train_trace_example",
                                     help=f"Which of the {n_train:,} training examples (0 is the first).")
    if run is None:
        st.info("Press **Step** (or **Start**, then **Pause**) first: the step is traced on the network as it is.")
        return
    try:
        result = run.trace(example)
    except (RunError, RunLost) as e:
        st.error(str(e))
        return
    trace, indices = result["trace"], result["indices"]
    examples = [f"#{i}" for i in indices]
    if len(indices) == 1:
        label = class_names[int(trace.y[0])] if class_names is not None else f"class {int(trace.y[0])}"
        if x_points is not None:
            point = ", ".join(_number(v) for v in x_points[indices[0]])
            st.markdown(f"Example #{indices[0]}: the point ({point}), of **{label}**.")
        else:
            st.markdown(f"Example #{indices[0]}: an image of **{label}** ({trace.x.shape[1]} pixels, the first "
                        f"{MAX_SHOWN} shown).")
    else:
        st.markdown(f"{len(indices)} example{'s' if len(indices) != 1 else ''}: "
                    f"{', '.join(examples[:12])}{' …' if len(examples) > 12 else ''}.")
    st.caption(f"Network: {trace.network}")
    left, right = st.columns(2)
    left.download_button("Worksheet to fill in (Markdown)", trace_to_markdown(trace, blank=True),
                         file_name="backprop-worksheet.md", mime="text/markdown", key="train_worksheet_blank",
                         on_click="ignore", icon=":material/edit_note:",
                         help="The same step with every computed number left blank (____) for a class to "
                              "work out by hand: the example, the starting weights and every formula are given.")
    right.download_button("Worksheet with the answers (Markdown)", trace_to_markdown(trace),
                          file_name="backprop-answers.md", mime="text/markdown", key="train_worksheet_answers",
                          on_click="ignore", icon=":material/task:",
                          help="The same step with every number filled in, to check the worksheet against.")
    inputs = list(feature_labels) if feature_labels is not None else None
    forward, loss, backward, update = st.tabs(["1 · Forward", "2 · Loss", "3 · Backward", "4 · Update"])
    with forward:
        _forward(trace, examples, inputs)
    with loss:
        _loss(trace, examples, class_names)
    with backward:
        _backward(trace, examples, inputs)
    with update:
        _update(trace)
