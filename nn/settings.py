"""Every setting of a training run, written down once.

Each :class:`Setting` holds a knob's name, the values it may take, its label and its help text.
Everything that takes a setting is built from this one table, so they cannot drift apart:

    the Train page's widgets        ui/widgets.py            (label, help, choices and their names, steps)
    the Train page's URL            ui/train_settings.py     (``Setting.parse`` / ``Setting.text``)
    lessons and teachers' links     ui/lessons.py            (which settings a link locks, by label)
    ``python -m nn.train``'s flags   nn/cli.py                (``Setting.parse`` as the argparse type)
    TrainConfig and ModelConfig      nn/train.py, nn/model.py (``check``)

A value is valid when it is one of ``choices``, or a number in ``[low, high]`` (``(low, high]``
with ``low_open``). ``grid`` is only the steps a slider offers: a valid value between two steps
(``?lr=0.03`` in a link, ``--lr 0.03`` on the command line) is accepted everywhere, and the slider
shows it among its steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .data import IMAGE_DATASETS, TOY_DATASETS
from .features import FEATURES, LABELS
from .init import INITS
from .layers import ACTIVATIONS
from .losses import LOSSES
from .optim import OPTIMIZERS, SCHEDULES


@dataclass(frozen=True)
class Setting:
    """One knob: what it is called, what it accepts, and what it means.

    kind      int, float, str, bool, or tuple: layer widths ("16,16"), or with ``choices`` several
              of them, each at most once ("x1,x2,x1*x2"), kept in the order of ``choices``
    choices   the allowed values of a str setting (one of them) or of a tuple setting (one or more),
              with ``names`` as their human names
    low/high  the inclusive range of a number (of each width, for "hidden")
    grid      the steps a slider offers (select slider); ``step`` those of a plain slider
    url/flag  its key in a link and its command-line flag (default: derived from ``name``)
    """

    name: str
    kind: type
    label: str
    help: str
    choices: tuple = ()
    names: dict = field(default_factory=dict)
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    grid: tuple = ()
    step: float | None = None
    url: str = ""
    flag: str = ""

    @property
    def url_key(self) -> str:
        return self.url or self.name

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def name_of(self, choice) -> str:
        """A choice's human name ("Adam" for "adam"); the choice itself when it has none."""
        return self.names.get(choice, str(choice))

    @property
    def several(self) -> bool:
        """True for a setting whose value is one or more of its choices (a tuple of names)."""
        return self.kind is tuple and bool(self.choices)

    def rule(self) -> str:
        """What is allowed, in words: "a number in [0, 0.9]"."""
        if self.kind is bool:
            return "1 or 0 (true or false)"
        if self.kind is str:
            return "one of " + ", ".join(self.choices)
        if self.several:
            return "one or more of " + ", ".join(self.choices) + ", comma-separated, each at most once"
        bracket = "(" if self.low_open else "["
        interval = f"{bracket}{self.low:g}, {self.high:g}]"
        if self.kind is tuple:
            return (f"up to {MAX_LAYERS} comma-separated layer widths, each a whole number in {interval}, "
                    f"or none")
        return f"{'a whole number' if self.kind is int else 'a number'} in {interval}"

    def check(self, value):
        """``value`` if it is allowed (ints given as 3.0 become 3), else ValueError naming the rule."""
        if self.kind is bool:
            if isinstance(value, bool):
                return value
        elif self.kind is str:
            if value in self.choices:
                return value
        elif self.several:
            names = tuple(value) if isinstance(value, (tuple, list)) else ()
            if names and len(set(names)) == len(names) and all(n in self.choices for n in names):
                return tuple(c for c in self.choices if c in names)
        elif self.kind is tuple:
            widths = tuple(value)
            if len(widths) <= MAX_LAYERS and all(self._in_range(w, whole=True) for w in widths):
                return tuple(int(w) for w in widths)
        elif self._in_range(value, whole=self.kind is int):
            return int(value) if self.kind is int else float(value)
        raise ValueError(f"{self.name} must be {self.rule()}, got {value!r}")

    def _in_range(self, value, whole: bool) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if whole and value != int(value):
            return False
        above_low = value > self.low if self.low_open else value >= self.low
        return above_low and value <= self.high

    def parse(self, text: str):
        """The value written as ``text`` (in a link or on the command line), or ValueError."""
        text = str(text).strip()
        if self.kind is bool:
            word = text.lower()
            if word in ("1", "true", "yes", "on"):
                return True
            if word in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{self.name} must be {self.rule()}, got {text!r}")
        if self.kind is str:
            return self.check(text)
        if self.several:
            try:
                return self.check(tuple(t.strip() for t in text.split(",")))
            except ValueError:
                raise ValueError(f"{self.name} must be {self.rule()}, got {text!r}") from None
        if self.kind is tuple:
            if text.lower() in ("", "none", "0"):
                return ()
            try:
                return self.check(tuple(int(t) for t in text.split(",")))
            except ValueError:
                raise ValueError(f"{self.name} must be {self.rule()}, got {text!r}") from None
        try:
            return self.check(float(text))
        except ValueError:
            raise ValueError(f"{self.name} must be {self.rule()}, got {text!r}") from None

    def text(self, value) -> str:
        """How ``value`` is written in a link (``parse(text(v)) == v``)."""
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, tuple):
            return ",".join(map(str, value)) or "none"
        if isinstance(value, float):
            return repr(value) if float(f"{value:g}") != value else f"{value:g}"
        return str(value)

    def options(self, current) -> tuple:
        """The steps a select slider offers: the grid, plus ``current`` in its place if it is off-grid
        (the choices, for a setting of several)."""
        if self.several:
            return self.choices
        if current in self.grid or current is None:
            return self.grid
        return tuple(sorted({*self.grid, current}))


