"""The multi-layer perceptron: built from a plain config, trained by forward + backward.

    x -> Dense -> [BatchNorm] -> activation -> [Dropout] -> ... -> Dense -> scores -> loss

Saved as an ``.npz`` file holding every array under a flat dotted key (``layers.0.W``) plus
the config as a JSON string, and read back without pickle: opening a model file can never run
code. Every size the file declares is checked before any array is read (``peek``, ``MLP.load``),
so a small file cannot claim gigabytes.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes, write_json
from .layers import BatchNorm, Dense, Dropout, Layer, make_activation
from .losses import make_loss
from .settings import MAX_LAYERS, check

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

    @property
    def shape(self) -> str:
        """The layer sizes as people write them: '784 → 128 → 64 → 10'."""
        return " → ".join(str(n) for n in (self.input_dim, *self.hidden, self.output_dim))

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

    def layer_places(self) -> list[str]:
        """Where each of ``self.layers`` sits, as the pages name it: "hidden layer 1" for the first Dense
        and what follows it up to the next Dense (its batch norm, activation, dropout), "hidden layer 2"...,
        "output layer" for the last Dense. One numbering for every view of the network."""
        n_dense, k, places = len(self.dense_layers), 0, []
        for layer in self.layers:
            k += isinstance(layer, Dense)
            places.append("output layer" if k == n_dense else f"hidden layer {k}")
        return places

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
        """Read a model saved by ``save``. Anything wrong raises ModelFileError naming it.

        Nothing is read before everything the file declares has been checked (as ``peek`` does);
        then the arrays are read one at a time into the new model's own, so loading costs the
        model plus its largest array, whatever the file claims.
        """
        path = Path(path)
        with _open_model_zip(path) as zf:
            info, layout = _inspect(path, zf, expect_input_dim, expect_output_dim)
            model = cls(info.config, seed=0)
            _load_arrays(path, zf, layout, model.state())
        model.meta = info.meta
        return model


# ----- reading model files ---------------------------------------------------------------------------
# A model file is untrusted input: anyone may upload one or save one from the app. Before a single
# array is read, everything the file declares is checked: the zip's directory, every array's shape
# and dtype (from its .npy header) against what its config implies, and the config against these
# bounds and the settings' (at most MAX_LAYERS hidden layers of at most 2048 units). So a small file
# cannot make the reader allocate more than the network it describes.
MAX_INPUT_DIM = 4096          # 64x64 images (MNIST has 784)
MAX_OUTPUT_DIM = 1000         # classes
MAX_TEXT_BYTES = 4_000_000    # the config and the metadata, each (stored as UTF-32: 1 million characters)
# The whole file and all its arrays together. The largest network within the bounds above
# (4096 -> 8 x 2048 -> 1000) has 39.9 million parameters: 160 MB as float32.
MAX_MODEL_BYTES = 200_000_000
_TEXT_KEYS = ("config", "meta")
_MAX_MEMBERS = 3 + 6 * (MAX_LAYERS + 1)      # config, meta, format_version; W, b, 4 BatchNorm arrays a layer
_MAX_DIRECTORY_BYTES = 1 << 20               # the zip's central directory (about 100 bytes a member)
_DEFLATE_MAX_RATIO = 1032                    # deflate cannot expand data more than this


@dataclass(frozen=True)
class ModelInfo:
    """What a model file holds, read without loading its arrays (``peek``).

    meta : the card saved with the model ({} if none); n_params : trainable parameters;
    file_bytes : the size of the file.
    """

    path: Path
    config: ModelConfig
    meta: dict
    n_params: int
    file_bytes: int


@dataclass(frozen=True)
class _Array:
    """One member of the zip as its .npy header declares it."""

    member: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    header_bytes: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def state_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The arrays a model of ``config`` saves (the keys of ``MLP.state()``) and their shapes,
    worked out without building the model."""
    shapes: dict[str, tuple[int, ...]] = {}
    sizes = [config.input_dim, *config.hidden]
    i = 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        shapes[f"layers.{i}.W"], shapes[f"layers.{i}.b"] = (fan_in, fan_out), (fan_out,)
        i += 1
        if config.batchnorm:
            for key in ("gamma", "beta", "running_mean", "running_var"):
                shapes[f"layers.{i}.{key}"] = (fan_out,)
            i += 1
        i += 1 + (config.dropout > 0)            # the activation, and Dropout if any: no arrays
    shapes[f"layers.{i}.W"], shapes[f"layers.{i}.b"] = (sizes[-1], config.output_dim), (config.output_dim,)
    return shapes


