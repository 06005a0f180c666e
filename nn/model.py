"""The multi-layer perceptron: built from a plain config, trained by forward + backward.

    x -> Dense -> [BatchNorm] -> activation -> [Dropout] -> ... -> Dense -> scores -> loss

Saved as an ``.npz`` file holding every array under a flat dotted key (``layers.0.W``) plus
the config as a JSON string, and loaded with ``allow_pickle=False``: opening a model file
can never run code.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes, write_json
from .layers import BatchNorm, Dense, Dropout, Layer, make_activation
from .losses import make_loss
from .settings import check

FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be used: missing, corrupt, truncated or mismatched."""


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines the architecture; plain values so it round-trips through JSON."""

    input_dim: int
    hidden: tuple[int, ...]
    output_dim: int
    activation: str = "relu"
    init: str = "he"
    init_std: float = 0.01          # used only by init="normal"
    dropout: float = 0.0
    batchnorm: bool = False
    loss: str = "softmax_ce"

    def __post_init__(self) -> None:
        if self.input_dim < 1 or self.output_dim < 1:
            raise ValueError(f"layer sizes must be >= 1, got input {self.input_dim}, output {self.output_dim}")
        # names, ranges and messages come from the one table of settings (nn/settings.py)
        for name in ("hidden", "activation", "init", "init_std", "dropout", "batchnorm", "loss"):
            object.__setattr__(self, name, check(name, getattr(self, name)))
        if self.loss == "sigmoid_bce" and self.output_dim != 1:
            raise ValueError("loss 'sigmoid_bce' needs output_dim 1 (one logit per sample)")

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        return cls(**d)


class MLP:
    """A fully connected network.

    After ``forward`` the output of every layer is kept in ``outputs`` (a list aligned with
    ``layers``), and after ``backward`` the gradient arriving at every layer's output in
    ``output_grads``: the Train and Weight-init pages plot them.
    """

    def __init__(self, config: ModelConfig, seed: int | np.random.Generator = 0,
                 dtype=np.float32) -> None:
        self.config = config
        self.dtype = np.dtype(dtype)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.dropout_rng = np.random.default_rng(rng.integers(2**63))
        self.layers: list[Layer] = []
        sizes = [config.input_dim, *config.hidden]
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            self.layers.append(Dense(fan_in, fan_out, rng, config.init, config.init_std, dtype))
            if config.batchnorm:
                self.layers.append(BatchNorm(fan_out, dtype=dtype))
            self.layers.append(make_activation(config.activation))
            if config.dropout > 0:
                self.layers.append(Dropout(config.dropout, self.dropout_rng))
        self.layers.append(Dense(sizes[-1], config.output_dim, rng, config.init,
                                 config.init_std, dtype))
        self.loss_fn = make_loss(config.loss)
        self.outputs: list[np.ndarray] = []
        self.output_grads: list[np.ndarray] = []
        self.meta: dict = {}

    # ----- forward and backward --------------------------------------------------------------
    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """scores : (N, output_dim) for x : (N, input_dim)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.config.input_dim:
            raise ValueError(f"expected input of shape (N, {self.config.input_dim}), got {x.shape}")
        self.outputs = []
        for layer in self.layers:
            x = layer.forward(x, train)
            self.outputs.append(x)
        return x

    def loss(self, scores: np.ndarray, y: np.ndarray, l2: float = 0.0) -> float:
        """The mean data loss of the batch plus the L2 penalty (l2 / 2) * sum of squared weights."""
        data_loss = self.loss_fn.forward(scores, y)
        if l2:
            data_loss += 0.5 * l2 * sum(float(np.vdot(d.params["W"], d.params["W"]))
                                        for d in self.dense_layers)
        return data_loss

    def backward(self, l2: float = 0.0, input_grad: bool = False) -> np.ndarray | None:
        """Backpropagate the last loss; fill every layer's ``grads``.

        The L2 penalty adds l2 * W to each dW. Returns dL/dx : (N, input_dim) when
        ``input_grad`` (for saliency maps and gradient checks), otherwise None.
        """
        dout = self.loss_fn.backward()
        grads = [dout]
        for layer in reversed(self.layers[1:]):
            dout = layer.backward(dout)
            grads.append(dout)
        dx = self.layers[0].backward(dout, need_dx=input_grad)
        self.output_grads = grads[::-1]
        if l2:
            for d in self.dense_layers:
                d.grads["W"] += d.params["W"].dtype.type(l2) * d.params["W"]
        return dx

    def train_step(self, x: np.ndarray, y: np.ndarray, l2: float = 0.0) -> tuple[float, np.ndarray]:
        """One forward + backward in training mode: returns (loss, scores) with grads filled."""
        scores = self.forward(x, train=True)
        loss = self.loss(scores, y, l2)
        self.backward(l2)
        return loss, scores

    # ----- inference -------------------------------------------------------------------------
    def predict_proba(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities (N, C) in inference mode (C = 2 for a single-output net)."""
        parts = [self.loss_fn.probabilities(self.forward(x[i:i + batch_size]))
                 for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.n_classes), self.dtype)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class labels (N,) int64."""
        return self.predict_proba(x).argmax(axis=1).astype(np.int64)

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 4096) -> tuple[float, float]:
        """(mean loss, accuracy) over a whole set, in inference mode."""
        total, correct = 0.0, 0
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            scores = self.forward(xb)
            total += self.loss_fn.forward(scores, yb) * len(xb)
            correct += int(np.sum(self.loss_fn.probabilities(scores).argmax(axis=1) == yb))
        return total / max(len(x), 1), correct / max(len(x), 1)

    def input_gradient(self, x: np.ndarray, cls: int) -> np.ndarray:
        """d score[cls] / d x : (N, input_dim): which input pixels push class ``cls`` up."""
        scores = self.forward(x)
        dout = np.zeros_like(scores)
        dout[:, cls] = 1
        for layer in reversed(self.layers[1:]):
            dout = layer.backward(dout)
        return self.layers[0].backward(dout, need_dx=True)

    # ----- structure -------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return 2 if self.config.output_dim == 1 else self.config.output_dim

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def params(self) -> dict[str, np.ndarray]:
        """Every trainable array under a flat key such as ``layers.0.W`` (live references)."""
        return {f"layers.{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.params.items()}

    def grads(self) -> dict[str, np.ndarray]:
        """The gradients, keyed like ``params()``."""
        return {f"layers.{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.grads.items()}

    def state(self) -> dict[str, np.ndarray]:
        """Parameters plus non-trainable state (BatchNorm running statistics)."""
        s = self.params()
        for i, layer in enumerate(self.layers):
            if isinstance(layer, BatchNorm):
                s[f"layers.{i}.running_mean"] = layer.running_mean
                s[f"layers.{i}.running_var"] = layer.running_var
        return s

    @property
    def n_params(self) -> int:
        return int(sum(p.size for p in self.params().values()))

    def describe(self) -> str:
        """One line per layer, e.g. for the CLI and the pages."""
        return " -> ".join(repr(layer) for layer in self.layers)

    def copy(self, dtype=None) -> "MLP":
        """An independent copy (same weights, same running statistics), optionally in
        another dtype: ``model.copy(np.float64)`` for a gradient check."""
        other = MLP(self.config, seed=0, dtype=self.dtype if dtype is None else dtype)
        mine = self.state()
        for key, value in other.state().items():
            value[...] = mine[key]
        other.meta = dict(self.meta)
        return other

    # ----- files -----------------------------------------------------------------------------
    def save(self, path: str | Path, meta: dict | None = None) -> Path:
        """Write the model to ``path`` (.npz) atomically: a crash mid-save leaves any old file."""
        path = Path(path)
        meta = dict(self.meta if meta is None else meta)
        arrays = {k: np.ascontiguousarray(v) for k, v in self.state().items()}
        arrays["config"] = np.array(json.dumps(asdict(self.config)))
        arrays["meta"] = np.array(json.dumps(meta))
        arrays["format_version"] = np.array(FORMAT_VERSION)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def save_with_card(self, path: str | Path, card: dict) -> Path:
        """Save to ``path`` (.npz) with ``card`` as its metadata, and the same card as readable JSON
        beside it (``path`` with .json): what it is, how it was trained, how well it does."""
        path = self.save(path, meta=card)
        write_json(path.with_suffix(".json"), card)
        return path

    @classmethod
    def load(cls, path: str | Path, expect_input_dim: int | None = None,
             expect_output_dim: int | None = None) -> "MLP":
        """Read a model saved by ``save``. Anything wrong raises ModelFileError naming it."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise ModelFileError(f"{path.name}: not a readable model file (corrupt or truncated?): {e}") from e
        for key in ("config", "format_version"):
            if key not in arrays:
                raise ModelFileError(f"{path.name}: missing '{key}', so it is not a model saved by nn")
        if int(arrays["format_version"]) != FORMAT_VERSION:
            raise ModelFileError(f"{path.name}: format version {int(arrays['format_version'])}, "
                                 f"this code reads version {FORMAT_VERSION}")
        try:
            config = ModelConfig.from_dict(json.loads(str(arrays["config"])))
        except (ValueError, TypeError) as e:
            raise ModelFileError(f"{path.name}: invalid model config: {e}") from e
        for name, want, have in (("input", expect_input_dim, config.input_dim),
                                 ("output", expect_output_dim, config.output_dim)):
            if want is not None and want != have:
                raise ModelFileError(f"{path.name}: model has {have} {name}s, expected {want}")
        model = cls(config, seed=0)
        for key, target in model.state().items():
            if key not in arrays:
                raise ModelFileError(f"{path.name}: missing array '{key}'")
            if arrays[key].shape != target.shape:
                raise ModelFileError(f"{path.name}: array '{key}' has shape {arrays[key].shape}, "
                                     f"expected {target.shape}")
            if not np.all(np.isfinite(arrays[key])):
                raise ModelFileError(f"{path.name}: array '{key}' holds NaN or infinite values")
            target[...] = arrays[key]
        extra = set(arrays) - set(model.state()) - {"config", "meta", "format_version"}
        if extra:
            raise ModelFileError(f"{path.name}: unexpected arrays {sorted(extra)} for this config")
        try:
            model.meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
        except ValueError as e:
            raise ModelFileError(f"{path.name}: invalid metadata: {e}") from e
        return model
