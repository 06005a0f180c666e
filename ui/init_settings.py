"""The Weight-init page's settings: one frozen dataclass, the table of what each knob accepts, and
the link that holds them.

    InitSettings     every knob of the page: the experiment, and how it is viewed
    SETTINGS         name -> nn.settings.Setting (label, help, allowed values, URL key), written once here
    from_query       settings from a link's query parameters (a bad value -> its default and a warning)
    to_query         the query parameters that give the same settings back (defaults left out)
    widget_values    the session-state value of every widget of the page for some settings
    restore / apply  fill the page's widgets from a link, from the last settings, or from a past run
    link             the query parameters to write, remembered (a link that differs came from elsewhere)

The initialisation is one radio of five choices (std 1, std 0.01, Xavier, He, custom std); in the
link it is written as the Train page writes it: ``init=normal&std=0.05``, ``init=he``.
No streamlit here: the page passes ``st.session_state`` and ``st.query_params.to_dict()`` in.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping, MutableMapping

from nn.initexp import STANDARD_INITS, ExperimentConfig, InitChoice
from nn.settings import Setting

ACTIVATION_NAMES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "leaky ReLU"}
CUSTOM = "custom std"
INIT_LABELS = tuple(c.label for c in STANDARD_INITS) + (CUSTOM,)      # the radio's five choices
STD_STEPS = (0.001, 0.002, 0.003, 0.005, 0.007, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.14, 0.2, 0.3,
             0.5, 0.7, 1.0, 2.0, 3.0, 5.0, 10.0)     # log-spaced: each step about x1.5-2
CUSTOM_STD = 0.1                                      # where the custom slider starts
DEFAULT_STD = 1.0
VIEWS = {"one": "One initialisation", "compare": "Compare std 1, std 0.01, Xavier, He"}

SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("activation", str, "Activation", choices=tuple(ACTIVATION_NAMES), names=ACTIVATION_NAMES, url="act",
            help="The function after each layer. Sigmoid and tanh saturate at their limits; ReLU zeroes "
                 "every negative input."),
    Setting("init", str, "Initialisation (std of the random weights)", choices=("normal", "xavier", "he"),
            help="How spread out the random starting weights are. std 1 and std 0.01 are the classic bad "
                 "choices; Xavier scales by √(1/n) and He by √(2/n), n = inputs per unit."),
    Setting("std", float, "Custom weight std (log scale)", low=0.0, high=10.0, low_open=True, grid=STD_STEPS,
            help="Every weight is drawn from a normal distribution with this std."),
    Setting("n_layers", int, "Layers", low=1, high=10, step=1, url="layers",
            help="How many layers the signal passes through: each one can shrink or grow it."),
    Setting("units", int, "Units per layer", low=10, high=300, grid=tuple(range(10, 301, 10)),
            help="Inputs per unit (n) in every layer but the first: the right weight spread depends on it."),
    Setting("batchnorm", bool, "Batch norm", url="bn",
            help="Insert a batch-norm layer between each Dense layer and its activation."),
    Setting("seed", int, "Seed", low=0, high=2**31 - 1,
            help="Draws the inputs, the weights and the backward signal."),
    Setting("view", str, "View", choices=tuple(VIEWS), names=VIEWS,
            help="One initialisation in detail, or the four classic ones side by side."),
    Setting("grid", str, "Grid shows", choices=("activations", "gradients"),
            help="Forward: what each layer outputs. Backward: the gradient arriving at each layer."),
)}

# the widget holding each setting ("init" and "std" share the radio and the custom slider)
KEYS = {"activation": "wi_act", "init": "wi_init", "std": "wi_std", "n_layers": "wi_layers", "units": "wi_units",
        "batchnorm": "wi_bn", "seed": "wi_seed", "view": "wi_view", "grid": "wi_grid_kind"}
SETTINGS_KEY = "wi_settings"        # the last settings, kept in the session while widgets come and go
LINK_KEY = "wi_link"                # the query parameters the page last wrote


@dataclass(frozen=True)
class InitSettings:
    """Everything the learner can set on the Weight-init page. The defaults are the classic
    experiment: 5 layers of 100 sigmoid units, weights drawn with std 1."""

    activation: str = "sigmoid"
    init: str = "normal"
    std: float = DEFAULT_STD      # init "normal" only
    n_layers: int = 5
    units: int = 100
    batchnorm: bool = False
    seed: int = 0
    view: str = "one"
    grid: str = "activations"     # compare view only

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, SETTINGS[f.name].check(getattr(self, f.name)))
        if self.init != "normal":
            object.__setattr__(self, "std", DEFAULT_STD)      # one way to write Xavier and He

    @property
    def compare(self) -> bool:
        return self.view == "compare"

    @property
    def init_label(self) -> str:
        """The radio's choice: one of INIT_LABELS."""
        for c in STANDARD_INITS:
            if c.init == self.init and (c.init != "normal" or c.std == self.std):
                return c.label
        return CUSTOM

    @property
    def choice(self) -> InitChoice:
        """The initialisation as nn.initexp takes it (a custom std is labelled "std 0.05")."""
        label = self.init_label
        if label == CUSTOM:
            return InitChoice(f"std {self.std:g}", "normal", self.std)
        return next(c for c in STANDARD_INITS if c.label == label)

    def experiment(self) -> ExperimentConfig:
        c = self.choice
        return ExperimentConfig(activation=self.activation, init=c.init, std=c.std, n_layers=self.n_layers,
                                units=self.units, batchnorm=self.batchnorm, seed=self.seed)

    def training_inits(self) -> tuple[InitChoice, ...]:
        """What "Does it train?" trains: the four classic initialisations, plus a custom std when
        one is chosen in the one-initialisation view (the compare view shows the four only)."""
        if self.init_label == CUSTOM and not self.compare:
            return STANDARD_INITS + (self.choice,)
        return STANDARD_INITS

    def training_key(self) -> tuple:
        """What makes two "Does it train?" runs the same experiment."""
        return (self.activation, self.n_layers, self.units, self.batchnorm, self.seed,
                tuple(c.label for c in self.training_inits()))

    def training_facts(self) -> dict[str, str]:
        """The same, in words, by name: what a run is labelled by when it differs from another."""
        extra = [c.label for c in self.training_inits()[len(STANDARD_INITS):]]
        return {"activation": ACTIVATION_NAMES[self.activation],
                "layers": f"{self.n_layers} layer" + ("s" if self.n_layers > 1 else ""),
                "units": f"{self.units} units", "batch norm": "batch norm" if self.batchnorm else "no batch norm",
                "seed": f"seed {self.seed}", "custom": f"+ {extra[0]}" if extra else "no custom std"}