def peek(path: str | Path, expect_input_dim: int | None = None,
         expect_output_dim: int | None = None) -> ModelInfo:
    """The config and card of a model file, every bound checked, without reading its weights.

    Costs a few milliseconds and well under a megabyte whatever the file declares (it reads the zip
    directory, each array's .npy header, and the config and card), so a page can list many model
    files and load only the one chosen. A file ``peek`` accepts fails to ``MLP.load`` only if its
    array data is damaged (checksum) or holds NaN or infinity.
    Raises ModelFileError naming the file and the problem.
    """
    path = Path(path)
    with _open_model_zip(path) as zf:
        return _inspect(path, zf, expect_input_dim, expect_output_dim)[0]


def _unreadable(path: Path, e: BaseException) -> ModelFileError:
    return ModelFileError(f"{path.name}: not a readable model file (corrupt or truncated?): {e}")


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, struct.error, zlib.error,
               NotImplementedError)


@contextlib.contextmanager
def _open_model_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """The model file as an open ZipFile, its size and zip directory checked before zipfile reads
    them; a zip that fails while it is read raises ModelFileError too."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    with contextlib.ExitStack() as stack:
        try:
            f = stack.enter_context(open(path, "rb"))
            size = os.fstat(f.fileno()).st_size
            if size > MAX_MODEL_BYTES:
                raise ModelFileError(f"{path.name}: the file is {size / 1e6:,.0f} MB; a model file may be "
                                     f"at most {MAX_MODEL_BYTES / 1e6:,.0f} MB")
            members, directory = _zip_directory(f, size)
            if members > _MAX_MEMBERS:
                raise ModelFileError(f"{path.name}: the zip holds {members:,} members; a model file has at "
                                     f"most {_MAX_MEMBERS}")
            if directory > _MAX_DIRECTORY_BYTES:
                raise ModelFileError(f"{path.name}: the zip directory takes {directory:,} bytes; a model "
                                     f"file's takes a few kilobytes")
            zf = stack.enter_context(zipfile.ZipFile(f))
        except ModelFileError:
            raise
        except (*_ZIP_ERRORS, ValueError) as e:
            raise _unreadable(path, e) from e
        try:
            yield zf
        except _ZIP_ERRORS as e:
            raise _unreadable(path, e) from e


def _zip_directory(f, size: int) -> tuple[int, int]:
    """(members, bytes of the central directory) that the zip's end record declares, found as
    zipfile finds it; a zip64 end record (for archives over 4 GB or 65,535 members) is refused."""
    tail_bytes = min(size, 22 + 0xFFFF)                  # the end record, and a comment of up to 64 KB
    f.seek(size - tail_bytes)
    tail = f.read(tail_bytes)
    at = len(tail) - 22
    if at < 0 or tail[at:at + 4] != b"PK\x05\x06":
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("File is not a zip file")
    if at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":
        raise zipfile.LargeZipFile("a zip64 archive (over 4 GB or 65,535 members)")
    members, directory = struct.unpack("<HI", tail[at + 10:at + 16])
    return members, directory


def _inspect(path: Path, zf: zipfile.ZipFile, expect_input_dim: int | None,
             expect_output_dim: int | None) -> tuple[ModelInfo, dict[str, _Array]]:
    """Check everything ``zf`` declares (see the bounds above); return what it holds and where."""
    name = path.name
    arrays: dict[str, _Array] = {}
    declared = 0
    for member in zf.infolist():
        key = member.filename.removesuffix(".npy")
        if not member.filename.endswith(".npy") or key in arrays:
            raise ModelFileError(f"{name}: unexpected zip member {member.filename!r}: a model file holds "
                                 f"one .npy array per key")
        if member.flag_bits & 0x1:
            raise ModelFileError(f"{name}: '{key}' is encrypted")
        if member.compress_type == zipfile.ZIP_STORED:
            honest = member.file_size == member.compress_size
        elif member.compress_type == zipfile.ZIP_DEFLATED:
            honest = member.file_size <= _DEFLATE_MAX_RATIO * member.compress_size + 1024
        else:
            raise ModelFileError(f"{name}: '{key}' uses zip compression method {member.compress_type}; "
                                 f"model files are stored or deflated")
        if not honest:
            raise ModelFileError(f"{name}: '{key}' claims {member.file_size:,} bytes from "
                                 f"{member.compress_size:,} compressed ones, more than the format allows")
        declared += member.file_size
        if declared > MAX_MODEL_BYTES:
            raise ModelFileError(f"{name}: the arrays would take over {MAX_MODEL_BYTES / 1e6:,.0f} MB, the "
                                 f"limit for a model file")
        arrays[key] = _read_header(name, zf, member, key)
    for key in ("config", "format_version"):
        if key not in arrays:
            raise ModelFileError(f"{name}: missing '{key}', so it is not a model saved by nn")
    version = arrays["format_version"]
    if version.shape != () or version.dtype.kind not in "iu":
        raise ModelFileError(f"{name}: 'format_version' must be one integer, got {version.dtype} "
                             f"{version.shape}")
    found = int(_read_small(zf, version))
    if found != FORMAT_VERSION:
        raise ModelFileError(f"{name}: format version {found}, this code reads version {FORMAT_VERSION}")
    texts = {}
    for key in _TEXT_KEYS:
        if key not in arrays:
            continue
        a = arrays[key]
        if a.shape != () or a.dtype.kind != "U" or a.nbytes > MAX_TEXT_BYTES:
            raise ModelFileError(f"{name}: '{key}' must be one JSON string of at most "
                                 f"{MAX_TEXT_BYTES // 4:,} characters, got {a.dtype} {a.shape}")
        try:
            texts[key] = json.loads(str(_read_small(zf, a)))
        except (ValueError, RecursionError) as e:
            what = "model config" if key == "config" else "metadata"
            raise ModelFileError(f"{name}: invalid {what}: {e}") from None
    config = _checked_config(name, texts["config"])
    meta = texts.get("meta", {})
    if not isinstance(meta, dict):
        raise ModelFileError(f"{name}: invalid metadata: a JSON object was expected, "
                             f"got {type(meta).__name__}")
    for what, want, have in (("input", expect_input_dim, config.input_dim),
                             ("output", expect_output_dim, config.output_dim)):
        if want is not None and want != have:
            raise ModelFileError(f"{name}: model has {have} {what}s, expected {want}")
    expected = state_shapes(config)
    for key, shape in expected.items():
        if key not in arrays:
            raise ModelFileError(f"{name}: missing array '{key}'")
        a = arrays[key]
        if a.shape != shape:
            raise ModelFileError(f"{name}: array '{key}' has shape {a.shape}, expected {shape}")
        if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
            raise ModelFileError(f"{name}: array '{key}' holds {a.dtype}, expected float32 or float64")
    extra = set(arrays) - set(expected) - {"config", "meta", "format_version"}
    if extra:
        raise ModelFileError(f"{name}: unexpected arrays {sorted(extra)} for this config")
    n_params = sum(math.prod(s) for k, s in expected.items()
                   if not k.endswith(("running_mean", "running_var")))
    info = ModelInfo(path=path, config=config, meta=meta, n_params=n_params,
                     file_bytes=path.stat().st_size)
    return info, {k: arrays[k] for k in expected}


def _read_header(name: str, zf: zipfile.ZipFile, member: zipfile.ZipInfo, key: str) -> _Array:
    """The shape, dtype and order a member's .npy header declares, checked against its size."""
    with zf.open(member) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except ValueError as e:
            raise ModelFileError(f"{name}: array '{key}' has no valid .npy header: {e}") from None
        header_bytes = stream.tell()
    if dtype.hasobject:
        raise ModelFileError(f"{name}: array '{key}' holds Python objects, which would need pickle: "
                             f"model files hold numbers only")
    a = _Array(member, tuple(shape), dtype, fortran, header_bytes)
    if header_bytes + a.nbytes != member.file_size:
        raise ModelFileError(f"{name}: array '{key}' declares shape {a.shape} of {dtype} "
                             f"({a.nbytes:,} bytes) but its member holds {member.file_size - header_bytes:,}")
    return a


