"""The Weight-init page's words and tables: what the measured numbers mean, in sentences a
learner can follow, each quoting the experiment's own numbers (nn/initexp.py measures them), and
the side-by-side table of the session's "Does it train?" runs."""
from __future__ import annotations

import math

from nn.initexp import STANDARD_INITS, ExperimentConfig, ExperimentResult, TrainCurve, growth, verdict, weight_std
from ui.init_settings import ACTIVATION_NAMES, InitSettings
from ui.run_history import Run, labels
VERDICT_COLOURS = {"saturated": "red", "collapsed": "gray", "spread": "green", "exploding": "red",
                   "vanishing": "gray", "stable": "green"}
RELU_LIKE = ("relu", "leaky_relu")
# what each ReLU-like activation does to the negative half of its inputs
HALF_VERB = {"relu": "zeroes", "leaky_relu": "all but zeroes"}
KEEPS = {"relu": "", "leaky_relu": " (it keeps 0.01·x)"}


def number(v: float) -> str:
    """A number for prose: 3 significant digits, scientific when tiny or huge."""
    if not math.isfinite(v):
        return "–"
    return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.1e}"


# --------------------------------------------------------------------------- reading the numbers

def share(x: float) -> str:
    """A share for prose: "none", "under 1%", "62%"."""
    if not math.isfinite(x):
        return "–"
    if x == 0:
        return "none"
    return "under 1%" if x < 0.005 else f"{x:.0%}"


def change(before: float, after: float) -> str:
    """How ``after`` compares with ``before``, in words that follow the direction and the size:
    "about the same", "8% smaller", "29 times larger"."""
    if not (math.isfinite(before) and math.isfinite(after)) or before <= 0:
        return "–"
    ratio = after / before
    if ratio >= 2:
        return f"{number(ratio)} times larger"
    if ratio > 1.05:
        return f"{ratio - 1:.0%} larger"
    if ratio >= 1 / 1.05:
        return "about the same"
    if ratio > 0.5:
        return f"{1 - ratio:.0%} smaller"
    return "0 (vanished)" if ratio == 0 else f"{number(1 / ratio)} times smaller"


def direction(before: float, after: float) -> str:
    """"grows", "shrinks" or "keeps" (within a factor 1.25) from ``before`` to ``after``."""
    if not (math.isfinite(before) and math.isfinite(after)) or before <= 0:
        return "keeps"
    ratio = after / before
    return "grows" if ratio > 1.25 else "shrinks" if ratio < 0.8 else "keeps"


def per_layer(first: float, last: float, layers: int) -> float:
    """The factor by which each of ``layers - 1`` steps multiplies ``first`` to reach ``last``."""
    return (last / first) ** (1 / (layers - 1)) if layers > 1 and first > 0 and last > 0 else float("nan")


def weights_phrase(cfg: ExperimentConfig, n: int) -> str:
    """The chosen initialisation, named as it is, with its std and how it relates to the textbook ones:
    "He's weights (std √(2/100) = 0.141)", "weights of std 1 (10 times Xavier's √(1/100) = 0.1)"."""
    xavier, he = 1 / math.sqrt(n), math.sqrt(2 / n)
    if cfg.init == "xavier":
        return f"Xavier's weights (std √(1/{n}) = {number(xavier)})"
    if cfg.init == "he":
        return f"He's weights (std √(2/{n}) = {number(he)})"
    w = weight_std(cfg, n)
    ref, name, formula = (he, "He's", f"√(2/{n})") if cfg.activation in RELU_LIKE else (xavier, "Xavier's", f"√(1/{n})")
    ratio = w / ref
    if abs(ratio - 1) < 0.02:
        how = f"about {name} {formula} = {number(ref)}"
    elif ratio > 1:
        how = f"{number(ratio)} times {name} {formula} = {number(ref)}"
    elif abs(1 / ratio - round(1 / ratio)) < 0.02 * (1 / ratio):
        how = f"1/{round(1 / ratio)} of {name} {formula} = {number(ref)}"
    else:
        how = f"{number(ratio)} times {name} {formula} = {number(ref)}"
    return f"weights of std {number(w)} ({how})"


