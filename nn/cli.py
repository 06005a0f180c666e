"""The command lines. Each ``python -m nn.<module>`` is a thin entry point that calls one of these:

    python -m nn.train ...             train_main: train an MLP, print one JSON line of final metrics
    python -m nn.data download NAME    data_main: fetch full MNIST / Fashion-MNIST, checksums verified
    python -m nn.data import NAME DIR  data_main: copy them from a folder you have, checksums verified
    python -m nn.predict IMAGE...      predict_main: one JSON line per image
    python -m nn.evaluate --weights F --dataset D   evaluate_main: accuracy, confusion, calibration
    python -m nn.trace [--format md --blank]        trace_main: one training step with every number

A bad flag value gets argparse's usage message naming the flag and what it accepts, and exit code 2.
Ctrl-C ends train and predict with a message and exit code 130 (nothing half-written); a reader that
goes away (``| head -1``) ends them quietly with 141.
The training flags are built from the one table of settings (nn/settings.py), so they accept
exactly what the Train page and its links accept.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import math
import os
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from .data import IMAGE_DATASETS, SOURCES, import_idx, load_dataset
from .download import DownloadError, download
from .features import DEFAULT_FEATURES, expand
from .model import MLP, ModelConfig, ModelFileError, state_shapes
from .predict import DEFAULT_WEIGHTS, predict_file
from .optim import make_optimizer
from .settings import SETTINGS, Setting
from .trace import trace_step, trace_to_dict, trace_to_markdown
from .train import TrainConfig, Trainer, digit_pipeline
from .verdict import verdict_for

# ----- python -m nn.train --------------------------------------------------------------------------

# The command line's defaults where they are not the configs' own (data and network shape).
TRAIN_DEFAULTS = {"dataset": "spirals", "n_points": 1000, "noise": 0.1, "val_share": 0.2, "n_classes": None,
                  "features": DEFAULT_FEATURES, "augment": False, "hidden": (64, 64)}
_GROUPS = {"data": ("dataset", "n_points", "noise", "val_share", "n_classes", "features", "augment"),
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


# What one training run may take in memory; a network whose estimate (training_memory_bytes) is
# larger is refused before it is built, with the estimate in the message.
TRAIN_MEMORY_BUDGET = 2_000_000_000
# Arrays the size of all the parameters each optimiser keeps besides the parameters and gradients
_OPTIMIZER_COPIES = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 3}
_EVAL_ROWS = 4096          # MLP.evaluate's chunk


def training_memory_bytes(config: ModelConfig, n_train: int, n_val: int, batch_size: int,
                          optimizer: str) -> int:
    """Estimated peak memory of training ``config`` on n_train / n_val samples: bytes (float32).

    It counts the parameters, their gradients, the optimiser's copies (Adam: 3) and two scratch
    copies of the largest array; a training batch (8 numbers a unit: every layer's output, its
    gradient and what the layer keeps for backward); a validation chunk of up to 4096 rows (3 numbers
    a unit); and the inputs, twice (as loaded and as normalised).
    """
    shapes = list(state_shapes(config).values())
    weights = (2 + _OPTIMIZER_COPIES.get(optimizer, 3)) * sum(map(math.prod, shapes))
    weights += 2 * max(map(math.prod, shapes))
    units = config.input_dim + sum(config.hidden) + config.output_dim
    batch = min(batch_size, n_train) * units * 8
    chunk = min(_EVAL_ROWS, max(n_train, n_val)) * units * 3
    data = 2 * (n_train + n_val) * config.input_dim
    return 4 * (weights + batch + chunk + data)


def _out_problem(path: Path) -> str | None:
    """Why the model could not be saved at ``path`` (found before training, not after), or None."""
    if path.suffix != ".npz":
        return f"the model file must end in .npz, got {path}"
    for target in (path, path.with_suffix(".json")):
        if target.is_dir():
            return f"{target} is a folder; give a file name ending in .npz"
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist: create it first, or choose another"
    try:                        # the one sure test: write a file there (permissions, read-only disks)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".nn-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"cannot write in {folder} ({e.strerror or e})"
    return None


def _silence_broken_pipe() -> None:
    """The reader of our output went away (``... | head -1``): send the rest to /dev/null, so that
    Python's last flush at exit does not print a traceback either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())


@contextlib.contextmanager
def _ctrl_c_waits():
    """Inside, a Ctrl-C waits until the block is done (a model and its card are written whole); it
    is then raised as KeyboardInterrupt. Outside the main thread, signals cannot wait: no effect."""
    pending = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


