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
    """How one kind of layer is written on a worksheet. ``{i}`` and ``{o}`` stand for the names of
    its input and output, which the layers around it decide (see _symbols): a Dense layer maps x (or
    the a of the layer below) to z, an activation maps z (or BatchNorm's u) to a."""

    output: str                   # the name of its output (the output layer's Dense gives the scores s)
    forward: str                  # may name the layer's attributes: {alpha}, {p}
    local: str                    # the local derivative
    local_symbol: str             # its key in BackwardStep.local, for elementwise layers
    chain: dict[str, str]         # "dx" and each parameter -> how the chain rule gives its gradient


_ACTIVATION_DX = "dL/d{i} = dL/d{o} ⊙ f'({i})"
_LAYERS: dict[type, _LayerInfo] = {
    Dense: _LayerInfo("z", "{o} = {i}·W + b", "∂{o}/∂W = {i} (the layer's input), ∂{o}/∂{i} = W", "",
                      {"W": "dL/dW = {i}ᵀ·dL/d{o}", "b": "dL/db = Σₙ dL/d{o}", "dx": "dL/d{i} = dL/d{o}·Wᵀ"}),
    ReLU: _LayerInfo("a", "{o} = max(0, {i})", "f'({i}) = 1 if {i} > 0, else 0", "f'({i})", {"dx": _ACTIVATION_DX}),
    LeakyReLU: _LayerInfo("a", "{o} = {i} if {i} > 0, else α·{i}  (α = {alpha})",
                          "f'({i}) = 1 if {i} > 0, else α", "f'({i})", {"dx": _ACTIVATION_DX}),
    Sigmoid: _LayerInfo("a", "{o} = σ({i}) = 1 / (1 + e^(−{i}))", "f'({i}) = σ({i})·(1 − σ({i})) = {o}·(1 − {o})",
                        "f'({i})", {"dx": _ACTIVATION_DX}),
    Tanh: _LayerInfo("a", "{o} = tanh({i})", "f'({i}) = 1 − tanh²({i}) = 1 − {o}²", "f'({i})", {"dx": _ACTIVATION_DX}),
    Dropout: _LayerInfo("a'", "{o} = {i} ⊙ m / (1 − p)  (m: 1 with probability 1 − p, else 0; p = {p})",
                        "∂{o}/∂{i} = m / (1 − p)", "m / (1 − p)", {"dx": "dL/d{i} = dL/d{o} ⊙ m / (1 − p)"}),
    BatchNorm: _LayerInfo("u", "{o} = γ·ẑ + β,  ẑ = ({i} − mean_B {i}) / √(var_B {i} + ε)",
                          "every ẑ depends on the whole batch, so there is no one local factor per entry",
                          "",
                          {"gamma": "dL/dγ = Σₙ dL/d{o} ⊙ ẑ", "beta": "dL/dβ = Σₙ dL/d{o}",
                           "dx": "dL/d{i} = γ / (N·√(var_B {i} + ε)) · (N·dL/d{o} − Σₙ dL/d{o} − ẑ·Σₙ(dL/d{o} ⊙ ẑ))"}),
}
SCORES = "s"                      # the output layer's output, where the loss starts


def _symbols(model: MLP) -> list[tuple[str, str]]:
    """(input, output) names of every layer, chained: each layer's input is named as the output of the
    layer below it was (the first reads x), and the output layer gives the scores s the loss reads."""
    last = max(i for i, layer in enumerate(model.layers) if isinstance(layer, Dense))
    names, below = [], "x"
    for i, layer in enumerate(model.layers):
        out = SCORES if i == last else _LAYERS[type(layer)].output
        names.append((below, out))
        below = out
    return names


