"""One training step, recorded layer by layer with its real numbers: backprop by hand, but checked.

    trace = trace_step(model, x, y, optimizer)
    trace.forward[0].out                     z = x·W + b of the first layer
    trace.loss.value                         the loss
    trace.backward[-1].grads["layers.0.W"]   dL/dW of the first layer (the backward pass runs top down)
    trace.update[0].after                    layers.0.W after the optimiser's step

Every number comes from nn's own code: ``MLP.forward``, ``MLP.loss`` and ``MLP.backward`` (which call
each layer's ``forward(x, train=True)`` and ``backward(dout)`` in turn, exactly as training does) and the
optimiser's ``step``. This module records what they computed and gives each step its formula, so a page
or a worksheet can show formula and numbers side by side. The one number it asks for separately is an
elementwise layer's local derivative f'(z): that layer's own ``backward`` applied to a gradient of ones
(dL/dz = dL/da ⊙ f'(z), so dL/da = 1 gives f'(z)).

``python -m nn.trace`` prints the step of a tiny net (by default the seed notebooks' 2-2-1 sigmoid XOR
net on the example x = (1, 0), y = 1) as JSON, or as a Markdown worksheet whose answers can be blanked
out for a class (``--format md --blank``).
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import NamedTuple

import numpy as np

from .layers import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from .model import MLP
from .optim import SGD, AdaGrad, Adam, Momentum, Nesterov, Optimizer, RMSprop

# ----- what each step computes, in words -------------------------------------------------------------

class _LayerInfo(NamedTuple):
    """How one kind of layer is written on a worksheet. The symbols are local to the layer: a Dense
    layer maps its input x to z, an activation maps z to a."""

    symbols: tuple[str, str]      # (input, output)
    forward: str                  # may name the layer's attributes: {alpha}, {p}
    local: str                    # the local derivative
    local_symbol: str             # its key in BackwardStep.local, for elementwise layers
    chain: dict[str, str]         # "dx" and each parameter -> how the chain rule gives its gradient


_ACTIVATION_DX = "dL/dz = dL/da ⊙ f'(z)"
_LAYERS: dict[type, _LayerInfo] = {
    Dense: _LayerInfo(("x", "z"), "z = x·W + b", "∂z/∂W = x (the layer's input), ∂z/∂x = W", "",
                      {"W": "dL/dW = xᵀ·dL/dz", "b": "dL/db = Σₙ dL/dz", "dx": "dL/dx = dL/dz·Wᵀ"}),
    ReLU: _LayerInfo(("z", "a"), "a = max(0, z)", "f'(z) = 1 if z > 0, else 0", "f'(z)",
                     {"dx": _ACTIVATION_DX}),
    LeakyReLU: _LayerInfo(("z", "a"), "a = z if z > 0, else α·z  (α = {alpha})",
                          "f'(z) = 1 if z > 0, else α", "f'(z)", {"dx": _ACTIVATION_DX}),
    Sigmoid: _LayerInfo(("z", "a"), "a = σ(z) = 1 / (1 + e^(−z))", "f'(z) = σ(z)·(1 − σ(z)) = a·(1 − a)",
                        "f'(z)", {"dx": _ACTIVATION_DX}),
    Tanh: _LayerInfo(("z", "a"), "a = tanh(z)", "f'(z) = 1 − tanh²(z) = 1 − a²", "f'(z)",
                     {"dx": _ACTIVATION_DX}),
    Dropout: _LayerInfo(("a", "a'"), "a' = a ⊙ m / (1 − p)  (m: 1 with probability 1 − p, else 0; p = {p})",
                        "∂a'/∂a = m / (1 − p)", "m / (1 − p)", {"dx": "dL/da = dL/da' ⊙ m / (1 − p)"}),
    BatchNorm: _LayerInfo(("z", "u"), "u = γ·ẑ + β,  ẑ = (z − mean_B z) / √(var_B z + ε)",
                          "every ẑ depends on the whole batch, so there is no one local factor per entry",
                          "",
                          {"gamma": "dL/dγ = Σₙ dL/du ⊙ ẑ", "beta": "dL/dβ = Σₙ dL/du",
                           "dx": "dL/dz = γ / (N·√(var_B z + ε)) · (N·dL/du − Σₙ dL/du − ẑ·Σₙ(dL/du ⊙ ẑ))"}),
}

# loss name -> (the loss, its gradient with respect to the scores s, where the backward pass starts)
_LOSSES: dict[str, tuple[str, str]] = {
    "softmax_ce": ("p = softmax(s);  L = −(1/N)·Σₙ ln p[n, yₙ]", "dL/ds = (p − onehot(y)) / N"),
    "mse": ("L = mean((s − t)²)  (t = y for one output, onehot(y) for several)", "dL/ds = 2·(s − t) / (N·K)"),
    "sigmoid_bce": ("p = σ(s), the probability of class 1;  L = −(1/N)·Σₙ (yₙ·ln pₙ + (1 − yₙ)·ln(1 − pₙ))",
                    "dL/ds = (p − y) / N"),
}


class _OptimizerInfo(NamedTuple):
    name: str                     # as in nn.optim.OPTIMIZERS
    formula: str
    settings: tuple[str, ...]     # attributes of the optimiser that the formula uses
    state: tuple[str, ...]        # its per-parameter state worth showing (not scratch buffers)


_ADAM = ("m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  t ← t + 1;  "
         "m̂ = m / (1 − β1^t);  v̂ = v / (1 − β2^t);  p ← p − lr·m̂ / (√v̂ + ε)")
_OPTIMIZERS: dict[type, _OptimizerInfo] = {
    SGD: _OptimizerInfo("sgd", "p ← p − lr·g", ("lr",), ()),
    Momentum: _OptimizerInfo("momentum", "v ← μ·v − lr·g;  p ← p + v", ("lr", "momentum"), ("v",)),
    Nesterov: _OptimizerInfo("nesterov", "v_new = μ·v − lr·g;  p ← p − μ·v + (1 + μ)·v_new;  v ← v_new",
                             ("lr", "momentum"), ("v",)),
    AdaGrad: _OptimizerInfo("adagrad", "h ← h + g²;  p ← p − lr·g / (√h + ε)", ("lr", "eps"), ("h",)),
    RMSprop: _OptimizerInfo("rmsprop", "h ← ρ·h + (1 − ρ)·g²;  p ← p − lr·g / (√h + ε)",
                            ("lr", "rho", "eps"), ("h",)),
    Adam: _OptimizerInfo("adam", _ADAM, ("lr", "beta1", "beta2", "eps"), ("m", "v", "t")),
}


# ----- the record ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ForwardStep:
    """One layer of the forward pass.

    layer   : its index in ``model.layers``; its parameters are saved as ``layers.{layer}.W`` etc.
    kind    : its class: Dense, ReLU, LeakyReLU, Sigmoid, Tanh, BatchNorm or Dropout
    symbols : (input, output) names the formulas use: ("x", "z") for Dense, ("z", "a") for an activation
    formula : what it computes, e.g. "z = x·W + b"
    x       : (N, D_in) its input
    params  : its parameters by saved name, as they were before the update: "layers.0.W" (D_in, D_out)
              and "layers.0.b" (D_out,) for Dense, gamma and beta (D,) for BatchNorm, none otherwise
    out     : (N, D_out) its output: the weighted sums z for Dense, a = f(z) for an activation
    """

    layer: int
    kind: str
    symbols: tuple[str, str]
    formula: str
    x: np.ndarray
    params: dict[str, np.ndarray]
    out: np.ndarray


@dataclass(frozen=True)
class LossStep:
    """The loss, and the gradient the backward pass starts from.

    scores        : (N, K) the net's outputs s (logits)
    y             : (N,) the labels
    probabilities : (N, C) what the net predicts (C = 2 for one output)
    data_loss     : the loss of the batch (a mean over it)
    l2_penalty    : (λ/2)·Σ W² over every Dense layer (0 without L2)
    value         : data_loss + l2_penalty
    dscores       : (N, K) dL/ds
    """

    name: str
    formula: str
    scores: np.ndarray
    y: np.ndarray
    probabilities: np.ndarray
    data_loss: float
    l2_penalty: float
    value: float
    dscores_formula: str
    dscores: np.ndarray


@dataclass(frozen=True)
class BackwardStep:
    """One layer of the backward pass.

    dout          : (N, D_out) dL/d(output), the gradient arriving from the layer above
    local_formula : the layer's local derivative, e.g. "f'(z) = a·(1 − a)"
    local         : its numbers: {"f'(z)": (N, D)} for an activation ({"m / (1 − p)": (N, D)} for
                    Dropout); for Dense the input x (N, D_in) and W (D_in, D_out); {} for BatchNorm
    formulas      : how the chain rule combines them, for "dx" and each gradient's saved name
    grads         : the parameter gradients by saved name, L2 included: "layers.0.W" (D_in, D_out),
                    "layers.0.b" (D_out,); gamma and beta (D,) for BatchNorm
    dx            : (N, D_in) dL/d(input), passed down to the layer below
    """

    layer: int
    kind: str
    symbols: tuple[str, str]
    dout: np.ndarray
    local_formula: str
    local: dict[str, np.ndarray]
    formulas: dict[str, str]
    grads: dict[str, np.ndarray]
    dx: np.ndarray


@dataclass(frozen=True)
class UpdateStep:
    """What the optimiser did to one parameter (all arrays have its shape, except Adam's t: ()).

    name         : its saved name, e.g. "layers.0.W"
    before       : p before the step
    grad         : g = dL/dp (the numbers of the backward pass)
    state_before : the optimiser's state for p before: {"v"} (momentum, Nesterov), {"h"} (AdaGrad,
                   RMSprop), {"m", "v", "t"} (Adam), {} (SGD); zeros before its first step
    state_after  : the same after the step
    derived      : what the update computes on the way and does not keep: Adam's m̂ and v̂
    delta        : the update Δ = after − before
    after        : p after the step
    """

    name: str
    before: np.ndarray
    grad: np.ndarray
    state_before: dict[str, np.ndarray]
    state_after: dict[str, np.ndarray]
    derived: dict[str, np.ndarray]
    delta: np.ndarray
    after: np.ndarray


@dataclass(frozen=True)
class Trace:
    """One training step of an MLP: forward layer by layer, loss, backward from the top, update.

    config   : the model's config as a plain dict; ``network`` its layers in one line
    x        : (N, D) the batch (N = 1 for one example), in the model's dtype
    y        : (N,) its labels
    backward : from the last layer down to the first, in the order backprop runs
    """

    config: dict
    network: str
    x: np.ndarray
    y: np.ndarray
    l2: float
    forward: tuple[ForwardStep, ...]
    loss: LossStep
    backward: tuple[BackwardStep, ...]
    optimizer: str
    optimizer_formula: str
    optimizer_settings: dict[str, float]
    update: tuple[UpdateStep, ...]
    places: tuple[str, ...] = ()        # model.layer_places(): "hidden layer 1"... "output layer"

    def heading(self, step: ForwardStep | BackwardStep) -> str:
        """A layer's name in every view of the step: "Hidden layer 1 · Dense", "Output layer · Dense"."""
        place = self.places[step.layer] if step.layer < len(self.places) else f"layer {step.layer}"
        return f"{place[0].upper()}{place[1:]} · {step.kind}"

    @property
    def initial(self) -> dict[str, np.ndarray]:
        """Every parameter before the step, by saved name."""
        return {u.name: u.before for u in self.update}

    @property
    def updated(self) -> dict[str, np.ndarray]:
        """Every parameter after the step, by saved name."""
        return {u.name: u.after for u in self.update}