MAX_LAYERS = 8

# Short enough to show whole in the Train sidebar's selectbox (about 26 characters at most);
# the help text and the Home page say the rest (how many images, what is bundled).
DATASET_NAMES = {"xor": "XOR (four quadrants)", "spirals": "Spirals", "moons": "Two moons",
                 "circles": "Circles (ring and disc)", "blobs": "Gaussian blobs",
                 "mnist-sample": "MNIST digits (10k sample)",
                 "mnist": "MNIST digits (all 70k)",
                 "fashion-mnist": "Fashion-MNIST (clothes)"}

_SETTINGS = (
    # ----- data
    Setting("dataset", str, "Dataset", choices=TOY_DATASETS + IMAGE_DATASETS, names=DATASET_NAMES, url="data",
            help="2-D points show the decision regions as they form; digits show which digits get "
                 "confused and what neurons look for. The 10k sample of MNIST digits is bundled and works "
                 "offline; all 70,000 MNIST digits and Fashion-MNIST's clothes are downloaded once."),
    Setting("n_points", int, "Number of points", low=4, high=20_000, url="n", flag="--n-samples",
            grid=(4, 50, 100, 200, 300, 400, 500, 600, 800, 1000, 1500, 2000, 3000, 5000, 10_000, 20_000),
            help="Points in a 2-D dataset. More points outline the shape better and make overfitting harder."),
    Setting("noise", float, "Noise", low=0.0, high=1.0, step=0.01,
            help="How far points stray from the clean shape: noisy classes overlap, and no boundary "
                 "can get them all right."),
    Setting("val_share", float, "Validation share", low=0.05, high=0.9, step=0.05, url="val",
            flag="--val-fraction",
            help="Points held out from training. The network never learns from them, so they show "
                 "how well it does on new data."),
    Setting("n_classes", int, "Classes", low=2, high=6, url="classes", flag="--classes",
            help="How many groups to tell apart (spirals: 2-5, blobs: 2-6); more classes need a bigger network."),
    Setting("features", tuple, "Input features", choices=FEATURES, names=LABELS,
            help="What the network is fed for each 2-D point: the coordinates x₁ and x₂, and if you like "
                 "their squares, their product and their sines. A good feature can replace a hidden layer: "
                 "with x₁² and x₂² a net with no hidden layer at all separates the circles, and x₁·x₂ "
                 "alone separates XOR's quadrants. 2-D data only."),
    Setting("augment", bool, "Augment digits",
            help="Train on randomly shifted, rotated, thickened and warped copies of each digit: "
                 "slower to fit, but better on digits drawn by hand (the Draw page)."),
    # ----- network
    Setting("hidden", tuple, "Hidden layers", low=1, high=2048, url="layers",
            grid=(1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768,
                  1024, 1536, 2048),
            help="Neurons in each hidden layer. No hidden layer gives a linear classifier (straight "
                 "boundaries only); every hidden layer can bend the boundary further, and wider layers "
                 "draw more detailed boundaries but are slower and overfit more easily."),
    Setting("activation", str, "Activation", choices=ACTIVATIONS, url="act",
            names={"relu": "ReLU", "leaky_relu": "Leaky ReLU", "sigmoid": "Sigmoid", "tanh": "tanh"},
            help="The bend after each layer. ReLU learns fast but units can die (output 0 forever); "
                 "tanh and sigmoid saturate, and gradients vanish through many layers."),
    Setting("init", str, "Initialisation", choices=INITS,
            names={"normal": "Normal, fixed spread", "xavier": "Xavier (Glorot)", "he": "He (Kaiming)"},
            help="How the random starting weights are scaled. He suits ReLU, Xavier suits tanh/sigmoid; "
                 "too small and the signal fades, too big and it explodes."),
    Setting("init_std", float, "Initial weight spread (std)", low=0.0, high=10.0, low_open=True, url="std",
            grid=(0.001, 0.01, 0.1, 1.0),
            help="The standard deviation of every starting weight (Normal initialisation only). Try "
                 "0.001 with many layers to see gradients vanish."),
    Setting("dropout", float, "Dropout", low=0.0, high=0.9, step=0.05,
            help="Share of hidden units switched off at random in each training batch: fights "
                 "overfitting, but makes the training curve noisier and slower."),
    Setting("batchnorm", bool, "Batch normalisation", url="bn",
            help="Re-centre and re-scale each layer's outputs over the batch: deep networks train "
                 "faster and tolerate larger learning rates."),
    Setting("loss", str, "Loss", choices=LOSSES,
            names={"softmax_ce": "Softmax cross-entropy", "mse": "Mean squared error",
                   "sigmoid_bce": "Binary cross-entropy"},
            help="What the network is punished for. Cross-entropy is made for classes and learns fast "
                 "when it is badly wrong; squared error learns slowly there; binary cross-entropy gives "
                 "a 2-class problem a single sigmoid output neuron, as in the classic XOR net."),
    # ----- training
    Setting("optimizer", str, "Optimiser", choices=OPTIMIZERS, url="opt",
            names={"sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov momentum",
                   "adagrad": "AdaGrad", "rmsprop": "RMSprop", "adam": "Adam"},
            help="How gradients turn into weight updates. Adam adapts each weight's step size and is "
                 "the forgiving choice; plain SGD needs a well-chosen rate."),
    Setting("lr", float, "Learning rate", low=0.0, high=10.0, low_open=True,
            grid=(1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05,
                  0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
            help="How big a step each update takes. Too small: learning crawls. Too big: the loss "
                 "jumps around or explodes. It can be changed while the network trains."),
    Setting("momentum", float, "Momentum", low=0.0, high=0.99, step=0.01,
            help="How much of the previous step carries over (momentum and Nesterov): speeds up along "
                 "consistent directions, overshoots when too high."),
    Setting("beta1", float, "β1 (momentum of the gradient)", low=0.0, high=0.99, step=0.01,
            help="Adam's averaging of gradients over steps; lower reacts faster but is noisier."),
    Setting("beta2", float, "β2 (memory of squared gradients)", low=0.9, high=0.9999,
            grid=(0.9, 0.99, 0.995, 0.999, 0.9999),
            help="How long Adam remembers gradient sizes to scale each step; 0.999 is usual."),
    Setting("rho", float, "ρ (memory of squared gradients)", low=0.0, high=0.99, step=0.01,
            help="How long RMSprop remembers gradient sizes to scale each step."),
    Setting("schedule", str, "Learning-rate schedule", choices=SCHEDULES,
            names={"constant": "Constant", "step": "Drop every few epochs", "cosine": "Cosine, down to 1%"},
            help="Constant keeps the rate; dropping multiplies it by γ every few epochs; cosine lowers it "
                 "smoothly to 1% by the last epoch. Smaller steps late in training settle into a minimum."),
    Setting("step_epochs", int, "Drop every (epochs)", low=1, high=1000, url="step",
            help="How many epochs between two drops of the learning rate (step schedule)."),
    Setting("gamma", float, "γ (multiply by)", low=0.05, high=1.0, step=0.05,
            help="The factor applied at each drop of the step schedule: 0.5 halves the rate."),
    Setting("batch_size", int, "Batch size", low=1, high=8192, url="batch",
            grid=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
            help="Samples per weight update. Small batches: many noisy steps; large batches: fewer, "
                 "smoother steps that each cost more."),
    Setting("epochs", int, "Epochs", low=1, high=10_000,
            help="Passes over the whole training set before training stops."),
    Setting("l2", float, "L2 weight decay", low=0.0, high=1.0, grid=(0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0),
            help="A penalty on large weights: smoother boundaries and less overfitting; too much and "
                 "the network cannot fit the data."),
    Setting("seed", int, "Seed", low=0, high=2**32 - 1,
            help="Same seed, same points, same starting weights, same batch order: the run can be "
                 "repeated exactly. Change it to see how much luck matters."),
)

SETTINGS: dict[str, Setting] = {s.name: s for s in _SETTINGS}


def check(name: str, value):
    """``SETTINGS[name].check(value)``: the value if allowed, else a ValueError naming the rule."""
    return SETTINGS[name].check(value)
