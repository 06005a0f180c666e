"""The command lines. Each ``python -m nn.<module>`` is a thin entry point that calls one of these:

    python -m nn.train ...             train_main: train an MLP, print one JSON line of final metrics
    python -m nn.data download NAME    data_main: fetch full MNIST / Fashion-MNIST, checksums verified
    python -m nn.predict IMAGE...      predict_main: one JSON line per image

A bad flag value gets argparse's usage message naming the flag and what it accepts, and exit code 2.
The training flags are built from the one table of settings (nn/settings.py), so they accept
exactly what the Train page and its links accept.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from .data import IMAGE_DATASETS, SOURCES, load_dataset
from .download import DownloadError, download
from .model import MLP, ModelConfig, ModelFileError
from .predict import DEFAULT_WEIGHTS, predict_file
from .settings import SETTINGS, Setting
from .train import TrainConfig, Trainer, digit_pipeline

# ----- python -m nn.train --------------------------------------------------------------------------

# The command line's defaults where they are not the configs' own (data and network shape).
TRAIN_DEFAULTS = {"dataset": "spirals", "n_points": 1000, "noise": 0.1, "val_share": 0.2, "n_classes": None,
                  "augment": False, "hidden": (64, 64)}
_GROUPS = {"data": ("dataset", "n_points", "noise", "val_share", "n_classes", "augment"),
           "model": ("hidden", "activation", "init", "init_std", "dropout", "batchnorm", "loss"),
           "optimisation": tuple(f.name for f in fields(TrainConfig))}


def _flag_type(setting: Setting):
    """An argparse type for one setting: its own parser, with its own message."""
    def parse(text: str):
        try:
            return setting.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e).replace(f"{setting.name} must be", "must be")) from None
    parse.__name__ = setting.name           # argparse names the type in some messages
    return parse


def _default(name: str):
    if name in TRAIN_DEFAULTS:
        return TRAIN_DEFAULTS[name]
    for config in (TrainConfig, ModelConfig):
        for f in fields(config):
            if f.name == name:
                return f.default
    raise KeyError(name)


def build_train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nn.train",
                                description="Train a NumPy MLP and print one JSON line of final metrics.")
    for group_name, names in _GROUPS.items():
        group = p.add_argument_group(group_name)
        for name in names:
            s = SETTINGS[name]
            default = _default(name)
            help_text = f"{s.help} ({s.rule()}"
            help_text += f"; default {s.text(default)})" if default is not None else ")"
            if s.kind is bool:
                group.add_argument(s.cli_flag, dest=name, action=argparse.BooleanOptionalAction,
                                   default=default, help=help_text)
            else:
                group.add_argument(s.cli_flag, dest=name, type=_flag_type(s), default=default,
                                   help=help_text.replace("%", "%%"), metavar=name.upper())
    r = p.add_argument_group("output")
    r.add_argument("--out", type=Path, default=None,
                   help="save the trained model here (.npz) with a JSON card beside it")
    r.add_argument("--quiet", action="store_true", help="no progress lines, only the final JSON")
    return p


def _finite(value: float) -> float | None:
    """Rounded for the JSON line; None (JSON null) for NaN or infinity, which JSON cannot hold."""
    return round(value, 6) if math.isfinite(value) else None


def train_main(argv: list[str] | None = None) -> int:
    parser = build_train_parser()
    args = parser.parse_args(argv)
    if args.out is not None and args.out.suffix != ".npz":
        parser.error(f"argument --out: the model file must end in .npz, got {args.out}")
    if args.augment and args.dataset not in IMAGE_DATASETS:
        parser.error("argument --augment: augmentation applies to digit images, not to 2-D toy sets")
    try:
        if args.dataset in IMAGE_DATASETS:
            data = load_dataset(args.dataset)
        else:
            extra = {} if args.n_classes is None else {"n_classes": args.n_classes}
            data = load_dataset(args.dataset, n=args.n_points, noise=args.noise,
                                val_fraction=args.val_share, seed=args.seed, **extra)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    x_train, x_val, augment = data.x_train, data.x_val, None
    if data.image_shape is not None:
        x_train, x_val, augment = digit_pipeline(x_train, x_val, args.augment)
    if args.loss == "sigmoid_bce" and data.n_classes != 2:
        parser.error(f"argument --loss: sigmoid_bce needs 2 classes, {args.dataset} has {data.n_classes}")
    try:
        model_config = ModelConfig(input_dim=x_train.shape[1], hidden=args.hidden,
                                   output_dim=1 if args.loss == "sigmoid_bce" else data.n_classes,
                                   **{f: getattr(args, f) for f in _GROUPS["model"] if f != "hidden"})
        train_config = TrainConfig(**{f: getattr(args, f) for f in _GROUPS["optimisation"]})
    except ValueError as e:
        parser.error(str(e))
    model = MLP(model_config, seed=args.seed)
    trainer = Trainer(model, x_train, data.y_train, x_val, data.y_val, train_config, augment)
    if not args.quiet:
        print(f"{args.dataset}: {len(x_train)} train / {len(x_val)} validation samples; "
              f"model {model.describe()} ({model.n_params:,} parameters)", file=sys.stderr)

    def report(t: Trainer) -> None:
        if args.quiet:
            return
        h = t.history
        print(f"epoch {t.epoch:>3}/{train_config.epochs}  loss {h.train_loss[-1]:.4f}  "
              f"acc {h.train_acc[-1]:6.2%}  val_loss {h.val_loss[-1]:.4f}  val_acc {h.val_acc[-1]:6.2%}  "
              f"lr {t.lr:.3g}  {t.samples_per_second:,.0f} samples/s", file=sys.stderr, flush=True)

    started = time.perf_counter()
    trainer.run(on_epoch=report)
    wall_seconds = time.perf_counter() - started
    with np.errstate(over="ignore", invalid="ignore"):
        train_loss, train_acc = model.evaluate(x_train, data.y_train)
        val_loss, val_acc = model.evaluate(x_val, data.y_val)
    result = {
        "dataset": args.dataset, "epochs": trainer.epoch, "params": model.n_params,
        "train_loss": _finite(train_loss), "train_acc": _finite(train_acc),
        "val_loss": _finite(val_loss), "val_acc": _finite(val_acc),
        # samples_per_sec counts only the time inside training steps; wall_samples_per_sec the whole
        # training loop by the clock (batch gathering, bookkeeping, each epoch's validation pass)
        "train_seconds": round(trainer.train_seconds, 3),
        "samples_per_sec": round(trainer.samples_per_second, 1),
        "wall_seconds": round(wall_seconds, 3),
        "wall_samples_per_sec": round(trainer.samples_seen / wall_seconds, 1) if wall_seconds > 0 else 0.0,
        "diverged": trainer.diverged,
    }
    if trainer.diverged:
        print(f"error: {trainer.diverged}", file=sys.stderr)
    elif args.out is not None:
        card = {
            "architecture": model.describe(), "model_config": asdict(model_config),
            "train_config": asdict(train_config), "dataset": args.dataset,
            "augment": args.augment, "n_train": len(x_train), "n_val": len(x_val),
            "command": "python -m nn.train " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
            "val_accuracy": round(val_acc, 6), "train_accuracy": round(train_acc, 6),
            "train_seconds": round(trainer.train_seconds, 3),
            "date": _dt.date.today().isoformat(),
        }
        model.save_with_card(args.out, card)
        result["out"] = str(args.out)
    print(json.dumps(result), flush=True)
    return 1 if trainer.diverged else 0


# ----- python -m nn.data ---------------------------------------------------------------------------

class _ProgressLine:
    """Prints download progress to stderr: one updating line on a terminal, a few lines in a log."""

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.current = None
        self.last_quarter = -1

    def __call__(self, done: int, total: int | None, filename: str) -> None:
        if filename != self.current:
            if self.current is not None and self.tty:
                self.stream.write("\n")
            self.current, self.last_quarter = filename, -1
        if total:
            line = f"{filename}  {done / 1e6:6.1f} / {total / 1e6:.1f} MB  {100 * done // total:3d}%"
            quarter = 4 * done // total
        else:
            line, quarter = f"{filename}  {done / 1e6:6.1f} MB", -1
        if self.tty:
            self.stream.write("\r" + line)
        elif quarter > self.last_quarter:       # 0%, 25%, 50%, 75%, 100%: enough for a log file
            self.stream.write(line + "\n")
            self.last_quarter = quarter
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.current is not None:
            self.stream.write("\n")
            self.stream.flush()


def data_main(argv: list[str] | None = None) -> int:
    """``python -m nn.data download NAME [--mirror URL]... [--dir DIR] [--timeout S]``."""
    parser = argparse.ArgumentParser(prog="python -m nn.data",
                                     description="Download full MNIST or Fashion-MNIST for nn.")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("download", help="fetch the four IDX files of a dataset")
    fetch.add_argument("name", choices=list(SOURCES), help="which dataset")
    fetch.add_argument("--mirror", action="append", metavar="URL",
                       help="base URL to try instead of the built-in mirrors (repeatable, tried in order)")
    fetch.add_argument("--dir", metavar="DIR", default=None,
                       help="cache directory (default: $NN_DATA_DIR, else ~/.cache/nn-playground)")
    fetch.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="give up on a silent server after this long (default 30)")
    args = parser.parse_args(argv)

    printer = _ProgressLine()
    try:
        folder = download(args.name, cache_dir=args.dir, mirrors=args.mirror, progress=printer,
                          timeout=args.timeout)
    except ValueError as e:
        printer.finish()
        parser.error(str(e))                  # exits with status 2
    except DownloadError as e:
        printer.finish()
        print(f"error: {e}", file=sys.stderr)
        return 1
    printer.finish()
    print(f"{SOURCES[args.name].title} is ready in {folder}")
    return 0


# ----- python -m nn.predict ------------------------------------------------------------------------

def predict_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nn.predict",
                                     description="Recognise handwritten digits in image files.")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                        help="PNG/JPEG/... files: a drawing or a photo of one digit each")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS,
                        help=f"model file (.npz); default: the shipped model ({DEFAULT_WEIGHTS.name})")
    args = parser.parse_args(argv)
    try:
        model = MLP.load(args.weights, expect_input_dim=784, expect_output_dim=10)
    except ModelFileError as e:
        parser.error(f"argument --weights: {e}")
    failed = 0
    for path in args.images:
        record = predict_file(model, path)
        failed += "error" in record
        print(json.dumps(record), flush=True)
    return 1 if failed else 0