# ----- recording a step ------------------------------------------------------------------------------

def trace_step(model: MLP, x: np.ndarray, y: np.ndarray, optimizer: Optimizer, l2: float = 0.0) -> Trace:
    """Run one real training step of ``model`` on the batch and record every number of it.

    x : (N, D) inputs (one example: N = 1), y : (N,) labels. The step is the one training makes
    (forward in training mode, loss with the L2 penalty ``l2``, backward, ``optimizer.step``), so the
    model's weights, its BatchNorm statistics and the optimiser's state move on. To look without
    touching, trace copies: ``trace_step(model.copy(), x, y, copy.deepcopy(optimizer))``. For exact
    numbers (a worksheet, a gradient check) use a float64 model: ``model.copy(np.float64)``.
    """
    info = _optimizer_info(optimizer)
    x = np.asarray(x, dtype=model.dtype)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape[:1] != x.shape[:1]:
        raise ValueError(f"expected x of shape (N, {model.config.input_dim}) and y with the same N, "
                         f"got x {x.shape} and y {y.shape}")
    initial = {name: p.copy() for name, p in model.params().items()}

    scores = model.forward(x, train=True)
    data_loss = model.loss(scores, y)
    value = model.loss(scores, y, l2)
    dx_first = model.backward(l2, input_grad=True)
    grads = {name: g.copy() for name, g in model.grads().items()}

    inputs = [x, *model.outputs[:-1]]
    dxs = [dx_first, *model.output_grads[:-1]]
    forward, backward = [], []
    for i, layer in enumerate(model.layers):
        spec = _LAYERS[type(layer)]
        names = {k: f"layers.{i}.{k}" for k in layer.params}
        params = {names[k]: initial[names[k]] for k in layer.params}
        forward.append(ForwardStep(i, type(layer).__name__, spec.symbols, spec.forward.format(**vars(layer)),
                                   inputs[i], params, model.outputs[i]))
        formulas = {names.get(k, k): f for k, f in spec.chain.items()}
        if isinstance(layer, Dense) and l2:
            formulas[names["W"]] += f" + λ·W  (λ = {l2:g})"
        if isinstance(layer, Dense):
            local = {"x": inputs[i], "W": params[names["W"]]}
        elif isinstance(layer, BatchNorm):
            local = {}
        else:   # elementwise: dL/dz = dL/da ⊙ f'(z), so the layer's own backward of dL/da = 1 is f'(z)
            local = {spec.local_symbol: layer.backward(np.ones_like(inputs[i]))}
        backward.append(BackwardStep(i, type(layer).__name__, spec.symbols, model.output_grads[i],
                                     spec.local, local, formulas, {n: grads[n] for n in names.values()},
                                     dxs[i]))

    loss_formula, dscores_formula = _LOSSES[model.config.loss]
    if l2:
        loss_formula += f";  + (λ/2)·Σ W²  (λ = {l2:g})"
    loss = LossStep(model.config.loss, loss_formula, scores, y, model.loss_fn.probabilities(scores),
                    data_loss, value - data_loss, value, dscores_formula, model.output_grads[-1])

    states_before = {name: _state(optimizer, name, info) for name in initial}
    optimizer.step(model.params(), model.grads())
    update = []
    for name, p in model.params().items():
        after = p.copy()
        state_after = _state(optimizer, name, info)
        state_before = states_before[name] or {k: np.zeros_like(v) for k, v in state_after.items()}
        update.append(UpdateStep(name, initial[name], grads[name], state_before, state_after,
                                 _derived(optimizer, state_after), after - initial[name], after))

    return Trace(config=asdict(model.config), network=model.describe(), x=x, y=y, l2=float(l2),
                 forward=tuple(forward), loss=loss, backward=tuple(backward[::-1]), optimizer=info.name,
                 optimizer_formula=info.formula,
                 optimizer_settings={k: float(getattr(optimizer, k)) for k in info.settings},
                 update=tuple(update), places=tuple(model.layer_places()))


