"""Datasets: toy 2-D problems, the bundled MNIST sample, and full MNIST / Fashion-MNIST.

Every loader returns a :class:`Dataset`: inputs ``(N, D)`` float32, labels ``(N,)`` int64,
already split into a training part and a held-out part.

    make_toy             xor, spirals, moons, circles, blobs: 2-D points made with a seeded generator
    load_mnist_sample    10,000 real MNIST digits shipped in ``nn/assets/mnist_sample.npz`` (works offline)
    load_idx_dataset     full MNIST or Fashion-MNIST from the standard IDX files: the cache directory
                         first, then where a system package puts them (Debian's dataset-fashion-mnist
                         installs /usr/share/datasets/fashion-mnist)
    import_idx           copy the four IDX files from a folder the user already has into the cache,
                         each checked by the SHA-256 of its decompressed bytes
    load_dataset         one entry point for all of the above, by name

Fetching the IDX files is nn/download.py's job. The command lines (nn/cli.py)::

    python -m nn.data download mnist            # about 12 MB into $NN_DATA_DIR or ~/.cache/nn-playground
    python -m nn.data download fashion-mnist    # about 31 MB
    python -m nn.data import mnist DIR          # the four files from DIR (.gz or not), verified, copied
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes

TOY_DATASETS = ("xor", "spirals", "moons", "circles", "blobs")
IMAGE_DATASETS = ("mnist-sample", "mnist", "fashion-mnist")

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset, split into a training part and a held-out part.

    name : str
        One of TOY_DATASETS or IMAGE_DATASETS.
    x_train : (N, D) float32
        Training inputs. 2-D sets: D = 2, roughly within [-1, 1]. Image sets: D = 784, the 28x28
        image flattened row by row, grey levels in [0, 1] (0 = background, 1 = ink).
    y_train : (N,) int64
        Training labels in [0, n_classes).
    x_val : (M, D) float32
        Held-out inputs. For the MNIST sets this is the official TEST split, not a validation split.
    y_val : (M,) int64
    n_classes : int
    image_shape : (28, 28) for image sets, None for 2-D sets.
    class_names : n_classes strings, e.g. ("0", ..., "9") or ("T-shirt/top", ...).
    bounds : ((xmin, xmax), (ymin, ymax))
        A box that holds every point with some padding, for plotting a decision boundary of a 2-D
        set over a fixed grid; None for image sets.

    The arrays are made read-only: a dataset is often shared (cached) between pages, so changing it
    in place would change it for everyone. Copy first (``ds.x_train.copy()``) to modify.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    image_shape: tuple[int, int] | None
    class_names: tuple[str, ...]
    bounds: tuple[tuple[float, float], tuple[float, float]] | None

    def __post_init__(self) -> None:
        for part in ("train", "val"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype != np.float32:
                raise ValueError(f"{self.name}: x_{part} must be an (N, D) float32 array, got "
                                 f"{getattr(x, 'dtype', type(x).__name__)} with shape {np.shape(x)}")
            if not isinstance(y, np.ndarray) or y.shape != (len(x),) or y.dtype != np.int64:
                raise ValueError(f"{self.name}: y_{part} must be an int64 array of shape ({len(x)},), "
                                 f"got {getattr(y, 'dtype', type(y).__name__)} with shape {np.shape(y)}")
            if len(y) and (y.min() < 0 or y.max() >= self.n_classes):
                raise ValueError(f"{self.name}: y_{part} holds labels outside [0, {self.n_classes})")
            x.flags.writeable = False
            y.flags.writeable = False
        if self.x_train.shape[1] != self.x_val.shape[1]:
            raise ValueError(f"{self.name}: x_train has {self.x_train.shape[1]} features per sample "
                             f"but x_val has {self.x_val.shape[1]}")
        if len(self.class_names) != self.n_classes:
            raise ValueError(f"{self.name}: {self.n_classes} classes but {len(self.class_names)} class names")
        if self.image_shape is not None and math.prod(self.image_shape) != self.x_train.shape[1]:
            raise ValueError(f"{self.name}: image_shape {self.image_shape} does not hold "
                             f"{self.x_train.shape[1]} features")

    @property
    def n_features(self) -> int:
        """D, the length of one input vector (2 for toy sets, 784 for images)."""
        return self.x_train.shape[1]

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}: train {self.x_train.shape}, val {self.x_val.shape}, "
                f"{self.n_classes} classes)")


# --------------------------------------------------------------------------- toy 2-D sets

MAX_NOISE = 1.0
MAX_POINTS = 1_000_000
CLASS_RANGE = {"spirals": (2, 5), "blobs": (2, 6)}    # the others always have 2 classes
_DEFAULT_CLASSES = {"blobs": 3}
_XOR_MARGIN = 0.1       # XOR points keep this far from the axes, so the quadrant (the label) is clear
_BOX = (-1.5, 1.5)      # plotting box of every toy set unless its points reach further


def make_toy(name: str, n: int = 400, noise: float = 0.1, val_fraction: float = 0.2, seed: int = 0,
             n_classes: int | None = None) -> Dataset:
    """A 2-D toy dataset of ``n`` points, split into training and validation parts.

    name : one of TOY_DATASETS
        xor      label 1 where x and y have opposite signs (the four quadrants of the plane).
                 With n == 4 it is the classic truth table instead: X = [[0,0],[0,1],[1,0],[1,1]],
                 y = [0,1,1,0], and train and val are both those four points (noise is ignored).
        spirals  n_classes (2-5) interleaved arms, one turn each; jitter grows with the radius.
        moons    two interleaving half circles (as in scikit-learn's make_moons).
        circles  a ring of radius 1 around a ring of radius 0.5.
        blobs    n_classes (2-6, default 3) round Gaussian clusters whose spread is the noise.
    noise : standard deviation of the Gaussian jitter added to each coordinate, in the units of the
        plot (the clean data fills about [-1, 1]); for spirals it is relative to the radius.
    val_fraction : share of the points held out for validation; every class is split in the same
        proportion (a stratified split).
    seed : the same seed gives the same points, bit for bit.

    Returns a Dataset with x_train (N, 2) float32, y_train (N,) int64, x_val (M, 2), y_val (M,),
    N + M = n, classes balanced to within one point.
    """
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy dataset {name!r}: choose one of {', '.join(TOY_DATASETS)}")
    _check_int("n", n, 4, MAX_POINTS)
    if not _is_number(noise) or not 0.0 <= noise <= MAX_NOISE:
        raise ValueError(f"noise must be a number in [0, {MAX_NOISE}], got {noise!r}")
    if not _is_number(val_fraction) or not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be strictly between 0 and 1, got {val_fraction!r}")
    _check_int("seed", seed, 0, 2**63 - 1)
    low, high = CLASS_RANGE.get(name, (2, 2))
    if n_classes is None:
        n_classes = _DEFAULT_CLASSES.get(name, 2)
    elif low == high and n_classes != low:
        raise ValueError(f"{name} always has 2 classes, got n_classes={n_classes!r}")
    _check_int("n_classes", n_classes, low, high)
    if n < 2 * n_classes:
        raise ValueError(f"n must be at least 2 points per class ({2 * n_classes} for "
                         f"{n_classes} classes), got {n}")

    if name == "xor" and n == 4:
        return _xor_truth_table()

    rng = np.random.default_rng(seed)
    # Balanced classes: sizes differ by at most one, e.g. n=401, 2 classes -> 201 and 200.
    sizes = [n // n_classes + (k < n % n_classes) for k in range(n_classes)]
    y = np.repeat(np.arange(n_classes), sizes)
    x = _GENERATORS[name](y, n_classes, float(noise), rng)

    n_val = min(max(round(n * val_fraction), 1), n - 1)
    train, val = _stratified_split(y, n_val, rng)
    class_names = tuple(f"class {k}" for k in range(n_classes))
    return Dataset(name, x[train].astype(np.float32), y[train].astype(np.int64),
                   x[val].astype(np.float32), y[val].astype(np.int64),
                   n_classes, None, class_names, _bounds(x, _BOX))


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_int(arg: str, value, low: int, high: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{arg} must be a whole number in [{low}, {high:,}], got {value!r}")


def _xor_truth_table() -> Dataset:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return Dataset("xor", x, y, x.copy(), y.copy(), 2, None, ("class 0", "class 1"),
                   ((-0.5, 1.5), (-0.5, 1.5)))


# Each generator maps labels y : (n,) int64 to points x : (n, 2) float64 of those classes.

def _xor(y: np.ndarray, n_classes: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    # Class 0 lives in the quadrants where x*y > 0, class 1 where x*y < 0.
    sign_x = rng.choice([-1.0, 1.0], size=len(y))
    sign_y = np.where(y == 0, sign_x, -sign_x)
    size = rng.uniform(_XOR_MARGIN, 1.0, size=(len(y), 2))
    x = size * np.stack([sign_x, sign_y], axis=1)
    return x + rng.normal(0.0, noise, size=x.shape)


def _spirals(y: np.ndarray, n_classes: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    # sqrt spreads points evenly over the disc instead of crowding the centre, where arms meet.
    t = np.sqrt(rng.uniform(0.0, 1.0, size=len(y)))
    radius = 0.05 + 0.95 * t
    angle = 2 * np.pi * y / n_classes + 2 * np.pi * t          # one full turn per arm
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    # Jitter proportional to the radius: near the centre the arms are close together.
    return x + rng.normal(0.0, 1.0, size=x.shape) * (noise * radius)[:, None]


def _moons(y: np.ndarray, n_classes: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0.0, np.pi, size=len(y))
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where((y == 0)[:, None], upper, lower)
    x = (x - [0.5, 0.25]) / 1.5              # from [-1, 2] x [-0.5, 1] to [-1, 1] x [-0.5, 0.5]
    return x + rng.normal(0.0, noise, size=x.shape)


def _circles(y: np.ndarray, n_classes: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0.0, 2 * np.pi, size=len(y))
    radius = np.where(y == 0, 1.0, 0.5)
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return x + rng.normal(0.0, noise, size=x.shape)


def _blobs(y: np.ndarray, n_classes: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    # Centres evenly spaced on a circle of radius 0.6, the first one at the top.
    angle = np.pi / 2 + 2 * np.pi * np.arange(n_classes) / n_classes
    centres = 0.6 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres[y] + rng.normal(0.0, noise, size=(len(y), 2))


_GENERATORS = {"xor": _xor, "spirals": _spirals, "moons": _moons, "circles": _circles, "blobs": _blobs}


def _stratified_split(y: np.ndarray, n_val: int, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val), each shuffled, with n_val held out and every class split alike.

    y : (n,) int64. Idea: shuffle each class, give its j-th point the key (j + 0.5) / class size,
    and sort all points by key; any prefix of that order then holds the classes in proportion.
    """
    keys = np.empty(len(y))
    for k in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == k))
        keys[members] = (np.arange(len(members)) + 0.5) / len(members)
    order = np.argsort(keys + 1e-9 * rng.random(len(y)), kind="stable")   # random tie-break
    val, train = order[:n_val], order[n_val:]
    return rng.permutation(train), rng.permutation(val)


