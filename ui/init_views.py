"""The Weight-init page's words and tables: what the measured numbers mean, in sentences a
learner can follow, each quoting the experiment's own numbers (nn/initexp.py measures them), and
the side-by-side table of the session's "Does it train?" runs."""
from __future__ import annotations

import math

from nn.initexp import STANDARD_INITS, ExperimentResult, TrainCurve, verdict, weight_std
from ui.init_settings import ACTIVATION_NAMES, InitSettings
from ui.run_history import Run, labels
VERDICT_COLOURS = {"saturated": "red", "collapsed": "gray", "spread": "green", "exploding": "red",
                   "vanishing": "gray", "stable": "green"}


def number(v: float) -> str:
    """A number for prose: 3 significant digits, scientific when tiny or huge."""
    if not math.isfinite(v):
        return "–"
    return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.1e}"


# --------------------------------------------------------------------------- reading the numbers

def explain(result: ExperimentResult) -> str:
    """A few sentences on what this combination does and why, with its own numbers."""
    cfg, s = result.config, result.stats
    act, n, last = ACTIVATION_NAMES[cfg.activation], cfg.units, len(s)
    w = weight_std(cfg, n)
    word = verdict(result)
    grads = f"the gradient's norm goes from {number(s[-1].grad_norm)} at the top to {number(s[0].grad_norm)} at layer 1"
    parts = []
    if cfg.batchnorm:
        parts.append(f"**Batch norm is on.** Before each activation it shifts and rescales every unit's "
                     f"input to mean 0 and std 1 over the batch, whatever the weights' scale. So the "
                     f"initialisation hardly matters any more: layer {last}'s outputs have std {number(s[-1].std)}, "
                     f"and {grads}. Turn it off to see what the weights alone would do.")
    elif word == "saturated":
        parts.append(f"**Saturated.** Each unit adds up {n} inputs times weights of std {number(w)}, so its input "
                     f"is far beyond the narrow region where {act} bends. {s[-1].saturated:.0%} of layer {last}'s "
                     f"outputs sit within 5% of a limit, where the slope is almost 0: there a unit passes "
                     f"(almost) no gradient back, and learns only from the few samples that leave it unsaturated. "
                     f"Here {grads}: the large weights amplify what the unsaturated units let through.")
    elif word == "collapsed":
        centre = "0.5" if cfg.activation == "sigmoid" else "0"
        parts.append(f"**Collapsed.** Weights of std {number(w)} make every unit's input tiny, so every unit "
                     f"outputs about {act}(0) = {centre}: layer {last}'s outputs have a std of only "
                     f"{number(s[-1].std)}. All {n} units say the same thing, so the layer carries no more "
                     f"information than one unit. Backward, each layer multiplies the gradient by small weights "
                     f"again: {grads}, so the first layers barely learn.")
    elif word == "spread":
        parts.append(f"**Spread.** With weights of std {number(w)} (Xavier's √(1/{n}) is {number(1 / math.sqrt(n))}) "
                     f"the weighted sum of {n} inputs stays in the region where {act} bends, so the units "
                     f"respond differently to different inputs: layer {last}'s std is {number(s[-1].std)}.")
        if cfg.init == "he":
            parts.append(f"He's std is √2 times Xavier's: it makes up for the half of the signal a ReLU "
                         f"zeroes, which {act} does not do, so here a few more units drift toward the limits "
                         f"({s[-1].saturated:.0%} saturated in layer {last}).")
        if cfg.activation == "sigmoid":
            parts.append(f"Backward, though, {grads}: sigmoid's slope is at most 1/4 and its outputs are not "
                         "centred on 0 (mean 0.5), so the signal shrinks at every layer even with Xavier. "
                         "tanh (slope 1 at 0, centred) keeps it; compare the two.")
        else:
            parts.append(f"Backward, {grads}.")
    elif word == "exploding":
        parts.append(f"**Exploding.** A ReLU layer passes on about half of its inputs, so it multiplies the "
                     f"signal's scale by roughly std·√({n}/2) = {number(w * math.sqrt(n / 2))}. Layer {last}'s "
                     f"outputs reach a std of {number(s[-1].std)}, and backward {grads}. Training with such "
                     f"weights blows up at the first steps.")
    elif word == "vanishing":
        parts.append(f"**Vanishing.** Each ReLU layer multiplies the signal's scale by roughly "
                     f"std·√({n}/2) = {number(w * math.sqrt(n / 2))} < 1: the std falls from {number(s[0].std)} in "
                     f"layer 1 to {number(s[-1].std)} in layer {last}, and {grads}.")
        if cfg.init == "xavier":
            parts.append("Xavier's std √(1/n) was derived for sigmoid and tanh, which pass the whole signal; "
                         "ReLU zeroes half of it, so each layer loses a factor 1/√2. He's √(2/n) makes up "
                         "for exactly that.")
    else:
        parts.append(f"**Stable.** With weights of std {number(w)} (He's √(2/{n}) is {number(math.sqrt(2 / n))}), "
                     f"which makes up for the half of its inputs a ReLU zeroes, every layer keeps about the "
                     f"same std ({', '.join(number(x.std) for x in s)}), and {grads}.")
    if cfg.activation == "relu":
        parts.append(f"About {s[-1].dead:.0%} of the outputs are exactly 0 (the grey bar): normal for ReLU, "
                     "whose units are off for inputs on the wrong side. Leaky ReLU passes 0.01·x there instead.")
    return "\n\n".join(parts)