def _optimizer_info(optimizer: Optimizer) -> _OptimizerInfo:
    if type(optimizer) not in _OPTIMIZERS:
        raise ValueError(f"cannot trace a {type(optimizer).__name__}: trace_step knows the optimisers "
                         f"of nn.optim ({', '.join(i.name for i in _OPTIMIZERS.values())})")
    return _OPTIMIZERS[type(optimizer)]


def _state(optimizer: Optimizer, name: str, info: _OptimizerInfo) -> dict[str, np.ndarray]:
    """A copy of the optimiser's state for one parameter ({} before its first step)."""
    state = optimizer.state.get(name)
    return {} if state is None else {k: state[k].copy() for k in info.state}


def _derived(optimizer: Optimizer, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Adam's bias-corrected moments m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t) (Kingma & Ba, 2015), which
    its step computes and does not keep; nothing for the other optimisers."""
    if not isinstance(optimizer, Adam):
        return {}
    t = int(state["t"])
    return {"m̂": state["m"] / (1 - optimizer.beta1 ** t), "v̂": state["v"] / (1 - optimizer.beta2 ** t)}


# ----- JSON and Markdown -----------------------------------------------------------------------------

def trace_to_dict(trace: Trace) -> dict:
    """The trace as plain JSON values (arrays become nested lists of floats), with the field names of
    the dataclasses, plus ``initial`` and ``updated``: every parameter before and after, by saved name."""
    d = {f.name: _plain(getattr(trace, f.name)) for f in fields(trace)}
    d["initial"] = _plain(trace.initial)
    d["updated"] = _plain(trace.updated)
    return d


def _plain(value):
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


BLANK = "____"
MAX_SHOWN = 8          # rows and columns of a matrix shown on a worksheet; larger ones show the first


def trace_to_markdown(trace: Trace, blank: bool = False) -> str:
    """A worksheet of the step: sections Forward, Loss, Backward and Update, each formula next to its
    numbers (4 significant digits, matrices as tables of at most MAX_SHOWN rows and columns).

    With ``blank`` every computed answer (outputs, loss, gradients, new state and parameters) is
    replaced by BLANK, cell by cell, while the givens stay: the example, the initial parameters, the
    optimiser's state before the step and every formula.
    """
    out: list[str] = []

    def show(label: str, value, given: bool) -> None:
        out.extend(_quantity(label, value, hide=blank and not given))

    cfg = trace.config
    out += ["# One training step, by hand", "",
            f"Network: {trace.network}; loss {cfg['loss']}; optimiser {trace.optimizer} "
            f"({_settings_text(trace.optimizer_settings)})" + (f"; L2 λ = {trace.l2:g}" if trace.l2 else "") + ".",
            f"N = {len(trace.x)} example{'s' if len(trace.x) != 1 else ''}; numbers to 4 significant digits."
            + (f" Fill in every {BLANK}." if blank else ""), ""]
    show("x (input)", trace.x, True)
    show("y (label)", trace.y, True)

    out += ["## Forward", ""]
    for s in trace.forward:
        sym_in, sym_out = s.symbols
        out += [f"### {trace.heading(s)} (`layers[{s.layer}]`)", "", f"`{s.formula}`", ""]
        show(f"{sym_in} (input)", s.x, s.layer == 0)
        for name, value in s.params.items():
            show(f"{name.rsplit('.', 1)[1]} (`{name}`)", value, True)
        show(f"{sym_out} (output)", s.out, False)

    loss = trace.loss
    out += ["## Loss", "", f"`{loss.formula}`", ""]
    show("s (scores)", loss.scores, False)
    show(f"probabilities of the classes 0 to {loss.probabilities.shape[1] - 1} (columns)",
         loss.probabilities, False)
    if trace.l2:
        show("data loss", loss.data_loss, False)
        show("L2 penalty", loss.l2_penalty, False)
    show("L", loss.value, False)
    out += [f"`{loss.dscores_formula}`", ""]
    show("dL/ds", loss.dscores, False)

    out += ["## Backward", ""]
    for s in trace.backward:
        sym_in, sym_out = s.symbols
        out += [f"### {trace.heading(s)} (`layers[{s.layer}]`)", ""]
        show(f"dL/d{sym_out} (from above)", s.dout, False)
        out += [f"Local derivative: `{s.local_formula}`", ""]
        for symbol, value in s.local.items():       # Dense's W and the example x are givens
            show(symbol, value, symbol == "W" or (symbol == "x" and s.layer == 0))
        for name, value in s.grads.items():
            out += [f"`{s.formulas[name]}`", ""]
            show(f"dL/d{name.rsplit('.', 1)[1]} (`{name}`)", value, False)
        out += [f"`{s.formulas['dx']}`", ""]
        show(f"dL/d{sym_in} (passed down)", s.dx, False)

    out += ["## Update", "", f"Optimiser {trace.optimizer}: `{trace.optimizer_formula}`", "",
            f"Settings: {_settings_text(trace.optimizer_settings)}", ""]
    for u in trace.update:
        out += [f"### {u.name}", ""]
        show("p (before)", u.before, True)
        show("g", u.grad, False)
        for key, value in u.state_before.items():
            show(f"{key} (before)", value, True)
        for key, value in u.state_after.items():
            show(f"{key} (after)", value, False)
        for key, value in u.derived.items():
            show(key, value, False)
        show("Δ (update)", u.delta, False)
        show("p (after)", u.after, False)
    return "\n".join(out)


def _settings_text(settings: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in settings.items())


def _number(v) -> str:
    return f"{v + 0:.4g}" if isinstance(v, float) else str(v)      # + 0 turns -0.0 into 0.0


def _quantity(label: str, value, hide: bool) -> list[str]:
    """A labelled number, vector (one-row table) or matrix (table) as Markdown lines."""
    a = np.asarray(value)
    cell = (lambda v: BLANK) if hide else _number
    if a.ndim == 0:
        return [f"{label} = {cell(a.item())}", ""]
    rows = a.reshape(1, -1) if a.ndim == 1 else a
    shown = rows[:MAX_SHOWN, :MAX_SHOWN]
    note = ""
    if shown.shape != rows.shape:
        note = f" (first {shown.shape[0]} of {rows.shape[0]} rows, {shown.shape[1]} of {rows.shape[1]} columns)"
    header = "|   | " + " | ".join(str(j + 1) for j in range(shown.shape[1])) + " |"
    lines = [f"{label}, shape {a.shape}{note}:", "", header, "|---" * (shown.shape[1] + 1) + "|"]
    for i, row in enumerate(shown.tolist()):
        lines.append(f"| {i + 1 if a.ndim == 2 else ''} | " + " | ".join(cell(v) for v in row) + " |")
    return lines + [""]


if __name__ == "__main__":
    from .cli import trace_main

    sys.exit(trace_main())