def explain(result: ExperimentResult) -> str:
    """A few sentences on what this combination does and why, with its own numbers. Every claim
    follows the chosen initialisation and activation, and the direction and size of what was
    measured (a gradient that shrinks is never said to be amplified)."""
    cfg, s = result.config, result.stats
    act, n, last = ACTIVATION_NAMES[cfg.activation], cfg.units, len(s)
    w = weight_std(cfg, n)
    word = verdict(result)
    weights = weights_phrase(cfg, n)
    top, bottom = s[-1].grad_norm, s[0].grad_norm
    backward = direction(top, bottom)
    if last > 1:
        grads = (f"the gradient's norm goes from {number(top)} at the top to {number(bottom)} at layer 1 "
                 f"({change(top, bottom)})")
    else:
        grads = f"the gradient arriving at the only layer is the error signal itself (norm {number(top)})"
    stds = ", ".join(number(x.std) for x in s)
    parts = []
    if cfg.batchnorm:
        parts.append(f"**Batch norm is on.** Before each activation it shifts and rescales every unit's "
                     f"input to mean 0 and std 1 over the batch, whatever the weights' scale. So the "
                     f"initialisation hardly matters any more: layer {last}'s outputs have std {number(s[-1].std)}, "
                     f"and {grads}. Turn it off to see what the weights alone would do.")
    elif word == "saturated":
        text = (f"**Saturated.** Each unit adds up {n} inputs times {weights}, so its weighted sum often lands "
                f"far outside the narrow region where {act} bends. {share(s[-1].saturated).capitalize()} of "
                f"layer {last}'s outputs sit within 5% of a limit, where the slope is almost 0: there a unit "
                f"passes (almost) no gradient back, and learns only from the samples that leave it unsaturated.")
        if last > 1:
            why = {"grows": "the large weights amplify more than the saturated units hold back",
                   "keeps": "the large weights roughly make up for what the saturated units hold back",
                   "shrinks": "the saturated units hold back more than the large weights amplify"}[backward]
            text += f" Here {grads}: {why}."
        parts.append(text)
    elif word == "collapsed":
        centre = "0.5" if cfg.activation == "sigmoid" else "0"
        falls = last > 1 and s[-1].std < s[0].std
        span = 1.0 if cfg.activation == "sigmoid" else 2.0
        how = ("the weighted sums stay close to 0" if s[0].std < 0.05 * span
               else "each layer shrinks the weighted sums further toward 0")
        parts.append(f"**Collapsed.** With {weights}, {how}, so the units end up outputting about "
                     f"{act}(0) = {centre}: "
                     + (f"the outputs' std is {number(s[0].std)} in layer 1 and " + ("only " if falls else "")
                        + f"{number(s[-1].std)} in layer {last}." if last > 1 else
                        f"layer 1's outputs have a std of only {number(s[0].std)}.") + f" All {n} units say "
                     "almost the same thing, so a layer carries little more information than one unit.")
        if backward == "shrinks":
            parts.append(f"Backward, each layer multiplies the gradient by the same small weights again: {grads}, "
                         "so the first layers barely learn.")
        else:
            parts.append(f"Backward, {grads}.")
    elif word == "spread":
        worst = max(range(last), key=lambda i: s[i].saturated)
        text = (f"**Spread.** With {weights}, most of layer {last}'s weighted sums land in the region where "
                f"{act} bends, so its units respond differently to different inputs: layer {last}'s std is "
                f"{number(s[-1].std)}, and {share(s[-1].saturated)} of its outputs are within 5% of a limit")
        if worst != last - 1 and s[worst].saturated >= s[-1].saturated + 0.05:
            text += f" ({share(s[worst].saturated)} in layer {worst + 1})"
        parts.append(text + ".")
        if cfg.init == "he":
            parts.append(f"He's std is √2 times Xavier's, to make up for the half of the signal a ReLU zeroes. "
                         f"{act.capitalize()} zeroes nothing, so here layer 1's weighted sums are exactly √2 times "
                         f"wider than Xavier's would be, which pushes more of them toward {act}'s flat ends"
                         + (f": {share(s[0].saturated)} of layer 1's outputs are within 5% of a limit." if last > 1
                            else "."))
        if cfg.activation == "sigmoid" and backward == "shrinks" and last > 1:
            name = {"xavier": "Xavier", "he": "He"}.get(cfg.init, f"std {number(w)}")
            parts.append(f"Backward, though, {grads}: about {number(1 / per_layer(top, bottom, last))} times "
                         f"smaller per layer. Sigmoid's slope is at most 1/4 and its outputs are not centred on 0 "
                         f"(mean {number(s[-1].mean)} in layer {last}), so the gradient shrinks on its way down even "
                         f"with {name}. Switch to tanh (slope 1 at 0, centred on 0) to compare.")
        else:
            parts.append(f"Backward, {grads}.")
    else:
        zeroes, keeps = HALF_VERB[cfg.activation], KEEPS[cfg.activation]
        textbook = w * math.sqrt(n / 2)
        measured = growth(result)
        if word in ("exploding", "vanishing"):
            text = (f"**{word.capitalize()}.** A {act} layer {zeroes} the negative half of its inputs{keeps}, so "
                    f"with {weights} it multiplies the signal's scale by roughly std·√({n}/2) = {number(textbook)}")
            if last > 1:
                text += (f" (measured here: {number(measured)} per layer). The std goes from {number(s[0].std)} "
                         f"in layer 1 to {number(s[-1].std)} in layer {last}, and backward {grads}.")
            else:
                text += f". Layer 1's outputs have std {number(s[0].std)}."
            if word == "exploding":
                text += (" Activations and gradients this large make training unstable: *Does it train?* below "
                         "shows whether these weights blow up.")
            parts.append(text)
            if word == "vanishing" and cfg.init == "xavier":
                parts.append(f"Xavier's std √(1/n) was derived for sigmoid and tanh, which pass the whole signal; "
                             f"{act} {zeroes} half of it{keeps}, "
                             "so each layer loses a factor of about 1/√2 ≈ 0.71. He's √(2/n) makes up for exactly that.")
        else:
            if cfg.init == "he":
                text = (f"**Stable.** {weights[0].upper() + weights[1:]} make up for the half of the signal "
                        f"{act} {zeroes}{keeps}: ")
            else:
                text = f"**Stable.** With {weights}, "
            if last == 1:
                text += f"layer 1's outputs have std {number(s[0].std)}, and {grads}."
            elif 0.9 <= measured <= 1.1:
                text += f"every layer keeps about the same std ({stds}), and {grads}."
            else:
                trend = "grows" if measured > 1 else "shrinks"
                text += (f"the std still {trend}, about {number(measured)} times per layer ({stds}), so "
                         f"{change(s[0].std, s[-1].std)} in layer {last} than in layer 1, and more so in a "
                         f"deeper stack. Backward, {grads}.")
            parts.append(text)
    if cfg.activation == "relu":
        parts.append(f"About {s[-1].dead:.0%} of layer {last}'s outputs are exactly 0 (the grey bar): normal for "
                     "ReLU, whose units are off for inputs on the wrong side. Leaky ReLU passes 0.01·x there instead.")
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
    stuck = [c for c in stalled if c.label in ("Xavier", "He")]
    if activation == "sigmoid" and stuck:
        text = (f"Deep sigmoid stacks are hard to train with plain gradient descent: sigmoid's slope is at most 1/4, "
                f"so with {' and '.join(c.label for c in stuck)} the gradient shrinks on its way down (pick it above "
                "and read the backward histograms) and the first layers hardly move.")
        big = next((c for c in curves if c.label == "std 1" and not c.diverged), None)
        if big is not None and big.final_loss < min(c.final_loss for c in stuck):
            text += (f" std 1 gets further (loss {big.final_loss:.2f}) because its large weights multiply the "
                     "backward signal back up, though its saturated units learn slowly.")
        lines.append(text + " This is why deep networks moved to ReLU with He initialisation, or added batch norm: "
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