def _read_array(zf: zipfile.ZipFile, a: _Array) -> np.ndarray:
    """The array ``a`` (already checked by ``_inspect``), read in one piece."""
    with zf.open(a.member) as stream:
        stream.read(a.header_bytes)
        data = stream.read(a.nbytes)          # the member's CRC is checked once its end is reached
        if len(data) != a.nbytes or stream.read(1):
            raise zipfile.BadZipFile(f"'{a.member.filename}' is truncated")
    return np.frombuffer(data, a.dtype).reshape(a.shape, order="F" if a.fortran else "C")


def _read_small(zf: zipfile.ZipFile, a: _Array):
    """The value of a checked 0-d array (a string or an integer)."""
    return _read_array(zf, a)[()]


def _checked_config(name: str, d) -> ModelConfig:
    """The config a file declares, refused beyond MAX_INPUT_DIM / MAX_OUTPUT_DIM or the settings."""
    if not isinstance(d, dict):
        raise ModelFileError(f"{name}: invalid model config: a JSON object was expected")
    for key, top in (("input_dim", MAX_INPUT_DIM), ("output_dim", MAX_OUTPUT_DIM)):
        value = d.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= top):
            raise ModelFileError(f"{name}: invalid model config: {key} must be a whole number in "
                                 f"[1, {top}], got {value!r}")
    try:
        return ModelConfig.from_dict(d)
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{name}: invalid model config: {e}") from e


def _load_arrays(path: Path, zf: zipfile.ZipFile, layout: dict[str, _Array],
                 targets: dict[str, np.ndarray]) -> None:
    """Read every array of ``layout`` into the model's own (``targets``), one at a time."""
    for key, a in layout.items():
        values = _read_array(zf, a)
        if not np.all(np.isfinite(values)):
            raise ModelFileError(f"{path.name}: array '{key}' holds NaN or infinite values")
        targets[key][...] = values
