"""The data a Train page run trains on, prepared once per server and shared read-only by every
session (st.cache_resource): the toy 2-D sets and the digits, as the network sees them.

    run_data       (RunData for the training process, the Dataset as people see it)
    data_for       the same for a page's Settings (full datasets not downloaded yet: the bundled sample)
    points_layer   a 2-D set's points as pixels, drawn once; boundary_image paints regions under them
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from nn.data import TOY_DATASETS, Dataset, is_downloaded, load_dataset
from nn.train import digit_pipeline
from ui import train_charts as charts
from ui.processes import warm_up
from ui.run_protocol import RunData, shared_folders
from ui.train_settings import Settings


@st.cache_resource(show_spinner="Preparing the data…", max_entries=16)
def run_data(name: str, n: int, noise: float, val_share: float, n_classes: int, seed: int,
             augment: bool) -> tuple[RunData, Dataset]:
    """(what the network trains on, the dataset as people see it), shared read-only by all sessions
    (a Dataset's arrays are read-only; cached once here rather than copied out of st.cache_data)."""
    if name in TOY_DATASETS:
        ds = load_dataset(name, n=n, noise=noise, val_fraction=val_share, seed=seed, n_classes=n_classes)
        return RunData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds), ds
    ds = load_dataset(name)
    # digits are deskewed as the Draw page deskews a drawing (with augmentation, the worker
    # distorts and deskews every batch again: nn.train.augment_digits)
    x_train, x_val, _ = digit_pipeline(ds.x_train, ds.x_val, augment)
    # written once as files that every training process maps, instead of a pickled copy each
    return RunData.shared_if_possible(shared_folders(), x_train, ds.y_train, x_val, ds.y_val, ds.n_classes, None,
                                      augment), ds


@st.cache_resource(show_spinner=False, max_entries=16)
def points_layer(name: str, n: int, noise: float, val_share: float, n_classes: int, seed: int) -> tuple:
    """The points of a 2-D dataset as pixels (train_charts.points_layer), drawn once, shared read-only."""
    _, ds = run_data(name, n, noise, val_share, n_classes, seed, False)
    return charts.points_layer(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.bounds)


def boundary_image(s: Settings, proba: np.ndarray | None, n_classes: int) -> np.ndarray:
    return charts.boundary_image(proba, n_classes,
                                 points_layer(s.dataset, s.n_points, s.noise, s.val_share, s.n_classes, s.seed))


@st.cache_resource(show_spinner=False)
def warm_up_worker_server() -> bool:
    """Start the fork server of training processes once per server (ui/processes.py)."""
    warm_up()            # the first Start then needs no extra 0.3 s
    return True


def data_for(s: Settings) -> tuple[RunData, Dataset]:
    """run_data for settings s; full datasets not downloaded yet fall back to the bundled sample."""
    if s.dataset in TOY_DATASETS:
        return run_data(s.dataset, s.n_points, s.noise, s.val_share, s.n_classes, s.seed, False)
    name = s.dataset if is_downloaded(s.dataset) else "mnist-sample"
    return run_data(name, 0, 0.0, 0.0, 0, 0, s.augment)        # images ignore the toy knobs and seed