def explain_compare(results: dict[str, ExperimentResult]) -> str:
    """One line per initialisation: its verdict and the numbers behind it."""
    lines = []
    for label, res in results.items():
        s, word = res.stats, verdict(res)
        colour = VERDICT_COLOURS[word]
        last = len(s)
        if word == "saturated":
            what = f"{s[-1].saturated:.0%} of layer {last} within 5% of a limit"
        else:
            what = f"std {number(s[0].std)} in layer 1 → {number(s[-1].std)} in layer {last}"
        lines.append(f"- **{label}**: :{colour}[{word}], {what}; gradient norm {number(s[-1].grad_norm)} at the "
                     f"top → {number(s[0].grad_norm)} at layer 1.")
    if next(iter(results.values())).config.batchnorm:
        lines.append("\nBatch norm is on: it re-normalises every layer, so the rows look alike. "
                     "Turn it off to see the initialisations on their own.")
    return "\n".join(lines)


RULE_OF_THUMB = (
    "**Rule of thumb.** Xavier (std = √(1/n), n inputs per unit) suits sigmoid and tanh; He "
    "(std = √(2/n)) suits ReLU. Both keep each layer's output variance equal to its input variance, "
    "so a signal neither dies out nor blows up over many layers; ReLU sets half of its inputs to 0, "
    "so He doubles the variance to make up for it. Batch norm re-normalises every layer during "
    "training and repairs a bad initialisation (try std 0.01 with batch norm on).")


def explain_training(curves: list[TrainCurve], activation: str) -> str:
    """What the training runs show, read from their final losses (ln 10 = 2.30 is guessing)."""
    learned = [c for c in curves if not c.diverged and c.final_loss < 0.5]
    slow = [c for c in curves if not c.diverged and 0.5 <= c.final_loss < 2.0]
    stalled = [c for c in curves if not c.diverged and c.final_loss >= 2.0]
    diverged = [c for c in curves if c.diverged]

    def runs(cs):
        return ", ".join(f"{c.label} (loss {c.final_loss:.2f}, {c.val_accuracy:.0%} of held-out digits right)"
                         for c in cs)
    lines = []
    if learned:
        lines.append(f"**Learned:** {runs(learned)}.")
    if slow:
        lines.append(f"**Learning slowly:** {runs(slow)}.")
    if stalled:
        lines.append("**Stuck near guessing:** " + ", ".join(f"{c.label} (loss {c.final_loss:.2f})"
                                                             for c in stalled) + ".")
    if diverged:
        lines.append("**Diverged:** " + ", ".join(c.label for c in diverged)
                     + " (the loss overflowed to infinity or NaN within the first steps: exploding activations).")
    if activation == "sigmoid" and any(c.label in ("Xavier", "He") for c in stalled):
        lines.append("Deep sigmoid stacks are hard to train with plain gradient descent: with Xavier or He the "
                     "backward pass shows the gradient shrinking about 4× per layer (sigmoid's slope is at "
                     "most 1/4), so the first layers hardly move. std 1 gets further only because its large "
                     "weights multiply the backward signal back up, and its saturated units learn slowly. "
                     "This is why deep networks moved to ReLU with He initialisation, or added batch norm: "
                     "switch the activation to ReLU or tanh, or turn batch norm on, and train again.")
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- tables

