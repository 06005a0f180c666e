"""What the Train page and its training process say to each other, as types.

The page (ui/run_client.py) sends a ``Request(seq, command)``; the training process
(ui/train_worker.py) answers every request with a ``Reply(seq, ok, payload)``, where payload is
the command's result, or the message for the learner when ok is False. Commands:

    Start        train continuously until Pause, the last epoch or divergence -> status
                 (every status: running, done, diverged, progress, epoch, seconds, ..., and
                 once the run is done, "verdict": nn.verdict's Verdict.to_dict())
    Pause        stop after the current slice (mid-epoch)                     -> status
    StepEpoch    train to the end of the current epoch, then stop             -> status
    SetLr(lr)    change the base learning rate from the next batch on         -> None
    Snapshot(v, n)  status, history and the views v (boundary, confusion, ..., "verdict": the verdict
                 so far while stopped), and with n = (layer, unit) that neuron as Inspect gives it
                 ("neuron")                                                         -> dict
    GradCheck    backprop against central differences on a few samples         -> [(name, error)]
    Save(p, c)   write the model to p with card c                              -> str(path)
    Inspect(l, u)           neuron u of Dense layer l: its picture, weights, bias, their latest
                            gradients and update, and the loss now                -> dict
    SetParam(k, i, v)       set entry i of parameter k (``layers.2.W``) by hand    -> None
    SetNeuronOff(l, u, off) switch hidden neuron u of layer l off (kept off through training) or on -> None
    RestoreEdits            put back the values before the hand edits; every neuron on -> None
    TraceStep(example)      one training step with every number, on copies of the model and the
                            optimiser (the run is not touched): of training example ``example``,
                            or of the next mini-batch when it is None              -> dict
    Status       is it training? (asked by the server's keeper; not a sign that anybody looks) -> status
    Close        end the process (no reply)
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nn.data import data_dir
from nn.files import atomic_file


@dataclass(frozen=True, eq=False)
class RunData:
    """The arrays a run trains on, as the network sees them.

    x_train : (N, D) float32; for digits deskewed by ``normalise_digits`` (what the Draw page feeds
        a model too), and with ``augment`` also distorted + deskewed again per batch.
    y_train : (N,) int64; x_val : (M, D) float32 (deskewed for digits); y_val : (M,) int64.
    bounds : the plotting box of a 2-D set, None for images.
    files : where the arrays live when they are shared (``RunData.shared``), else None.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    bounds: tuple | None
    augment: bool = False
    files: dict[str, str] | None = None

    ARRAYS = ("x_train", "y_train", "x_val", "y_val")

    @classmethod
    def shared(cls, folder: Path, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
               y_val: np.ndarray, n_classes: int, bounds: tuple | None, augment: bool = False) -> "RunData":
        """The same data written once as .npy files under ``folder`` (named by their content) and
        mapped read-only: every training process maps the same pages of memory instead of
        receiving its own copy (full MNIST: 220 MB per process otherwise)."""
        arrays = dict(zip(cls.ARRAYS, (x_train, y_train, x_val, y_val)))
        digest = hashlib.sha256()
        for a in arrays.values():
            a = np.ascontiguousarray(a)
            digest.update(f"{a.dtype}{a.shape}".encode())
            digest.update(a.data)
        home = Path(folder) / digest.hexdigest()[:24]
        files = {}
        for name, a in arrays.items():
            path = home / f"{name}.npy"
            if not path.is_file():
                with atomic_file(path) as f:
                    np.save(f, np.ascontiguousarray(a), allow_pickle=False)
            files[name] = str(path)
        return cls.open(files, n_classes, bounds, augment)

    @classmethod
    def open(cls, files: dict[str, str], n_classes: int, bounds: tuple | None, augment: bool) -> "RunData":
        """Map shared arrays read-only (the other side of ``shared``)."""
        arrays = {name: np.load(files[name], mmap_mode="r", allow_pickle=False) for name in cls.ARRAYS}
        return cls(**arrays, n_classes=n_classes, bounds=bounds, augment=augment, files=files)

    @classmethod
    def shared_if_possible(cls, folders: Sequence[Path], x_train: np.ndarray, y_train: np.ndarray,
                           x_val: np.ndarray, y_val: np.ndarray, n_classes: int, bounds: tuple | None,
                           augment: bool = False) -> "RunData":
        """``shared`` in the first of ``folders`` that can be written (default: ``shared_folders()``);
        if none can (a read-only home, a full disk), the arrays as they are, pickled to each process."""
        for folder in folders:
            try:
                return cls.shared(folder, x_train, y_train, x_val, y_val, n_classes, bounds, augment)
            except OSError:
                continue
        return cls(x_train, y_train, x_val, y_val, n_classes, bounds, augment)

    def __reduce__(self):
        # shared arrays travel to a training process as their file names, not as 30-220 MB of bytes
        if self.files is not None:
            return (RunData.open, (self.files, self.n_classes, self.bounds, self.augment))
        return (RunData, (self.x_train, self.y_train, self.x_val, self.y_val, self.n_classes, self.bounds,
                          self.augment))


def shared_folders() -> tuple[Path, ...]:
    """Where shared run data may be written, in order: beside the downloads (nn.data.data_dir()),
    else the system's temporary folder."""
    return data_dir() / "run-arrays", Path(tempfile.gettempdir()) / "nn-run-arrays"


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class StepEpoch:
    pass


@dataclass(frozen=True)
class SetLr:
    lr: float


@dataclass(frozen=True)
class Snapshot:
    views: frozenset[str] = frozenset()
    neuron: tuple[int, int] | None = None     # also inspect this neuron (as Inspect), in the same round trip


@dataclass(frozen=True)
class GradCheck:
    pass


@dataclass(frozen=True)
class Save:
    path: str
    card: dict


@dataclass(frozen=True)
class Inspect:
    layer: int          # Dense layers counted from 0; the last one is the output layer
    unit: int


@dataclass(frozen=True)
class SetParam:
    key: str            # a parameter's saved name, "layers.0.W"
    index: tuple[int, ...]
    value: float


@dataclass(frozen=True)
class SetNeuronOff:
    layer: int          # a hidden layer (Dense layers counted from 0)
    unit: int
    off: bool


@dataclass(frozen=True)
class RestoreEdits:
    pass


@dataclass(frozen=True)
class TraceStep:
    example: int | None = None      # an index into the training set; None: the next mini-batch


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Close:
    pass


Command = (Start | Pause | StepEpoch | SetLr | Snapshot | GradCheck | Save | Inspect | SetParam | SetNeuronOff
           | RestoreEdits | TraceStep | Status | Close)


@dataclass(frozen=True)
class Request:
    seq: int
    command: Command


@dataclass(frozen=True)
class Reply:
    seq: int
    ok: bool
    payload: object