def _bounds(x: np.ndarray, box: tuple[float, float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """A plotting box: ``box`` on both axes, widened (in steps of 0.5) if points of x : (n, 2) stick out."""
    lows = np.minimum(box[0], np.floor((x.min(axis=0) - 0.1) * 2) / 2)
    highs = np.maximum(box[1], np.ceil((x.max(axis=0) + 0.1) * 2) / 2)
    return ((float(lows[0]), float(highs[0])), (float(lows[1]), float(highs[1])))


# --------------------------------------------------------------------------- bundled MNIST sample

SAMPLE_PATH = Path(__file__).resolve().parent / "assets" / "mnist_sample.npz"


def load_mnist_sample() -> Dataset:
    """The 10,000 MNIST digits shipped with the package: 8,000 for training, 2,000 for testing.

    The test part holds exactly 200 digits of each class. Works offline.
    Returns a Dataset with x_train (8000, 784) float32 in [0, 1], y_train (8000,) int64,
    x_val (2000, 784), y_val (2000,), image_shape (28, 28).
    """
    if not SAMPLE_PATH.exists():
        raise FileNotFoundError(f"the bundled MNIST sample is missing: {SAMPLE_PATH} does not exist. "
                                f"Rebuild it with `python -m scripts.build_mnist_sample` "
                                f"(see nn/assets/README.md).")
    with np.load(SAMPLE_PATH, allow_pickle=False) as npz:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(npz.files)
        if missing:
            raise ValueError(f"{SAMPLE_PATH} lacks the array(s) {', '.join(sorted(missing))}; "
                             f"rebuild it with `python -m scripts.build_mnist_sample`")
        parts = {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    x_train, y_train = _images_and_labels(parts["x_train"], parts["y_train"], SAMPLE_PATH, "train")
    x_test, y_test = _images_and_labels(parts["x_test"], parts["y_test"], SAMPLE_PATH, "test")
    return Dataset("mnist-sample", x_train, y_train, x_test, y_test,
                   10, (28, 28), DIGIT_NAMES, None)


def _images_and_labels(images: np.ndarray, labels: np.ndarray, source: Path | str, part: str
                       ) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) or (N, 784) and labels (N,) -> x (N, 784) float32 in [0, 1], y (N,) int64."""
    if images.dtype != np.uint8 or images.ndim not in (2, 3) or images.shape[1:] not in ((784,), (28, 28)):
        raise ValueError(f"{source}: the {part} images should be uint8 28x28 images, got "
                         f"{images.dtype} with shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in "iu":
        raise ValueError(f"{source}: expected {len(images)} integer {part} labels, got "
                         f"{labels.dtype} with shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{source}: {part} labels must be 0-9, found {labels.min()}..{labels.max()}")
    x = images.reshape(len(images), 784).astype(np.float32)
    x /= 255.0
    return x, labels.astype(np.int64)


# --------------------------------------------------------------------------- IDX files

# IDX format (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type code, the number of
# dimensions, each dimension as a big-endian uint32, then the values in C order, big-endian.
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx_bytes(path: str | Path, stored: bytes | None = None) -> bytes:
    """The contents of an IDX file, decompressed if it is gzipped (whatever compressed it).

    stored : the file's bytes if already read (then ``path`` only names it in errors).
    A gzip stream that is truncated or corrupt raises ValueError naming the file.
    """
    path = Path(path)
    raw = path.read_bytes() if stored is None else stored
    if raw[:2] == b"\x1f\x8b":                                   # the gzip signature
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: the gzip data is truncated or corrupt ({e}); "
                             f"delete the file and download it again") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzipped or not, into an array of the shape its header gives.

    MNIST images come back as (N, 28, 28) uint8, labels as (N,) uint8. A file that is not IDX,
    or is truncated or corrupt, raises ValueError naming the file and the problem.
    """
    return parse_idx(read_idx_bytes(path), path)


def parse_idx(raw: bytes, path: str | Path = "<bytes>") -> np.ndarray:
    """The array held by the (decompressed) IDX bytes ``raw``; ``path`` only names them in errors."""
    if len(raw) < 4:
        raise ValueError(f"{path}: only {len(raw)} bytes, too short to be an IDX file")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (the magic number 0x{raw[:4].hex()} "
                         f"should start with two zero bytes)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX data type code 0x{type_code:02x} "
                         f"(known: {', '.join(f'0x{c:02x}' for c in _IDX_TYPES)})")
    if ndim == 0:
        raise ValueError(f"{path}: the IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated inside the header ({len(raw)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_TYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise ValueError(f"{path}: truncated: the header promises shape {shape} ({expected:,} bytes "
                         f"of data) but only {found:,} bytes follow; delete it and download it again")
    if found > expected:
        raise ValueError(f"{path}: {found - expected:,} unexpected bytes after the {expected:,} bytes "
                         f"of data for shape {shape}")
    data = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))                  # native byte order, writable copy


# --------------------------------------------------------------------------- full MNIST / Fashion-MNIST


@dataclass(frozen=True)
class Source:
    """Where a full dataset comes from, and how to recognise its files.

    mirrors : base URLs to download from, tried in order
    files : downloaded file name -> SHA-256 of the file as served (the official .gz)
    idx_sha256 : IDX file name without .gz -> SHA-256 of its decompressed bytes; what a copy the user
        already has must match (a copy compressed again by someone else has other .gz bytes but the
        same decompressed ones)
    """

    title: str
    mirrors: tuple[str, ...]
    files: dict[str, str]
    class_names: tuple[str, ...]
    megabytes: int
    idx_sha256: dict[str, str] = field(default_factory=dict)


# The SHA-256 sums of the .gz files are the ones published for the original files and repeated by many
# independent projects (torchvision, TensorFlow Datasets, ...). A mirror's copy must match them byte for
# byte, which is also why plain-http mirrors are safe to use here. The sums of the decompressed files
# identify the original IDX files themselves, however they were compressed (the Fashion-MNIST ones are
# also those of the files in Debian's dataset-fashion-mnist package).
SOURCES = {
    "mnist": Source(
        title="MNIST",
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        files={
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        class_names=DIGIT_NAMES,
        megabytes=12,
        idx_sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    ),
    "fashion-mnist": Source(
        title="Fashion-MNIST",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"),
        files={
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        class_names=FASHION_NAMES,
        megabytes=31,
        idx_sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ),
}

# Where system packages install a dataset; searched after the cache, when no cache_dir is given.
# Files found here were not checked by us, so every load verifies them.
SYSTEM_FOLDERS: dict[str, tuple[Path, ...]] = {
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

# The four files of each set, without ".gz" (a file the user unzipped by hand is accepted too).
_IDX_STEMS = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
              "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def data_dir() -> Path:
    """The download cache: $NN_DATA_DIR if set, else ~/.cache/nn-playground."""
    custom = os.environ.get("NN_DATA_DIR", "").strip()
    return Path(custom).expanduser() if custom else Path.home() / ".cache" / "nn-playground"


def source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"{name!r} cannot be downloaded: choose one of {', '.join(SOURCES)}")
    return SOURCES[name]


def dataset_folder(name: str, cache_dir: str | Path | None) -> Path:
    return Path(cache_dir if cache_dir is not None else data_dir()).expanduser() / name


def _find_idx_files(folder: Path) -> dict[str, Path | None]:
    found = {}
    for role, stem in _IDX_STEMS.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        found[role] = next((p for p in candidates if p.is_file()), None)
    return found


def _idx_folder(name: str, cache_dir: str | Path | None) -> tuple[Path, bool] | None:
    """(folder holding all four files, whether they must be verified on loading), or None.

    The cache comes first: downloads and imports only ever leave verified files there. With no
    ``cache_dir`` given, the system folders (SYSTEM_FOLDERS) come next.
    """
    cache = dataset_folder(name, cache_dir)
    if all(p is not None for p in _find_idx_files(cache).values()):
        return cache, False
    if cache_dir is None:
        for folder in SYSTEM_FOLDERS.get(name, ()):
            if all(p is not None for p in _find_idx_files(folder).values()):
                return folder, True
    return None


def is_downloaded(name: str, cache_dir: str | Path | None = None) -> bool:
    """True if ``name`` can be loaded without a download.

    Always True for the toy sets and "mnist-sample"; for "mnist" / "fashion-mnist", True once all
    four IDX files are in the cache directory (downloads and imports only ever leave verified files
    there) or, when no cache_dir is given, in a system folder (Debian's dataset-fashion-mnist).
    """
    if name in TOY_DATASETS or name == "mnist-sample":
        return True
    if name not in SOURCES:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(TOY_DATASETS + IMAGE_DATASETS)}")
    return _idx_folder(name, cache_dir) is not None


class ChecksumError(ValueError):
    """An IDX file whose decompressed bytes are not those of the original dataset file."""


def _verified_idx_bytes(name: str, path: Path, stored: bytes | None = None) -> bytes:
    """The decompressed bytes of ``path``, one of ``name``'s four IDX files, if they are the original
    ones (SHA-256); ChecksumError otherwise, ValueError for a file that does not even decompress.
    ``stored`` : the file's bytes if already read (then ``path`` only names it)."""
    stem = path.name.removesuffix(".gz")
    expected = source(name).idx_sha256.get(stem)
    if expected is None:
        raise ValueError(f"no checksum is known for {stem} of {name}, so it cannot be verified")
    raw = read_idx_bytes(path, stored)
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{path} is not the original {source(name).title} file {stem}: the SHA-256 of its "
            f"decompressed contents is {actual[:16]}..., expected {expected[:16]}... "
            f"({len(raw):,} bytes decompressed). It is damaged, truncated or another dataset's file; "
            f"get a fresh copy, or `python -m nn.data download {name}`.")
    return raw


def import_idx(name: str, folder: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Copy the four IDX files of ``name`` from a folder the user already has into the cache.

    name : "mnist" or "fashion-mnist"
    folder : holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
        t10k-labels-idx1-ubyte, each gzipped (.gz, by any compressor) or not
    cache_dir : the cache root (default ``data_dir()``); the files go to ``<cache_dir>/<name>/``

    Every file is checked by the SHA-256 of its decompressed bytes before anything is copied, so a
    recompressed copy is accepted and a damaged one is refused (ChecksumError, nothing copied).
    Each file is written atomically (nn.files). A missing file raises FileNotFoundError naming it.
    Returns the cache folder now holding the files.
    """
    src = source(name)
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: give the folder that holds the four "
                                f"{src.title} IDX files")
    paths = _find_idx_files(folder)
    missing = [_IDX_STEMS[role] for role, p in paths.items() if p is None]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(missing)} (each may end in .gz): the four {src.title} files "
            f"are {', '.join(_IDX_STEMS.values())}")
    # all four verified before the first is copied; the bytes verified are the bytes written
    contents = {path: path.read_bytes() for path in paths.values()}
    for path, stored in contents.items():
        _verified_idx_bytes(name, path, stored)
    target = dataset_folder(name, cache_dir)
    target.mkdir(parents=True, exist_ok=True)
    for path, stored in contents.items():
        destination = target / path.name
        if destination.resolve() != path.resolve():
            atomic_write_bytes(destination, stored)
        # an older copy under the other name (.gz or not) would be found first or shadow this one
        other = target / (path.name.removesuffix(".gz") if path.suffix == ".gz" else path.name + ".gz")
        if other.exists() and other.resolve() != path.resolve():
            other.unlink()
    return target


def load_idx_dataset(name: str, cache_dir: str | Path | None = None) -> Dataset:
    """Full MNIST or Fashion-MNIST from its four IDX files.

    name : "mnist" or "fashion-mnist".
    cache_dir : where downloads and imports go (default ``data_dir()``). With no cache_dir given, a
        system folder is used when the cache lacks the files (SYSTEM_FOLDERS: Debian's
        dataset-fashion-mnist package); its files are checked against their SHA-256 on every load.
    Returns a Dataset with x_train (60000, 784) float32 in [0, 1], y_train (60000,) int64, and the
    official test split as x_val (10000, 784), y_val (10000,). Raises FileNotFoundError, saying
    how to get the files, when they are not there.
    """
    src = source(name)
    found = _idx_folder(name, cache_dir)
    if found is None:
        folder = dataset_folder(name, cache_dir)
        missing = [_IDX_STEMS[role] + ".gz" for role, p in _find_idx_files(folder).items() if p is None]
        system = f", install Debian's dataset-{name} package" if name in SYSTEM_FOLDERS else ""
        raise FileNotFoundError(
            f"{src.title} is not downloaded yet: {', '.join(missing)} not found in {folder}. "
            f"Download it (about {src.megabytes} MB) with `python -m nn.data download {name}`, "
            f"copy it from a folder you have with `python -m nn.data import {name} DIR`{system}, "
            f"or use the bundled 'mnist-sample' meanwhile.")
    folder, verify = found
    paths = _find_idx_files(folder)
    arrays = {role: parse_idx(_verified_idx_bytes(name, p) if verify else read_idx_bytes(p), p)
              for role, p in paths.items()}
    x_train, y_train = _images_and_labels(arrays["train_images"], arrays["train_labels"],
                                          paths["train_images"].parent, "train")
    x_test, y_test = _images_and_labels(arrays["test_images"], arrays["test_labels"],
                                        paths["test_images"].parent, "test")
    return Dataset(name, x_train, y_train, x_test, y_test, 10, (28, 28), src.class_names, None)


# --------------------------------------------------------------------------- one entry point


def load_dataset(name: str, **kwargs) -> Dataset:
    """Any dataset by name.

    Toy sets take make_toy's keyword arguments (n, noise, val_fraction, seed, n_classes);
    "mnist" and "fashion-mnist" take cache_dir; "mnist-sample" takes none.
    """
    if name in TOY_DATASETS:
        return make_toy(name, **kwargs)
    if name == "mnist-sample":
        if kwargs:
            raise TypeError(f"the bundled MNIST sample takes no options, got {', '.join(kwargs)}")
        return load_mnist_sample()
    if name in SOURCES:
        return load_idx_dataset(name, **kwargs)
    raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(TOY_DATASETS + IMAGE_DATASETS)}")


if __name__ == "__main__":
    import sys

    from .cli import data_main
    sys.exit(data_main())
