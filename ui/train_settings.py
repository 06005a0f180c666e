"""The Train page's settings: one frozen dataclass, its defaults per kind of data, and its link.

    Settings      every knob of the page; each field is a setting of nn/settings.py's table
    defaults_for  the recipe a first run on a dataset should use
    from_query    settings from a link's query parameters, each checked by the table (bad -> default + warning)
    to_query      the query parameters that give the same Settings back (only what differs from the defaults)

What each knob accepts (and its label and help) lives in nn/settings.py only: the link, the
widgets (ui/train_sidebar.py) and ``python -m nn.train`` all take exactly the values it allows.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from nn.data import CLASS_RANGE, IMAGE_DATASETS
from nn.features import DEFAULT_FEATURES
from nn.model import ModelConfig
from nn.settings import DATASET_NAMES, SETTINGS
from nn.train import TrainConfig


@dataclass(frozen=True)
class Settings:
    """Everything the learner can set on the Train page (the learning rate also during a run)."""

    dataset: str = "spirals"
    n_points: int = 600            # toy sets only
    noise: float = 0.1
    val_share: float = 0.2
    n_classes: int = 2             # spirals and blobs only
    features: tuple[str, ...] = DEFAULT_FEATURES   # 2-D data only: what the network is fed per point
    augment: bool = False          # digits only
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "tanh"
    init: str = "xavier"
    init_std: float = 0.01         # init "normal" only
    dropout: float = 0.0
    batchnorm: bool = False
    loss: str = "softmax_ce"
    optimizer: str = "adam"
    lr: float = 2e-4
    momentum: float = 0.9          # momentum, nesterov
    beta1: float = 0.9             # adam
    beta2: float = 0.999           # adam
    rho: float = 0.9               # rmsprop
    schedule: str = "constant"
    step_epochs: int = 50          # schedule "step"
    gamma: float = 0.5             # schedule "step"
    batch_size: int = 16
    epochs: int = 1000
    l2: float = 0.0
    seed: int = 0

    @property
    def is_images(self) -> bool:
        return self.dataset in IMAGE_DATASETS

    def run_identity(self) -> "Settings":
        """The part that defines a run: everything but the learning rate (that one is live)."""
        return replace(self, lr=0.0)


NAMES = tuple(f.name for f in fields(Settings))

# A first run should last long enough to be watched, about 30 s in the app on this project's 2-core
# machine, and end with nn.verdict's "learned". Measured in Chromium (Start until the verdict shows,
# the live views redrawing five times a second): spirals 32 s, the bundled digits 30 s; the old
# recipes (400 epochs at 0.02, 10 digit epochs) took 13 s and 9 s. A bare LiveRun polled for its
# status takes 13 s and 17 s: the live views cost the rest. On 2-D points Adam's small rate 2e-4
# makes the regions wrap around the spiral arms over the first ten seconds (80% right by epoch ~90,
# 95% by ~300) instead of in the first half second, and the curves settle by epoch ~700. The
# bundled digits train with augmentation (every batch distorted afresh), so the curves keep rising
# for the whole run and the saved network reads hand-drawn digits better on the Draw page; the full
# 60,000-image sets take about 3 s an epoch as they are, so 10 epochs without augmentation.
TOY_DEFAULTS = Settings()
IMAGE_DEFAULTS = replace(TOY_DEFAULTS, dataset="mnist-sample", hidden=(128, 64), activation="relu",
                         init="he", lr=1e-3, batch_size=64, epochs=20, step_epochs=5, augment=True)
FULL_IMAGE_EPOCHS = 10


def defaults_for(dataset: str) -> Settings:
    """The settings a first run on this dataset should use (the 'recipe' for its kind of data)."""
    if dataset in IMAGE_DATASETS:
        if dataset == IMAGE_DEFAULTS.dataset:
            return IMAGE_DEFAULTS
        return replace(IMAGE_DEFAULTS, dataset=dataset, augment=False, epochs=FULL_IMAGE_EPOCHS)
    return replace(TOY_DEFAULTS, dataset=dataset, n_classes=3 if dataset == "blobs" else 2)


def class_range(dataset: str) -> tuple[int, int]:
    """How many classes the learner may ask of this dataset (fixed for most)."""
    n = defaults_for(dataset).n_classes
    return CLASS_RANGE.get(dataset, (n, n))


def consistent(values: dict) -> tuple[Settings, list[str]]:
    """Settings from valid values of single knobs, with the combinations that cannot work undone
    (and a sentence for each): classes the dataset cannot have, augmentation of 2-D points, a
    one-output loss for more than two classes."""
    notes = []
    base = defaults_for(values.get("dataset", TOY_DEFAULTS.dataset))
    low, high = class_range(base.dataset)
    if "n_classes" in values and not low <= values["n_classes"] <= high:
        if low != high:
            notes.append(f"{DATASET_NAMES[base.dataset]} have {low} to {high} classes, not "
                         f"{values['n_classes']}: using {base.n_classes}.")
        del values["n_classes"]
    s = replace(base, **values)
    if s.augment and not s.is_images:
        s = replace(s, augment=False)
        notes.append("Augmentation applies to digit images only: turned off.")
    if s.features != DEFAULT_FEATURES and s.is_images:
        s = replace(s, features=DEFAULT_FEATURES)
        notes.append("Input features (x₁², sin x₁, ...) apply to 2-D points only: the network reads the pixels.")
    if s.loss == "sigmoid_bce" and n_classes(s) != 2:
        s = replace(s, loss="softmax_ce")
        notes.append("Binary cross-entropy (one output) needs exactly 2 classes: using softmax cross-entropy.")
    return s, notes


def n_classes(s: Settings) -> int:
    return 10 if s.is_images else s.n_classes


BY_KEY = {SETTINGS[name].url_key: SETTINGS[name] for name in NAMES}


def from_query(params: dict[str, str]) -> tuple[Settings, list[str]]:
    """Settings from query parameters (as ``st.query_params.to_dict()`` gives them).

    Missing values take the defaults of the chosen dataset; a value that cannot be used falls
    back to that default and adds a warning (plain text: it quotes the link) for the page to show.
    Never raises.
    """
    warnings, values = [], {}
    for key, text in params.items():
        setting = BY_KEY.get(key)
        if setting is None:
            continue                     # another page's (or Streamlit's) parameter
        try:
            values[setting.name] = setting.parse(text)
        except ValueError:
            warnings.append(f"'{key}={str(text)[:80]}' in the link is not valid ({setting.label} must be "
                            f"{setting.rule()}): using the default instead.")
    settings, notes = consistent(values)
    return settings, warnings + notes


def to_query(settings: Settings) -> dict[str, str]:
    """The query parameters that give back ``settings`` through from_query (defaults left out)."""
    base = defaults_for(settings.dataset)
    query = {SETTINGS["dataset"].url_key: settings.dataset}
    for name in NAMES:
        value = getattr(settings, name)
        if name != "dataset" and value != getattr(base, name):
            query[SETTINGS[name].url_key] = SETTINGS[name].text(value)
    return query


def n_inputs(settings: Settings, n_features: int) -> int:
    """How many numbers the network reads per sample: the chosen input features of a 2-D point
    (nn.features), or every pixel of an image (``n_features``, the data's own width)."""
    return n_features if settings.is_images else len(settings.features)


def architecture(settings: Settings, n_features: int, n_classes: int) -> tuple[str, int]:
    """('784 → 128 → 64 → 10', number of trainable parameters) without building the model.
    ``n_features`` is the data's own width (2 for points: see ``n_inputs``)."""
    config = model_config(settings, n_features, n_classes)
    sizes = [config.input_dim, *settings.hidden, config.output_dim]
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if settings.batchnorm:
        n += 2 * sum(settings.hidden)          # gamma and beta per hidden unit
    return config.shape, n


def model_config(settings: Settings, n_features: int, n_classes: int) -> ModelConfig:
    """The network of ``settings`` for data ``n_features`` wide (2 for points, 784 for digits)."""
    return ModelConfig(input_dim=n_inputs(settings, n_features), output_dim=1 if settings.loss == "sigmoid_bce" else n_classes,
                       **{f.name: getattr(settings, f.name) for f in fields(ModelConfig)
                          if f.name not in ("input_dim", "output_dim")})


def train_config(settings: Settings) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(settings, f.name) for f in fields(TrainConfig)})


PICTURE_MAX_LAYERS, PICTURE_MAX_WIDTH = 6, 16     # the largest network the network picture draws


def why_no_picture(settings: Settings) -> str | None:
    """None when the network picture (every neuron over the input plane) can be drawn for these
    settings, else the sentence that says why not."""
    if settings.is_images:
        return ("The network picture draws every neuron's output over the plane of 2-D points; a digit "
                "network reads 784 pixels, so look at 'What neurons look for' instead.")
    if len(settings.hidden) > PICTURE_MAX_LAYERS:
        return (f"The network picture is hidden: this network has {len(settings.hidden)} hidden layers, and "
                f"the picture draws at most {PICTURE_MAX_LAYERS} (more would be too small to read). Use fewer "
                "layers to see every neuron.")
    if settings.hidden and max(settings.hidden) > PICTURE_MAX_WIDTH:
        return (f"The network picture is hidden: a layer of {max(settings.hidden)} neurons is too many to "
                f"draw readably (at most {PICTURE_MAX_WIDTH} a layer, {PICTURE_MAX_WIDTH * PICTURE_MAX_WIDTH} "
                f"links between two layers). Use {PICTURE_MAX_WIDTH} neurons or fewer per layer to see every "
                "neuron.")
    return None
