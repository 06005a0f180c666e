"""An honest verdict on a training run: did it learn, and if not, what went wrong?

From a run's history (nn.train.History) and the number of classes, ``judge`` decides one of

    diverged         the loss exploded: became NaN or infinite (the Trainer stopped it), or ended
                     far above both where it started and the loss of guessing, or shot up and never
                     recovered from chance
    stuck            accuracy (the better of training and validation) stays near chance (what
                     always guessing the commonest class gets) and the loss is not falling
    overfitting      the validation loss has kept rising for a while as the training loss kept
                     falling, and validation accuracy trails training accuracy
    still_improving  the last epochs still cut the loss materially (validation did not worsen):
                     more epochs would help
    learned          none of the above: the run reached a plateau above chance

in that order (the first that applies), each with one sentence of why, quoting the run's own
numbers, and one of what to try. ``verdict_for(trainer)`` is what the command line and the pages
call, so both give the same verdict for the same run.

The thresholds (constants below) are deterministic and deliberately coarse: a verdict must not
flip from one near-identical run to the next. "Recent" means the mean over the last window of
epochs (a fifth of the run, at least 2), which evens out one noisy epoch. Losses are compared with
the loss of guessing, the chance loss of the run's loss function:

    softmax cross-entropy, K classes    ln K             (probability 1/K for every class)
    sigmoid binary cross-entropy        ln 2
    mean squared error, K outputs       (K - 1) / K²     (predicting 1/K for every output)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .train import History, Trainer

KINDS = ("learned", "stuck", "diverged", "overfitting", "still_improving")

WINDOW_SHARE = 0.2        # "recent" = the last fifth of the epochs ...
MIN_WINDOW = 2            # ... but at least this many
EXPLODED = 3.0            # diverged: recent loss > 3 x max(starting loss, chance loss)
BLEW_UP = 10.0            # diverged: some epoch's loss > 10 x that, and the run ends near chance
STUCK_MARGIN = 0.1        # stuck: accuracy < chance + 10% of the way from chance to 100%
IMPROVING_REL = 0.03      # still improving: the recent loss is >= 3% below the window before it ...
IMPROVING_ABS = 0.02      # ... and by >= 2% of the chance loss (tiny losses halving is not material) ...
NOISE_SIGMAS = 2.0        # ... and by more than 2 standard errors of the epoch-to-epoch noise
NOISY = 0.05              # learned, but bouncing: noise of one epoch's loss > 5% of the chance loss ...
NOISY_REL = 0.2           # ... and > 20% of the loss itself
CONFIDENTLY_WRONG = 1.5   # stuck with a loss > 1.5 x the chance loss: outputs confidently wrong, steps too big
UNDERFIT = 0.9            # learned, but fits < 90% of its own training points: advice is more capacity
GAP_ADVICE = 0.10         # learned, but validation trails training by >= 10 points: advice is regularisation
OVERFIT_MIN_EPOCHS = 4    # overfitting needs a curve to read
OVERFIT_RISE = 0.10       # every recent validation loss > best x 1.1 (and + 2% of the chance loss) ...
OVERFIT_TRAIN_FALL = 0.10  # ... while the training loss fell >= 10% since that best epoch ...
OVERFIT_GAP = 0.05        # ... and validation accuracy trails training accuracy by >= 5 points
MIN_BATCHES = 8           # with fewer than 3 epochs, improvement is read from >= 8 batch losses


@dataclass(frozen=True)
class Verdict:
    """kind : one of KINDS; headline : a few words; why : one sentence quoting the run's numbers;
    try_next : one sentence of what to change."""

    kind: str
    headline: str
    why: str
    try_next: str

    def to_dict(self) -> dict:
        """The verdict as plain JSON-ready values."""
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.headline}. {self.why} {self.try_next}"


def chance_loss(n_classes: int, loss: str = "softmax_ce") -> float:
    """The loss of a network that has learned nothing and says 1/K for every class."""
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {n_classes}")
    if loss == "sigmoid_bce":
        return math.log(2)
    if loss == "mse":
        return (n_classes - 1) / n_classes ** 2
    if loss == "softmax_ce":
        return math.log(n_classes)
    raise ValueError(f"unknown loss {loss!r}: choose softmax_ce, sigmoid_bce or mse")


def verdict_for(trainer: "Trainer") -> Verdict:
    """The verdict on ``trainer``'s run so far: its history, its classes, its loss, its
    learning rate and its own divergence message. Chance accuracy is the share of the commonest
    class among the labels accuracy is measured on (validation if there is any, else training).
    ValueError while no epoch has finished (and it has not diverged)."""
    model = trainer.model
    labels = trainer.y_val if trainer.y_val is not None and len(trainer.y_val) else trainer.y_train
    chance_acc = float(np.bincount(labels).max() / len(labels))
    return judge(trainer.history, model.n_classes, loss=model.config.loss, diverged=trainer.diverged,
                 lr=trainer.base_lr, chance_accuracy=chance_acc)


def judge(history: "History", n_classes: int, *, loss: str = "softmax_ce", diverged: str | None = None,
          lr: float | None = None, chance_accuracy: float | None = None) -> Verdict:
    """The verdict on a run from its history.

    history   per-epoch train/val loss and accuracy (val NaN when there is no validation set) and
              per-batch losses; n_classes : K >= 2; loss : the loss function's name
    diverged  the Trainer's message when it stopped on a NaN or infinite loss or gradient
    lr        the learning rate, quoted in the advice; chance_accuracy : default 1/K
    ValueError when there is nothing to judge yet (no finished epoch, no divergence).
    """
    chance = chance_loss(n_classes, loss)
    chance_acc = 1 / n_classes if chance_accuracy is None else float(chance_accuracy)
    lr_text = f"the learning rate ({lr:g})" if lr is not None else "the learning rate"
    start = history.batch_loss[0] if history.batch_loss else math.nan
    if diverged:
        what = diverged.split(";")[0]
        return Verdict("diverged", "Diverged: the loss blew up",
                       f"Training stopped: it {what}" + (f" (it started at {start:.3g})" if math.isfinite(start)
                                                        else "") + ".",
                       _lower_lr(lr))
    n = len(history.train_loss)
    if n == 0:
        raise ValueError("nothing to judge yet: no epoch has finished")

    train_loss = np.asarray(history.train_loss, dtype=np.float64)
    train_acc = np.asarray(history.train_acc, dtype=np.float64)
    val_loss = np.asarray(history.val_loss, dtype=np.float64)
    val_acc = np.asarray(history.val_acc, dtype=np.float64)
    has_val = len(val_loss) == n and bool(np.all(np.isfinite(val_acc)))
    w = min(window(n), n)
    recent_loss = float(np.mean(train_loss[-w:]))
    recent_acc = float(np.mean(train_acc[-w:]))
    recent_val_acc = float(np.mean(val_acc[-w:])) if has_val else math.nan
    best_acc = max(recent_acc, recent_val_acc) if has_val else recent_acc
    # the recent window's means, not the last epoch's figures (which the page shows beside the verdict):
    # said so, so that the two do not seem to disagree
    over = f"on average over its last {_epochs(w)}" if w > 1 else "in its last epoch"
    acc_text = (f"{recent_val_acc:.0%} of the validation points right (training {recent_acc:.0%}) {over}"
                if has_val else f"{recent_acc:.0%} of the training points right {over}")
    reference = max(start, chance) if math.isfinite(start) else chance
    near_chance = best_acc < chance_acc + STUCK_MARGIN * (1 - chance_acc)

    # ----- diverged: the loss exploded without becoming NaN
    peak_epoch = int(np.argmax(train_loss))
    peak = float(train_loss[peak_epoch])
    if recent_loss > EXPLODED * reference or (near_chance and peak > BLEW_UP * reference):
        rise = (f"rose to {recent_loss:.3g} over the last {_epochs(w)}" if recent_loss > EXPLODED * reference
                else f"shot up to {peak:.3g} in epoch {peak_epoch + 1}, and the run never recovered: it gets "
                     f"{acc_text}, as guessing would")
        began = f"started at {start:.3g}" if math.isfinite(start) else "started"
        return Verdict("diverged", "Diverged: the loss exploded",
                       f"The training loss {began} (guessing scores {chance:.3g}) and {rise}.", _lower_lr(lr))

    improving, fall_text, latest = _improvement(history, train_loss, val_loss if has_val else None, chance)
    noise = _noise(train_loss[-2 * w:])

    # ----- stuck near chance
    if near_chance and not improving:
        guess = f"guessing gets {chance_acc:.0%}"
        if recent_loss > CONFIDENTLY_WRONG * chance:
            try_next = (f"Its loss ({recent_loss:.3g}) is far above guessing's {chance:.3g}, so its outputs are "
                        f"confidently wrong: lower {lr_text} or the spread of the initial weights.")
        else:
            try_next = (f"Raise {lr_text}, switch to Adam, check the initialisation (He for ReLU, Xavier for "
                        f"tanh), or give the network more units.")
        return Verdict("stuck", "Stuck near chance: no better than guessing",
                       f"After {_epochs(n)} it gets {acc_text}, where {guess}, and the loss stays at "
                       f"{recent_loss:.3g} (guessing scores {chance:.3g}).", try_next)

    # ----- overfitting
    if has_val and n >= OVERFIT_MIN_EPOCHS:
        best = int(np.nanargmin(val_loss))
        recent_val = float(np.mean(val_loss[-w:]))
        lowest_recent = float(np.min(val_loss[-w:]))      # every recent epoch, not one bad one
        rising = (best < n - w and lowest_recent > val_loss[best] * (1 + OVERFIT_RISE)
                  and lowest_recent - val_loss[best] > IMPROVING_ABS * chance)
        train_fell = recent_loss < train_loss[best] * (1 - OVERFIT_TRAIN_FALL)
        if rising and train_fell and recent_acc - recent_val_acc >= OVERFIT_GAP:
            return Verdict("overfitting", "Overfitting: it memorises the training points",
                           f"The validation loss was lowest ({val_loss[best]:.3g}) at epoch {best + 1} and has "
                           f"risen to {recent_val:.3g} since, while the training loss fell from "
                           f"{train_loss[best]:.3g} to {recent_loss:.3g}; it gets {recent_acc:.0%} of the "
                           f"training points right but only {recent_val_acc:.0%} of the validation points.",
                           f"Stop near epoch {best + 1}, or add L2 weight decay or dropout, use fewer units, "
                           f"or give it more data.")

    # ----- still improving
    if improving:
        try_next = "Train for more epochs"
        if near_chance:
            try_next += f", and raise {lr_text}: at this pace it needs many more"
        return Verdict("still_improving", "Still improving: more epochs would help",
                       f"It gets {acc_text}, and {fall_text}.", try_next + ".")

    # ----- learned
    settled = f"the loss has levelled off at about {latest} (guessing scores {chance:.3g})"
    if noise > NOISY * chance and noise > NOISY_REL * recent_loss:
        recent_span = train_loss[-2 * w:]
        settled = (f"the loss jumps between {recent_span.min():.3g} and {recent_span.max():.3g} from one "
                   f"epoch to the next")
        try_next = f"Lower {lr_text} to settle it: each step overshoots the minimum."
    elif recent_acc < UNDERFIT:
        try_next = (f"It fits only {recent_acc:.0%} of its own training points: give it more units or layers "
                    f"(or, on 2-D data, more input features).")
    elif has_val and recent_acc - recent_val_acc >= GAP_ADVICE:
        try_next = ("Validation trails training by "
                    f"{(recent_acc - recent_val_acc) * 100:.0f} points: more data, L2 weight decay or dropout "
                    "may close the gap.")
    else:
        try_next = "Change one setting at a time (fewer units, another activation, a new seed) and compare."
    return Verdict("learned", f"Learned: {(recent_val_acc if has_val else recent_acc):.0%} right",
                   f"It gets {acc_text}, where guessing gets {chance_acc:.0%}, and {settled}.", try_next)


def window(n_epochs: int) -> int:
    """How many of the last epochs count as "recent"."""
    return max(MIN_WINDOW, math.ceil(WINDOW_SHARE * n_epochs))


def _improvement(history: "History", train_loss: np.ndarray, val_loss: np.ndarray | None,
                 chance: float) -> tuple[bool, str, str]:
    """(is the loss still falling materially, a clause saying by how much, the recent loss it judged:
    "0.41", or "0.41 over the last 47 batches" when it judged batches). With 3 or more epochs:
    the mean training loss of the last window against the window before it, and the validation
    loss must not have risen between the two. With fewer: the last quarter of the batch losses
    against the quarter before it. Noisy losses must fall by more than their noise: the difference
    of two means of w values each has a standard error of about std(differences) / sqrt(w)."""
    n = len(train_loss)
    if n >= 3:
        w = window(n)
        earlier, recent = train_loss[-2 * w:-w], train_loss[-w:]
        unit = f"the last {_epochs(w)}"
        val_ok = val_loss is None or np.mean(val_loss[-w:]) <= np.mean(val_loss[-2 * w:-w])
    else:
        batches = np.asarray(history.batch_loss, dtype=np.float64)
        if len(batches) < MIN_BATCHES:
            return False, "", f"{float(np.mean(train_loss)):.3g}"
        q = len(batches) // 4
        earlier, recent = batches[-2 * q:-q], batches[-q:]
        unit = f"the last {q} batches"
        val_ok = True
    before, now = float(np.mean(earlier)), float(np.mean(recent))
    fall = before - now
    span = np.concatenate([earlier, recent])
    standard_error = float(np.std(np.diff(span))) / math.sqrt(len(recent)) if len(span) > 2 else 0.0
    material = (fall >= IMPROVING_REL * before and fall >= IMPROVING_ABS * chance
                and fall > NOISE_SIGMAS * standard_error)
    # with whole epochs, the recent loss is the same window's mean the accuracy is quoted over
    latest = f"{now:.3g}" if n >= 3 else f"{now:.3g} over {unit}"
    return bool(material and val_ok), f"the loss still fell from {before:.3g} to {now:.3g} over {unit}", latest


def _noise(values: np.ndarray) -> float:
    """The noise of one value around the trend: epoch-to-epoch differences cancel a steady trend,
    and the difference of two independent noisy values has sqrt(2) times their spread."""
    return float(np.std(np.diff(values))) / math.sqrt(2) if len(values) > 2 else 0.0


def _lower_lr(lr: float | None) -> str:
    tenfold = "about tenfold" if lr is None else f"about tenfold (from {lr:g} to {lr / 10:g})"
    return (f"Steps this large overshoot the minimum and land somewhere worse: lower the learning rate "
            f"{tenfold}, or use Adam, batch norm or smaller initial weights.")


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")