def layer_table(result: ExperimentResult) -> list[dict]:
    """One row per layer: the activations' mean and std, the saturated or dead share, and the
    gradient norms (strings: the values span many orders of magnitude)."""
    sat = result.config.activation in ("sigmoid", "tanh")
    rows = []
    for i, s in enumerate(result.stats, start=1):
        row = {"layer": str(i), "mean": number(s.mean), "std": number(s.std)}
        if sat:
            row["saturated"] = f"{s.saturated:.1%}"
        else:
            row["exactly 0 (dead)"] = f"{s.dead:.1%}"
        row["‖dL/da‖ gradient"] = number(s.grad_norm)
        row["‖dL/dW‖ weights"] = number(s.dW_norm)
        rows.append(row)
    return rows


def compare_table(results: dict[str, ExperimentResult]) -> list[dict]:
    """One row per initialisation: its verdict and the numbers behind it."""
    rows = []
    for label, res in results.items():
        s = res.stats
        row = {"initialisation": label, "verdict": verdict(res),
               "std, layer 1": number(s[0].std), f"std, layer {len(s)}": number(s[-1].std)}
        if res.config.activation in ("sigmoid", "tanh"):
            row[f"saturated, layer {len(s)}"] = f"{s[-1].saturated:.0%}"
        else:
            row[f"exactly 0, layer {len(s)}"] = f"{s[-1].dead:.0%}"
        row[f"‖dL/da‖ layer {len(s)} → 1"] = f"{number(s[-1].grad_norm)} → {number(s[0].grad_norm)}"
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- does it train? runs

def run_name(run: Run, label: str = "") -> str:
    """"#3" or "#3 (ReLU, 10 layers)": how the page names a run."""
    return f"#{run.number}" + (f" ({label})" if label else "")


def run_summary(run: Run) -> str:
    """A run in a few words, for a picker: "#3: ReLU, 5 × 100, batch norm, seed 0"."""
    s: InitSettings = run.settings
    extra = [c.label for c in s.training_inits()[len(STANDARD_INITS):]]
    return (f"#{run.number}: {ACTIVATION_NAMES[s.activation]}, {s.n_layers} × {s.units}"
            + (", batch norm" if s.batchnorm else "") + f", seed {s.seed}"
            + (f", and {extra[0]}" if extra else ""))


def runs_table(runs: list[Run]) -> list[dict]:
    """One row per run, side by side: its settings, then each initialisation's final training loss
    and share of held-out digits right ("0.21 · 94%"), or "diverged"."""
    inits = list(dict.fromkeys(c.label for r in runs for c in r.result))
    rows = []
    for r in runs:
        s: InitSettings = r.settings
        row = {"run": f"#{r.number}", "activation": ACTIVATION_NAMES[s.activation], "layers": str(s.n_layers),
               "units": str(s.units), "batch norm": "on" if s.batchnorm else "off", "seed": str(s.seed)}
        by_label = {c.label: c for c in r.result}
        for label in inits:
            c = by_label.get(label)
            row[label] = ("–" if c is None else "diverged" if c.diverged
                          else f"{c.final_loss:.2f} · {c.val_accuracy:.0%}")
        row["seconds"] = f"{r.seconds:.1f}"
        rows.append(row)
    return rows


def explain_runs(runs: list[Run]) -> str:
    """explain_training for every run shown, each headed by its name when there are several."""
    if len(runs) == 1:
        return explain_training(runs[0].result, runs[0].settings.activation)
    names = labels(runs)
    return "\n\n".join(f"**{run_name(r, names[r.number])}**\n\n" + explain_training(r.result, r.settings.activation)
                        for r in runs)
