"""What the Train page and its training process say to each other, as types.

The page (ui/run_client.py) sends a ``Request(seq, command)``; the training process
(ui/train_worker.py) answers every request with a ``Reply(seq, ok, payload)``, where payload is
the command's result, or the message for the learner when ok is False. Commands:

    Start        train continuously until Pause, the last epoch or divergence -> status
    Pause        stop after the current slice (mid-epoch)                     -> status
    StepEpoch    train to the end of the current epoch, then stop             -> status
    SetLr(lr)    change the base learning rate from the next batch on         -> None
    Snapshot(v)  status, history and the views v (boundary, confusion, ...)   -> dict
    GradCheck    backprop against central differences on a few samples         -> [(name, error)]
    Save(p, c)   write the model to p with card c                              -> str(path)
    Status       is it training? (asked by the server's keeper; not a sign that anybody looks) -> status
    Close        end the process (no reply)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class RunData:
    """The arrays a run trains on, as the network sees them.

    x_train : (N, D) float32; for digits deskewed by ``normalise_digits`` (what the Draw page feeds
        a model too), and with ``augment`` also distorted + deskewed again per batch.
    y_train : (N,) int64; x_val : (M, D) float32 (deskewed for digits); y_val : (M,) int64.
    bounds : the plotting box of a 2-D set, None for images.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    bounds: tuple | None
    augment: bool = False


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


@dataclass(frozen=True)
class GradCheck:
    pass


@dataclass(frozen=True)
class Save:
    path: str
    card: dict


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Close:
    pass


Command = Start | Pause | StepEpoch | SetLr | Snapshot | GradCheck | Save | Status | Close


@dataclass(frozen=True)
class Request:
    seq: int
    command: Command


@dataclass(frozen=True)
class Reply:
    seq: int
    ok: bool
    payload: object