def _fill(text: str, layer, symbols: tuple[str, str]) -> str:
    """A formula of _LAYERS with the layer's names and settings ({alpha}, {p}) filled in."""
    settings = {k: v for k, v in vars(layer).items() if isinstance(v, float | int)}
    return text.format(**settings, i=symbols[0], o=symbols[1])


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
    symbols : (input, output) names the formulas use, chained: the input is named as the layer below named
              its output. ("x", "z") for the first Dense, ("z", "a") or ("u", "a") for an activation
              (after BatchNorm's z → u), ("a", "s") for the output layer, which gives the scores s
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
    local         : its numbers: {"f'(z)": (N, D)} for an activation (keyed by its input's name: "f'(u)"
                    after BatchNorm; {"m / (1 − p)": (N, D)} for Dropout); for Dense its input under
                    its name ("x", "a", ...: (N, D_in)) and "W" (D_in, D_out); {} for BatchNorm
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
    step         : the step the formula adds to p, worked out in float64 by the optimiser's own update
                   on float64 copies (p, g and the state before)
    delta        : the change stored, Δ = after − before. In a float32 model p after is p + step rounded
                   to float32 (about 7 significant digits), so Δ can differ from the step in its last
                   digits, or be 0 when the step is below the precision of p
    after        : p after the step
    """

    name: str
    before: np.ndarray
    grad: np.ndarray
    state_before: dict[str, np.ndarray]
    state_after: dict[str, np.ndarray]
    derived: dict[str, np.ndarray]
    step: np.ndarray
    delta: np.ndarray
    after: np.ndarray

    @property
    def rounded(self) -> bool:
        """Whether p is stored with fewer digits than the step was computed with (a float32 model)."""
        return self.after.dtype != np.float64


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
        return f"{self._place(step.layer)} · {step.kind}"

    def param_title(self, name: str) -> str:
        """A parameter as the learner reads it: "layers.0.W" -> "Hidden layer 1 · W", "layers.1.gamma" ->
        "Hidden layer 1 · γ" (the saved name stays the code's: show it beside, as secondary)."""
        layer, key = _split(name)
        return f"{self._place(layer)} · {PARAM_SYMBOLS.get(key, key)}"

    def _place(self, layer: int) -> str:
        place = self.places[layer] if layer < len(self.places) else f"layer {layer}"
        return f"{place[0].upper()}{place[1:]}"

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
    for i, (layer, symbols) in enumerate(zip(model.layers, _symbols(model))):
        spec = _LAYERS[type(layer)]
        names = {k: f"layers.{i}.{k}" for k in layer.params}
        params = {names[k]: initial[names[k]] for k in layer.params}
        forward.append(ForwardStep(i, type(layer).__name__, symbols, _fill(spec.forward, layer, symbols),
                                   inputs[i], params, model.outputs[i]))
        formulas = {names.get(k, k): _fill(f, layer, symbols) for k, f in spec.chain.items()}
        if isinstance(layer, Dense) and l2:
            formulas[names["W"]] += f" + λ·W  (λ = {l2:g})"
        if isinstance(layer, Dense):
            local = {symbols[0]: inputs[i], "W": params[names["W"]]}
        elif isinstance(layer, BatchNorm):
            local = {}
        else:   # elementwise: dL/dz = dL/da ⊙ f'(z), so the layer's own backward of dL/da = 1 is f'(z)
            local = {_fill(spec.local_symbol, layer, symbols): layer.backward(np.ones_like(inputs[i]))}
        backward.append(BackwardStep(i, type(layer).__name__, symbols, model.output_grads[i],
                                     _fill(spec.local, layer, symbols), local, formulas,
                                     {n: grads[n] for n in names.values()}, dxs[i]))

    loss_formula, dscores_formula = _LOSSES[model.config.loss]
    if l2:
        loss_formula += f";  + (λ/2)·Σ W²  (λ = {l2:g})"
    loss = LossStep(model.config.loss, loss_formula, scores, y, model.loss_fn.probabilities(scores),
                    data_loss, value - data_loss, value, dscores_formula, model.output_grads[-1])

    states_before = {name: _state(optimizer, name, info) for name in initial}
    steps = {name: _step64(optimizer, name, initial[name], grads[name]) for name in initial}
    optimizer.step(model.params(), model.grads())
    update = []
    for name, p in model.params().items():
        after = p.copy()
        state_after = _state(optimizer, name, info)
        state_before = states_before[name] or {k: np.zeros_like(v) for k, v in state_after.items()}
        update.append(UpdateStep(name, initial[name], grads[name], state_before, state_after,
                                 _derived(optimizer, state_after), steps[name], after - initial[name], after))

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


def _step64(optimizer: Optimizer, name: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The step the optimiser's update adds to p, in float64: its own ``_update`` run on float64 copies of
    p, g and its whole state for p (every buffer, so the real step that follows is untouched)."""
    state = optimizer.state.get(name)
    p64 = p.astype(np.float64)
    if state is None:
        state64 = optimizer._new_state(p64)
    else:
        state64 = {k: v.astype(np.float64) if v.dtype.kind == "f" else v.copy() for k, v in state.items()}
    before = p64.copy()
    optimizer._update(p64, g.astype(np.float64), state64)
    return p64 - before


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
MAX_SHOWN = 8          # rows and columns of a matrix shown on a page or a worksheet
PARAM_SYMBOLS = {"gamma": "γ", "beta": "β"}      # as the formulas write them; W and b are themselves
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _split(name: str) -> tuple[int, str]:
    """"layers.4.W" -> (4, "W")."""
    _, layer, key = name.split(".")
    return int(layer), key


class Axis(NamedTuple):
    """The entries along one side of a table: every entry's name, and which of them are shown.

    names : one per entry: an input ("x₁", "x₄₀₇ (row 15, col 15)"), a neuron ("n1": counted from 1
            within its layer), a class by its label ("class 0", "7"), an example ("#12")
    shown : the indices shown, in order, at most MAX_SHOWN
    how   : why these are shown ("" for the first ones)
    """

    names: tuple[str, ...]
    shown: tuple[int, ...]
    how: str = ""

    @classmethod
    def first(cls, names) -> Axis:
        return cls(tuple(names), tuple(range(min(len(names), MAX_SHOWN))))


@dataclass(frozen=True)
class Labels:
    """One naming of every row and column of the step, shared by the page's tabs and the worksheet.

    Inputs are x₁, x₂, ... (or the caller's names: features, pixels), neurons n1, n2, ... within each
    layer, the output layer's units by the class they score, classes by their label. A weight W[i, j]
    joins input i (its row) to neuron j (its column), and ``entry`` writes it so: "W[x₁→n1]".

    examples : the rows of x and of every layer's output
    classes  : the columns of the probabilities
    ins      : ins[i] names the input units of ``model.layers[i]`` (the rows of its W)
    outs     : outs[i] names its output units (the columns of its W, b, γ, β and its output)
    """

    examples: Axis
    classes: Axis
    ins: tuple[Axis, ...]
    outs: tuple[Axis, ...]

    def param_axes(self, name: str) -> tuple[Axis | None, Axis]:
        """(rows, columns) of a parameter by saved name: (ins, outs) of W, (None, outs) of a vector."""
        layer, key = _split(name)
        return (self.ins[layer] if key == "W" else None), self.outs[layer]

    def entries(self, name: str) -> list[tuple[str, tuple[int, ...]]]:
        """The parameter's shown entries (at most MAX_SHOWN): ("W[x₁→n1]", (0, 0)), ("b[n1]", (0,))...
        W row by row over the shown rows and columns, so the first layer's are the shown inputs'."""
        rows, cols = self.param_axes(name)
        symbol = PARAM_SYMBOLS.get(_split(name)[1], _split(name)[1])
        if rows is None:
            return [(f"{symbol}[{cols.names[j]}]", (j,)) for j in cols.shown]
        return [(f"{symbol}[{rows.names[i]}→{cols.names[j]}]", (i, j))
                for i in rows.shown for j in cols.shown][:MAX_SHOWN]


def trace_labels(trace: Trace, inputs=None, classes=None, examples=None) -> Labels:
    """The names of every row and column of ``trace``.

    inputs   : (D,) names of the input features (default x₁, x₂, ...)
    classes  : (C,) the class labels (default "class 0", "class 1", ...); a label that is a bare number
               ("7") is written "class 7"
    examples : (N,) names of the examples (default "example 1", ...)

    With more than MAX_SHOWN inputs (an image), the ones shown are the MAX_SHOWN with the largest
    |x| over the batch (for a digit: pixels with ink), in index order, so the first layer's numbers
    are not all zeros of blank corner pixels; the rows of its W are the same inputs.
    """
    n, d = trace.x.shape
    n_classes = trace.loss.probabilities.shape[1]
    inputs = list(inputs) if inputs is not None else [f"x{str(j + 1).translate(_SUBSCRIPT)}" for j in range(d)]
    classes = [f"class {c}" if str(c).isdigit() else str(c)
               for c in (classes if classes is not None else range(n_classes))]
    examples = list(examples) if examples is not None else [f"example {k + 1}" for k in range(n)]
    level = Axis.first(inputs)
    if d > MAX_SHOWN:
        strength = np.abs(trace.x).mean(axis=0)
        picked = np.sort(np.argsort(-strength, kind="stable")[:MAX_SHOWN])
        level = Axis(tuple(inputs), tuple(int(j) for j in picked), "the largest |x| in this batch")
    class_axis = Axis.first(classes)
    ins, outs = [], []
    dense = [i for i, step in enumerate(trace.forward) if step.kind == "Dense"]
    for step in trace.forward:
        ins.append(level)
        if step.kind == "Dense":
            width = step.out.shape[1]
            if step.layer == dense[-1]:         # the output layer: one score per class (one: class 1)
                level = class_axis if width == n_classes else Axis.first(classes[-width:])
            else:
                level = Axis.first([f"n{k + 1}" for k in range(width)])
        outs.append(level)
    return Labels(Axis.first(examples), class_axis, tuple(ins), tuple(outs))


def trace_to_markdown(trace: Trace, blank: bool = False, labels: Labels | None = None) -> str:
    """A worksheet of the step: sections Forward, Loss, Backward and Update, each formula next to its
    numbers (4 significant digits, matrices as tables of at most MAX_SHOWN rows and columns, named by
    ``labels``: trace_labels(trace) unless given, so a page and its worksheet name things alike).

    With ``blank`` every computed answer (outputs, loss, gradients, new state and parameters) is
    replaced by BLANK, cell by cell, while the givens stay: the example, the initial parameters, the
    optimiser's state before the step and every formula.
    """
    labels = labels or trace_labels(trace)
    out: list[str] = []

    def show(label: str, value, given: bool, rows: Axis | None = None, cols: Axis | None = None) -> None:
        out.extend(_quantity(label, value, blank and not given, rows, cols))

    def param(name: str) -> str:
        return f"{trace.param_title(name)} (`{name}`)"

    cfg = trace.config
    first = labels.ins[0]
    out += ["# One training step, by hand", "",
            f"Network: {trace.network}; loss {cfg['loss']}; optimiser {trace.optimizer} "
            f"({_settings_text(trace.optimizer_settings)})" + (f"; L2 λ = {trace.l2:g}" if trace.l2 else "") + ".",
            f"N = {len(trace.x)} example{'s' if len(trace.x) != 1 else ''}; numbers to 4 significant digits."
            + (f" Fill in every {BLANK}." if blank else ""),
            "Neurons are counted from 1 in each layer (n1, n2, ...); the output layer's are named by the class "
            "they score. W[i→j] is the weight from input i (a row of W) to neuron j (a column).", ""]
    show("x (input)", trace.x, True, labels.examples, first)
    show("y (label)", trace.y, True, None, labels.examples)

    out += ["## Forward", ""]
    for s in trace.forward:
        sym_in, sym_out = s.symbols
        ins, outs = labels.ins[s.layer], labels.outs[s.layer]
        out += [f"### {trace.heading(s)}: {sym_in} → {sym_out} (`layers[{s.layer}]`)", "", f"`{s.formula}`", ""]
        show(f"{sym_in} (input)", s.x, s.layer == 0, labels.examples, ins)
        for name, value in s.params.items():
            show(param(name), value, True, *labels.param_axes(name))
        show(f"{sym_out} (output)", s.out, False, labels.examples, outs)

    loss = trace.loss
    scores = labels.outs[-1]
    out += ["## Loss", "", f"`{loss.formula}`", ""]
    show(f"{SCORES} (scores: the output layer's output)", loss.scores, False, labels.examples, scores)
    show("p (probabilities of the classes)", loss.probabilities, False, labels.examples, labels.classes)
    if trace.l2:
        show("data loss", loss.data_loss, False)
        show("L2 penalty", loss.l2_penalty, False)
    show("L", loss.value, False)
    out += [f"`{loss.dscores_formula}`", ""]
    show(f"dL/d{SCORES}", loss.dscores, False, labels.examples, scores)

    out += ["## Backward", ""]
    for s in trace.backward:
        sym_in, sym_out = s.symbols
        ins, outs = labels.ins[s.layer], labels.outs[s.layer]
        out += [f"### {trace.heading(s)}: dL/d{sym_out} → dL/d{sym_in} (`layers[{s.layer}]`)", ""]
        show(f"dL/d{sym_out} (from {'the loss' if sym_out == SCORES else 'above'})", s.dout, False,
             labels.examples, outs)
        out += [f"Local derivative: `{s.local_formula}`", ""]
        for symbol, value in s.local.items():       # Dense's W and the example x are givens
            if s.kind == "Dense":
                given = symbol == "W" or s.layer == 0
                axes = labels.param_axes(f"layers.{s.layer}.W") if symbol == "W" else (labels.examples, ins)
            else:
                given, axes = False, (labels.examples, ins)
            show(symbol, value, given, *axes)
        for name, value in s.grads.items():
            out += [f"`{s.formulas[name]}`", ""]
            key = _split(name)[1]
            show(f"{trace.param_title(name)}: dL/d{PARAM_SYMBOLS.get(key, key)} (`{name}`)", value, False,
                 *labels.param_axes(name))
        out += [f"`{s.formulas['dx']}`", ""]
        show(f"dL/d{sym_in} (passed down)", s.dx, False, labels.examples, ins)

    out += ["## Update", "", f"Optimiser {trace.optimizer}: `{trace.optimizer_formula}`", "",
            f"Settings: {_settings_text(trace.optimizer_settings)}", ""]
    if any(u.rounded for u in trace.update):
        out += [ROUNDING_NOTE, ""]
    for u in trace.update:
        axes = labels.param_axes(u.name)
        out += [f"### {param(u.name)}", ""]
        show("p (before)", u.before, True, *axes)
        show("g", u.grad, False, *axes)
        for key, value in u.state_before.items():
            show(f"{key} (before)", value, True, *(axes if np.ndim(value) else ()))
        for key, value in u.state_after.items():
            show(f"{key} (after)", value, False, *(axes if np.ndim(value) else ()))
        for key, value in u.derived.items():
            show(key, value, False, *axes)
        if u.rounded:
            show("step (computed)", u.step, False, *axes)
        show("Δ (stored: p after − p before)" if u.rounded else "Δ (update)", u.delta, False, *axes)
        show("p (after)", u.after, False, *axes)
    return "\n".join(out)


ROUNDING_NOTE = ("The parameters are float32 numbers (about 7 significant digits). p after is p + step "
                 "rounded to the nearest float32, so the change stored, Δ = p after − p before, can differ "
                 "from the step the formula computed in its last digits, or be 0 when the step is smaller "
                 "than the precision of p (about |p| / 10⁷). The formula is right: the rounding is the storage's.")


def _settings_text(settings: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in settings.items())


def _number(v) -> str:
    return f"{v + 0:.4g}" if isinstance(v, float) else str(v)      # + 0 turns -0.0 into 0.0


def _quantity(label: str, value, hide: bool, rows: Axis | None = None, cols: Axis | None = None) -> list[str]:
    """A labelled number, vector (one-row table) or matrix (table) as Markdown lines, its rows and
    columns named and picked by ``rows`` and ``cols`` (a vector has only columns)."""
    a = np.asarray(value)
    cell = (lambda v: BLANK) if hide else _number
    if a.ndim == 0:
        return [f"{label} = {cell(a.item())}", ""]
    table, row_names, col_names, note = shown_table(a, rows, cols)
    header = "|   | " + " | ".join(col_names) + " |"
    lines = [f"{label}, shape {a.shape}{note}:", "", header, "|---" * (len(col_names) + 1) + "|"]
    for name, row in zip(row_names, table.tolist()):
        lines.append(f"| {name} | " + " | ".join(cell(v) for v in row) + " |")
    return lines + [""]


def shown_table(a: np.ndarray, rows: Axis | None = None, cols: Axis | None = None):
    """The part of a vector or matrix a page or worksheet shows: (table (R, C), R row names, C column
    names, a note on what was left out, "" if nothing). Without an Axis, rows and columns are numbered
    from 1 and the first MAX_SHOWN shown."""
    m = a.reshape(1, -1) if a.ndim == 1 else a
    if rows is None or a.ndim == 1:
        rows = Axis.first([""] if a.ndim == 1 else [str(k + 1) for k in range(m.shape[0])])
    cols = cols or Axis.first([str(k + 1) for k in range(m.shape[1])])
    table = m[np.ix_(rows.shown, cols.shown)]
    parts, picked = [], False
    for axis, total, what in ((rows, m.shape[0], "rows"), (cols, m.shape[1], "columns")):
        if len(axis.shown) < total:
            parts.append(f"{len(axis.shown)} of {total} {what}" + (f": {axis.how}" if axis.how else ""))
            picked |= bool(axis.how)
    note = f" ({'' if picked else 'first '}{'; '.join(parts) if picked else ', '.join(parts)})" if parts else ""
    return table, [rows.names[i] for i in rows.shown], [cols.names[j] for j in cols.shown], note


if __name__ == "__main__":
    from .cli import trace_main

    sys.exit(trace_main())
