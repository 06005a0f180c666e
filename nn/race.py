"""The optimisers' race: every optimiser of nn.optim walks down the same 2-D loss surface.

    paths = race("bowl", {"sgd": {"lr": 0.95}, "adam": {"lr": 0.3}}, steps=30)
    paths["adam"].points            (31, 2) the points it visited, the start first

Each path comes from nn.optim's own classes: the point is a float64 2-vector in a params dict, and
``optimizer.step`` moves it from the surface's gradient, exactly as it moves a network's weights.
A path that blows up stops at its last finite point and says at which step it diverged.

Surfaces (value and gradient work elementwise on arrays, so one call draws a whole contour grid):

    bowl        f = x²/20 + y²                 20 times steeper along y than x: SGD zigzags,
                                               momentum overshoots, AdaGrad and Adam even the steps out
    saddle      f = x² − y² + y⁴/2             a saddle at (0, 0) (the classic x² − y² there), bounded
                                               below by two valleys at (0, ±1) so a path stays drawable
    rosenbrock  f = (1 − x)² + 100(y − x²)²    a long curved valley, minimum at (1, 1)
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .optim import OPTIMIZERS, make_optimizer

Array = np.ndarray


@dataclass(frozen=True)
class Surface:
    """A loss surface over the plane.

    value(x, y)    : f at the points, any matching shapes
    gradient(x, y) : (df/dx, df/dy), each shaped like x
    start          : where the race starts
    box            : (x_min, x_max, y_min, y_max), the region worth drawing
    minima         : the lowest points, to mark on the plot
    settings       : per optimiser, settings that show its character here (``race``'s second argument)
    """

    name: str
    formula: str
    value: Callable[[Array, Array], Array]
    gradient: Callable[[Array, Array], tuple[Array, Array]]
    start: tuple[float, float]
    box: tuple[float, float, float, float]
    minima: tuple[tuple[float, float], ...]
    settings: dict[str, dict[str, float]]


SURFACES: dict[str, Surface] = {s.name: s for s in (
    Surface("bowl", "f = x²/20 + y²",
            lambda x, y: x * x / 20 + y * y,
            lambda x, y: (x / 10, 2 * y),
            start=(-7.0, 2.0), box=(-10.0, 10.0, -5.0, 5.0), minima=((0.0, 0.0),),
            settings={"sgd": {"lr": 0.95}, "momentum": {"lr": 0.1, "momentum": 0.9},
                      "nesterov": {"lr": 0.1, "momentum": 0.9}, "adagrad": {"lr": 1.5},
                      "rmsprop": {"lr": 0.3, "rho": 0.9}, "adam": {"lr": 0.3}}),
    Surface("saddle", "f = x² − y² + y⁴/2",
            lambda x, y: x * x - y * y + y ** 4 / 2,
            lambda x, y: (2 * x, 2 * y * (y * y - 1)),
            start=(-1.8, 0.001), box=(-2.0, 2.0, -1.6, 1.6), minima=((0.0, 1.0), (0.0, -1.0)),
            settings={"sgd": {"lr": 0.05}, "momentum": {"lr": 0.02, "momentum": 0.9},
                      "nesterov": {"lr": 0.02, "momentum": 0.9}, "adagrad": {"lr": 0.3},
                      "rmsprop": {"lr": 0.02, "rho": 0.9}, "adam": {"lr": 0.05}}),
    Surface("rosenbrock", "f = (1 − x)² + 100(y − x²)²",
            lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
            lambda x, y: (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)),
            start=(-1.2, 1.0), box=(-2.0, 2.0, -1.0, 3.0), minima=((1.0, 1.0),),
            settings={"sgd": {"lr": 0.001}, "momentum": {"lr": 0.0005, "momentum": 0.9},
                      "nesterov": {"lr": 0.0005, "momentum": 0.9}, "adagrad": {"lr": 1.0},
                      "rmsprop": {"lr": 0.01, "rho": 0.9}, "adam": {"lr": 0.1}}),
)}

MAX_STEPS = 100_000
_SETTING_NAMES = tuple(inspect.signature(make_optimizer).parameters)[1:]      # lr, momentum, ...
# the settings of make_optimizer each optimiser uses (the others it ignores)
OPTIMIZER_SETTINGS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr",), "momentum": ("lr", "momentum"), "nesterov": ("lr", "momentum"), "adagrad": ("lr",),
    "rmsprop": ("lr", "rho"), "adam": ("lr", "beta1", "beta2")}


@dataclass(frozen=True)
class RacePath:
    """One optimiser's way down.

    points      : (k + 1, 2) float64, the start and the point after each step; k = steps unless
                  the path diverged
    values      : (k + 1,) the surface's value at each point
    diverged_at : the step whose point was no longer finite (NaN or infinite), else None
    """

    points: Array
    values: Array
    diverged_at: int | None


def get_surface(surface: str | Surface) -> Surface:
    """The surface itself, or the one of SURFACES with that name."""
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}: choose one of {', '.join(SURFACES)}")
    return SURFACES[surface]


def race(surface: str | Surface, optimizers: dict[str, dict[str, float]],
         start: tuple[float, float] | None = None, steps: int = 100) -> dict[str, RacePath]:
    """Run each optimiser ``steps`` steps from the same start and return their paths.

    optimizers : optimiser name (one of nn.optim.OPTIMIZERS) -> its settings, the keyword arguments
                 of ``nn.optim.make_optimizer``: {"lr": 0.1, "momentum": 0.9}; ``surface.settings``
                 holds a good set for every optimiser
    start      : (x, y); default ``surface.start``
    """
    surface = get_surface(surface)
    start = surface.start if start is None else start
    if np.shape(start) != (2,) or not np.all(np.isfinite(start)):
        raise ValueError(f"start must be a finite point (x, y), got {start!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be a whole number in [0, {MAX_STEPS}], got {steps!r}")
    return {name: _walk(surface, name, settings, start, steps) for name, settings in optimizers.items()}


def _walk(surface: Surface, name: str, settings: dict[str, float], start, steps: int) -> RacePath:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    unknown = set(settings) - set(_SETTING_NAMES)
    if unknown or "lr" not in settings:
        raise ValueError(f"settings of {name} must give lr and may give {', '.join(_SETTING_NAMES[1:])}, "
                         f"got {sorted(settings)}")
    optimizer = make_optimizer(name, **settings)
    p = np.array(start, dtype=np.float64)
    params = {"xy": p}
    points = [p.copy()]
    diverged_at = None
    with np.errstate(over="ignore", invalid="ignore"):       # a diverging path is reported, not warned about
        for k in range(1, steps + 1):
            optimizer.step(params, {"xy": np.array(surface.gradient(p[0], p[1]))})
            if not np.all(np.isfinite(p)):
                diverged_at = k
                break
            points.append(p.copy())
        path = np.array(points)
        return RacePath(path, surface.value(path[:, 0], path[:, 1]), diverged_at)


def contour_grid(surface: str | Surface, box: tuple[float, float, float, float] | None = None,
                 n: int = 100) -> tuple[Array, Array, Array]:
    """The surface on an n x n grid over ``box`` (default ``surface.box``), for a contour plot.

    Returns xs : (n,), ys : (n,) and values : (n, n) with values[i, j] = f(xs[j], ys[i]) (rows
    follow y, as a contour plot expects). Rosenbrock's values span five orders of magnitude:
    draw its contours on a log scale.
    """
    surface = get_surface(surface)
    x_min, x_max, y_min, y_max = surface.box if box is None else box
    if not (x_min < x_max and y_min < y_max):
        raise ValueError(f"box must be (x_min, x_max, y_min, y_max) with min < max, got {box!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 2000:
        raise ValueError(f"n must be a whole number in [2, 2000], got {n!r}")
    xs, ys = np.linspace(x_min, x_max, n), np.linspace(y_min, y_max, n)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, surface.value(gx, gy)


@dataclass(frozen=True)
class PathFacts:
    """What one path did up to a step, measured, so a caption can say what happened in this race.

    distance    : from the point at that step to the nearest minimum
    value       : the surface's value there
    reversals   : how many times the path turned back along x or along y (the larger count):
                  a zigzag turns back at almost every step
    straightness: straight-line distance from the start / length of the path walked, in (0, 1];
                  1 is a straight line (1.0 when the path has not moved)
    overshoot   : how far the path ran past the minimum it ended nearest, along the line from the
                  start to that minimum (0 if it never passed it)
    diverged    : the path blew up at or before that step
    steps       : the steps walked (fewer than asked if it diverged)
    """

    distance: float
    value: float
    reversals: int
    straightness: float
    overshoot: float
    diverged: bool
    steps: int


def path_facts(surface: str | Surface, path: RacePath, step: int) -> PathFacts:
    """The facts of ``path`` (from ``race`` on ``surface``) at ``step``."""
    surface = get_surface(surface)
    points = path.points[:min(step, len(path.points) - 1) + 1]
    minima = np.array(surface.minima, dtype=np.float64)
    end = points[-1]
    nearest = minima[np.argmin(np.hypot(*(minima - end).T))]
    moves = np.diff(points, axis=0)
    signs = np.sign(moves)
    reversals = max((int(np.sum(signs[1:, k] * signs[:-1, k] < 0)) for k in range(2)), default=0) if len(moves) > 1 else 0
    walked = float(np.sum(np.hypot(*moves.T))) if len(moves) else 0.0
    straight = float(np.hypot(*(end - points[0])))
    to_min = nearest - points[0]
    span = float(np.hypot(*to_min))
    overshoot = float(max(0.0, np.max((points - points[0]) @ (to_min / span)) - span)) if span > 0 else 0.0
    return PathFacts(distance=float(np.hypot(*(nearest - end))), value=float(path.values[len(points) - 1]),
                     reversals=reversals, straightness=straight / walked if walked > 0 else 1.0,
                     overshoot=overshoot, diverged=path.diverged_at is not None and step >= path.diverged_at,
                     steps=len(points) - 1)