# Exit codes besides 0 (done), 1 (diverged) and 2 (bad arguments): as a shell reports a program
# ended by SIGINT (Ctrl-C) or SIGPIPE (its reader went away)
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def train_main(argv: list[str] | None = None) -> int:
    parser = build_train_parser()
    args = parser.parse_args(argv)
    if args.out is not None and (problem := _out_problem(args.out)):
        parser.error(f"argument --out: {problem}")
    if args.augment and args.dataset not in IMAGE_DATASETS:
        parser.error("argument --augment: augmentation applies to digit images, not to 2-D toy sets")
    if args.features != DEFAULT_FEATURES and args.dataset in IMAGE_DATASETS:
        parser.error("argument --features: input features apply to 2-D toy sets; a digit network reads the pixels")
    if args.batchnorm and args.batch_size < 2:
        parser.error(f"argument --batch-size: batch norm needs batches of at least 2 samples (it "
                     f"normalises by the batch's variance), got {args.batch_size}; use 2 or more, "
                     f"or --no-batchnorm")
    state = {"stage": "before training", "saved": None}
    try:
        return _train(parser, args, argv, state)
    except KeyboardInterrupt:
        saved = f"the model was saved to {state['saved']}" if state["saved"] else "nothing was saved"
        print(f"\ninterrupted {state['stage']}: {saved}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_broken_pipe()
        return EXIT_BROKEN_PIPE


def _train(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None,
           state: dict) -> int:
    """The body of ``train_main`` once the arguments are checked; ``state`` says how far it got."""
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
    else:
        x_train, x_val = expand(x_train, args.features), expand(x_val, args.features)
    if args.loss == "sigmoid_bce" and data.n_classes != 2:
        parser.error(f"argument --loss: sigmoid_bce needs 2 classes, {args.dataset} has {data.n_classes}")
    try:
        model_config = ModelConfig(input_dim=x_train.shape[1], hidden=args.hidden,
                                   output_dim=1 if args.loss == "sigmoid_bce" else data.n_classes,
                                   **{f: getattr(args, f) for f in _GROUPS["model"] if f != "hidden"})
        train_config = TrainConfig(**{f: getattr(args, f) for f in _GROUPS["optimisation"]})
    except ValueError as e:
        parser.error(str(e))
    need = training_memory_bytes(model_config, len(x_train), len(x_val), train_config.batch_size,
                                 train_config.optimizer)
    if need > TRAIN_MEMORY_BUDGET:
        layers = ",".join(map(str, args.hidden)) or "none"
        parser.error(f"argument --hidden: training {args.dataset} with hidden layers {layers} and "
                     f"--batch-size {train_config.batch_size} would need about {need / 1e9:.1f} GB of "
                     f"memory, the limit is {TRAIN_MEMORY_BUDGET / 1e9:.1f} GB: use fewer or narrower "
                     f"layers, or a smaller batch")
    model = MLP(model_config, seed=args.seed)
    try:
        trainer = Trainer(model, x_train, data.y_train, x_val, data.y_val, train_config, augment)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"{args.dataset}: {len(x_train)} train / {len(x_val)} validation samples; "
              f"model {model.describe()} ({model.n_params:,} parameters)", file=sys.stderr)

    def report(t: Trainer) -> None:
        state["stage"] = f"during epoch {t.epoch + 1}/{train_config.epochs}"
        if args.quiet:
            return
        h = t.history
        print(f"epoch {t.epoch:>3}/{train_config.epochs}  loss {h.train_loss[-1]:.4f}  "
              f"acc {h.train_acc[-1]:6.2%}  val_loss {h.val_loss[-1]:.4f}  val_acc {h.val_acc[-1]:6.2%}  "
              f"lr {t.lr:.3g}  {t.samples_per_second:,.0f} samples/s", file=sys.stderr, flush=True)

    state["stage"] = f"during epoch 1/{train_config.epochs}"
    started = time.perf_counter()
    trainer.run(on_epoch=report)
    wall_seconds = time.perf_counter() - started
    state["stage"] = "after training"
    verdict = verdict_for(trainer)
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
        # a loss that exploded is a divergence too, even when no number overflowed
        "diverged": trainer.diverged or (verdict.why if verdict.kind == "diverged" else None),
        "verdict": verdict.to_dict(),
    }
    if result["diverged"]:
        print(f"error: {result['diverged']}", file=sys.stderr)
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
        with _ctrl_c_waits():               # the model and its card are written whole, or not at all
            model.save_with_card(args.out, card)
            state["saved"] = args.out
        result["out"] = str(args.out)
    print(json.dumps(result), flush=True)
    return 1 if result["diverged"] else 0


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
    """``python -m nn.data download NAME [--mirror URL]... [--dir DIR] [--timeout S]``
    and ``python -m nn.data import NAME FOLDER [--dir DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m nn.data",
                                     description="Get full MNIST or Fashion-MNIST for nn: download it, or "
                                                 "import the four IDX files from a folder you have.")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("download", help="fetch the four IDX files of a dataset")
    fetch.add_argument("name", choices=list(SOURCES), help="which dataset")
    fetch.add_argument("--mirror", action="append", metavar="URL",
                       help="base URL to try instead of the built-in mirrors (repeatable, tried in order)")
    fetch.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="give up on a silent server after this long (default 30)")
    copy = commands.add_parser(
        "import", help="copy the four IDX files from a folder you have, verified",
        description="Copy train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
                    "t10k-labels-idx1-ubyte (each .gz or not) from FOLDER into the cache. Each is checked "
                    "by the SHA-256 of its decompressed bytes, so a copy compressed again is accepted and "
                    "a damaged one refused; nothing is copied unless all four are right.")
    copy.add_argument("name", choices=list(SOURCES), help="which dataset")
    copy.add_argument("folder", type=Path, metavar="FOLDER", help="the folder holding the four files")
    for sub in (fetch, copy):
        sub.add_argument("--dir", metavar="DIR", default=None,
                         help="cache directory (default: $NN_DATA_DIR, else ~/.cache/nn-playground)")
    args = parser.parse_args(argv)

    if args.command == "import":
        try:
            folder = import_idx(args.name, args.folder, cache_dir=args.dir)
        except (FileNotFoundError, ValueError, OSError) as e:
            print(f"error: {e}\nNothing was copied.", file=sys.stderr)
            return 1
        print(f"{SOURCES[args.name].title}: the four files are verified (SHA-256 of the decompressed "
              f"contents) and ready in {folder}")
        return 0

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
    try:
        for path in args.images:
            try:
                record = predict_file(model, path)      # an image that cannot be read is its own error
            except (OSError, ValueError, MemoryError) as e:
                record = {"file": str(path),
                          "error": f"The image could not be read ({type(e).__name__}: {e})."}
            failed += "error" in record
            print(json.dumps(record), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_broken_pipe()
        return EXIT_BROKEN_PIPE
    return 1 if failed else 0


# ----- python -m nn.evaluate -----------------------------------------------------------------------

def evaluate_main(argv: list[str] | None = None) -> int:
    """``python -m nn.evaluate --weights FILE --dataset NAME|DIR [--calibrate] [--record]``: one JSON object."""
    from .calibrate import calibrate
    from .evaluate import EVAL_SETS, SYNTH_PER_CLASS, SYNTH_SEED, evaluate, load_eval_set, scores_of
    from .explain import SAMPLE_PROFILE

    parser = argparse.ArgumentParser(
        prog="python -m nn.evaluate",
        description="Evaluate a model file on a dataset and print one JSON object: accuracy, per-class "
                    "accuracy, the most confused pairs, calibration (ECE with T = 1 and with the model's "
                    "temperature, reliability-diagram bins) and how often 'not sure' flags wrong and right "
                    "answers.")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS,
                        help=f"model file (.npz); default: the shipped model ({DEFAULT_WEIGHTS.name})")
    parser.add_argument("--dataset", required=True, metavar="NAME|DIR",
                        help=f"one of {', '.join(EVAL_SETS)} (the held-out part: for mnist and fashion-mnist "
                             f"the official test set), or a folder of labelled images: DIR/<label>/*.png or "
                             f"DIR/<label>_*.png")
    parser.add_argument("--bins", type=int, default=15, help="reliability-diagram bins (default 15)")
    parser.add_argument("--pairs", type=int, default=10, help="how many confused pairs to list (default 10)")
    parser.add_argument("--synth-seed", type=int, default=SYNTH_SEED,
                        help=f"seed of the synth-* digits (default {SYNTH_SEED})")
    parser.add_argument("--synth-per-class", type=int, default=SYNTH_PER_CLASS,
                        help=f"synth-* digits of each class (default {SYNTH_PER_CLASS})")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit the temperature on a seeded half of this data, measure it on the other half, "
                             "and store it in the model file and its card (then the report uses it)")
    parser.add_argument("--record", action="store_true",
                        help="also store this report (without bins and skipped files) in the model's card, "
                             "under evaluations.<dataset>")
    args = parser.parse_args(argv)
    if args.bins < 1 or args.pairs < 0 or args.synth_per_class < 1 or args.synth_seed < 0:
        parser.error("--bins and --synth-per-class must be >= 1, --pairs and --synth-seed >= 0")
    try:
        model = MLP.load(args.weights, expect_input_dim=784)
    except ModelFileError as e:
        parser.error(f"argument --weights: {e}")
    try:
        data = load_eval_set(args.dataset, args.synth_seed, args.synth_per_class)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if model.n_classes != len(data.class_names):
        parser.error(f"the model has {model.n_classes} classes, {data.name} has {len(data.class_names)}")
    digits = args.dataset != "fashion-mnist" and model.meta.get("dataset") != "fashion-mnist"
    command = "python -m nn.evaluate " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    fitted = None
    if args.calibrate:
        if model.config.loss != "softmax_ce":
            parser.error("--calibrate: temperature scaling applies to softmax models only")
        fit = calibrate(scores_of(model, data.x), data.y, seed=0, n_bins=args.bins)
        fitted = {**fit.summary(), "data": data.description, "command": command,
                  "split": "T fitted on a seeded half (seed 0) of the data, before/after measured on the other half"}
        model.meta["temperature"] = round(fit.temperature, 4)
        model.meta["calibration"] = fitted
    report = {"weights": str(args.weights),
              **evaluate(model, data, SAMPLE_PROFILE if digits else None, args.bins, args.pairs)}
    if fitted is not None:
        report["calibration_fit"] = fitted
    if args.record:
        kept = {k: v for k, v in report.items() if k not in ("weights", "skipped", "ms_per_image_batched")}
        kept["calibration"] = {k: v for k, v in kept["calibration"].items() if not k.startswith("bins")}
        kept["command"] = command
        model.meta.setdefault("evaluations", {})[data.name] = kept
    if args.calibrate or args.record:
        model.save_with_card(args.weights, model.meta)
        report["saved"] = str(args.weights)
    print(json.dumps(report, indent=2), flush=True)
    return 0


# ----- python -m nn.trace --------------------------------------------------------------------------

# The worksheet's defaults: the seed notebooks' XOR net, one example of it, plain SGD
# (--init normal with the std of 1 gives their np.random.randn weights).
TRACE_DEFAULTS = {"hidden": (2,), "activation": "sigmoid", "init": "xavier", "init_std": 1.0, "loss": "sigmoid_bce",
                  "optimizer": "sgd", "lr": 0.5, "momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "rho": 0.9,
                  "l2": 0.0, "seed": 0}
MAX_INPUTS = 16


def _example(text: str) -> tuple[float, ...]:
    """'1,0' -> (1.0, 0.0): one example's inputs."""
    try:
        values = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 1,0, got {text!r}") from None
    if not 1 <= len(values) <= MAX_INPUTS or not np.all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_INPUTS} finite numbers, got {text!r}")
    return values