DEFAULTS = InitSettings()
BY_URL_KEY = {s.url_key: s for s in SETTINGS.values()}


def from_query(params: Mapping[str, str]) -> tuple[InitSettings, list[str]]:
    """Settings from a link's query parameters (as ``st.query_params.to_dict()`` gives them).

    Missing values take their defaults; a value that cannot be used falls back to its default
    and adds a warning (to be shown as plain text: it quotes the link). Unknown keys are ignored.
    Never raises."""
    values, warnings = {}, []
    for key, text in params.items():
        setting = BY_URL_KEY.get(key)
        if setting is None:
            continue
        try:
            values[setting.name] = setting.parse(text)
        except ValueError:
            warnings.append(f"'{key}={str(text)[:80]}' in the link is not valid ({setting.label} must be "
                            f"{setting.rule()}): using the default instead.")
    if "std" in values and values.get("init", "normal") != "normal":
        warnings.append(f"'std' in the link applies to init=normal only, not init={values['init']}: ignored.")
    return replace(DEFAULTS, **values), warnings


def to_query(settings: InitSettings) -> dict[str, str]:
    """The query parameters that give back ``settings`` through from_query (defaults left out)."""
    query = {}
    for f in fields(InitSettings):
        value = getattr(settings, f.name)
        if value != getattr(DEFAULTS, f.name):
            query[SETTINGS[f.name].url_key] = SETTINGS[f.name].text(value)
    return query


def widget_values(s: InitSettings) -> dict:
    """The session-state value of every widget of the page for settings ``s``."""
    values = {KEYS[f.name]: getattr(s, f.name) for f in fields(InitSettings)}
    values[KEYS["init"]] = s.init_label
    values[KEYS["std"]] = s.std if s.init_label == CUSTOM else CUSTOM_STD
    return values


def from_widgets(state: Mapping) -> InitSettings:
    """The settings the page's widgets now show."""
    values = {name: state[key] for name, key in KEYS.items() if name not in ("init", "std")}
    label = state[KEYS["init"]]
    if label == CUSTOM:
        return InitSettings(init="normal", std=float(state[KEYS["std"]]), **values)
    choice = next(c for c in STANDARD_INITS if c.label == label)
    return InitSettings(init=choice.init, std=choice.std if choice.std is not None else DEFAULT_STD, **values)


def restore(state: MutableMapping, query: Mapping[str, str]) -> list[str]:
    """Call before drawing the widgets. The settings come from the link on the first visit of a
    session, and whenever the link says something other than what the page last wrote into it
    (another page sent the learner here with settings); its warnings are returned. Otherwise any
    widget Streamlit forgot (after a visit to another page, or the custom slider while hidden)
    gets its value back from the last settings."""
    ours = {k: v for k, v in query.items() if k in BY_URL_KEY}
    if SETTINGS_KEY not in state or (ours and ours != state.get(LINK_KEY)):
        settings, warnings = from_query(query)
        apply(state, settings)
        return warnings
    for key, value in widget_values(state[SETTINGS_KEY]).items():
        if key not in state:
            state[key] = value
    return []


def link(state: MutableMapping, settings: InitSettings) -> dict[str, str]:
    """The query parameters for ``settings``, remembered as what the page wrote into the link."""
    state[LINK_KEY] = to_query(settings)
    return dict(state[LINK_KEY])


def apply(state: MutableMapping, settings: InitSettings) -> None:
    """Set every widget to ``settings`` (a past run's, say); for a button's callback, which runs
    before the widgets are drawn."""
    state.update(widget_values(settings))
    state[SETTINGS_KEY] = settings