def _class_label(text: str) -> int:
    if text.strip() not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"expected the class 0 or 1, got {text!r}")
    return int(text)


def build_trace_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m nn.trace",
        description="Print one training step of a tiny net with every number: the forward pass layer by "
                    "layer, the loss, the backward pass, the update. Array names are those of a saved model.")
    for name, default in TRACE_DEFAULTS.items():
        s = SETTINGS[name]
        p.add_argument(s.cli_flag, dest=name, type=_flag_type(s), default=default, metavar=name.upper(),
                       help=f"{s.help} ({s.rule()}; default {s.text(default)})".replace("%", "%%"))
    p.add_argument("--x", type=_example, default=(1.0, 0.0), metavar="X1,X2",
                   help="the example's inputs, comma-separated; their count is the net's input size "
                        "(default 1,0)")
    p.add_argument("--y", type=_class_label, default=1, metavar="Y", help="the example's class, 0 or 1 (default 1)")
    p.add_argument("--format", choices=("json", "md"), default="json",
                   help="json: one JSON object; md: a Markdown worksheet (default json)")
    p.add_argument("--blank", action="store_true",
                   help="with --format md: leave every computed answer blank (____) for a class to fill in")
    return p


def trace_main(argv: list[str] | None = None) -> int:
    parser = build_trace_parser()
    args = parser.parse_args(argv)
    if args.blank and args.format != "md":
        parser.error("argument --blank: only the Markdown worksheet has answers to hide; add --format md")
    # two classes: one output neuron for sigmoid_bce and mse (the label is its target), two for softmax
    config = ModelConfig(input_dim=len(args.x), hidden=args.hidden,
                         output_dim=2 if args.loss == "softmax_ce" else 1,
                         activation=args.activation, init=args.init, init_std=args.init_std, loss=args.loss)
    model = MLP(config, seed=args.seed, dtype=np.float64)
    optimizer = make_optimizer(args.optimizer, args.lr, momentum=args.momentum, beta1=args.beta1,
                               beta2=args.beta2, rho=args.rho)
    trace = trace_step(model, np.array([args.x]), np.array([args.y]), optimizer, l2=args.l2)
    print(trace_to_markdown(trace, args.blank) if args.format == "md" else json.dumps(trace_to_dict(trace)))
    return 0
