"""Figures of the Optimisers page: the paths of nn.race over the contours of its loss surface.

    race_figure   contours of the surface, each optimiser's path up to a step (and faintly the rest),
                  where each one is at that step, the start and the minima
    race_table    where each optimiser is at that step: the loss there, how far from a minimum
    race_summary  what happened in this race up to that step, in sentences computed from the paths
    LOOK_FOR      per surface, what to look for (what each kind of optimiser tends to do there)
    COLOURS       one colour per optimiser of nn.optim

Pure functions of arrays and nn.race's paths; no Streamlit.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nn.race import RacePath, Surface, path_facts
from nn.settings import SETTINGS
from ui.train_charts import TEMPLATE

COLOURS = {"sgd": "#1f77b4", "momentum": "#ff7f0e", "nesterov": "#8c564b", "adagrad": "#2ca02c",
           "rmsprop": "#9467bd", "adam": "#d62728"}
NAMES = SETTINGS["optimizer"].names
# surfaces whose values span many orders of magnitude: contours of log10(f - min + 0.01) show the valley
LOG_SURFACES = frozenset({"rosenbrock"})


def _levels(surface: Surface, values: np.ndarray) -> tuple[np.ndarray, str]:
    if surface.name in LOG_SURFACES:
        return np.log10(values - values.min() + 1e-2), "log₁₀ f"
    return values, "f"


def _upto(path: RacePath, step: int) -> np.ndarray:
    """The points of ``path`` from the start to ``step`` (fewer if it diverged before)."""
    return path.points[:min(step, len(path.points) - 1) + 1]


def race_figure(surface: Surface, grid: tuple[np.ndarray, np.ndarray, np.ndarray], paths: dict[str, RacePath],
                step: int, height: int = 560) -> go.Figure:
    """grid : (xs (n,), ys (n,), values (n, n)) from nn.race.contour_grid; paths : from nn.race.race."""
    xs, ys, values = grid
    z, z_title = _levels(surface, values)
    data = [{"type": "contour", "x": np.round(xs, 5), "y": np.round(ys, 5), "z": np.round(z, 4),
             "colorscale": "Blues", "reversescale": True, "opacity": 0.55, "ncontours": 28,
             "contours": {"coloring": "heatmap", "showlines": True}, "line": {"width": 0.5, "color": "#6b7c93"},
             "showscale": False, "name": z_title, "hovertemplate": f"x %{{x:.3g}}, y %{{y:.3g}}<br>{z_title} "
                                                                   "%{z:.3g}<extra></extra>"}]
    for name, path in paths.items():
        colour = COLOURS.get(name, "#333333")
        label = NAMES.get(name, name)
        if path.diverged_at is not None:
            label += f" (diverged at step {path.diverged_at})"
        data.append({"type": "scatter", "mode": "lines", "x": np.round(path.points[:, 0], 5),
                     "y": np.round(path.points[:, 1], 5), "line": {"color": colour, "width": 1, "dash": "dot"},
                     "opacity": 0.35, "hoverinfo": "skip", "showlegend": False, "legendgroup": name})
        shown = _upto(path, step)
        data.append({"type": "scatter", "mode": "lines+markers", "name": label, "legendgroup": name,
                     "x": np.round(shown[:, 0], 5), "y": np.round(shown[:, 1], 5),
                     "line": {"color": colour, "width": 2.5}, "marker": {"size": 4, "color": colour},
                     "customdata": np.arange(len(shown)),
                     "hovertemplate": f"{NAMES.get(name, name)}, step %{{customdata}}: (%{{x:.3g}}, %{{y:.3g}})"
                                      "<extra></extra>"})
        data.append({"type": "scatter", "mode": "markers", "x": [round(float(shown[-1, 0]), 5)],
                     "y": [round(float(shown[-1, 1]), 5)], "legendgroup": name, "showlegend": False,
                     "marker": {"size": 13, "color": colour, "line": {"color": "white", "width": 2}},
                     "hoverinfo": "skip"})
    minima = np.array(surface.minima)
    data.append({"type": "scatter", "mode": "markers", "name": "minimum", "x": minima[:, 0], "y": minima[:, 1],
                 "marker": {"symbol": "star", "size": 16, "color": "#fdd835", "line": {"color": "#31333F", "width": 1}}})
    first = next(iter(paths.values()), None)
    if first is not None:
        data.append({"type": "scatter", "mode": "markers", "name": "start", "x": [first.points[0, 0]],
                     "y": [first.points[0, 1]],
                     "marker": {"symbol": "circle-open", "size": 14, "color": "#31333F", "line": {"width": 2}}})
    x0, x1, y0, y1 = surface.box
    layout = {"template": TEMPLATE, "height": height, "hovermode": "closest", "uirevision": surface.name,
              "title": {"text": f"{surface.formula}: step {step}", "font": {"size": 15}},
              "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
              "legend": {"orientation": "h", "y": -0.08, "x": 0, "yanchor": "top"},
              "xaxis": {"range": [x0, x1], "title": {"text": "x"}, "constrain": "domain", "showgrid": False},
              "yaxis": {"range": [y0, y1], "title": {"text": "y"}, "scaleanchor": "x", "showgrid": False}}
    return go.Figure({"data": data, "layout": layout})


def race_table(surface: Surface, paths: dict[str, RacePath], step: int) -> dict[str, list[str]]:
    """Columns for st.table: each optimiser's point at ``step``, the loss there and its distance from
    the nearest minimum; a "note" column only when a path has diverged by then. Narrow enough for a
    390 px phone: the point is one column, the numbers have 3 significant digits."""
    rows: dict[str, list[str]] = {"optimiser": [], "(x, y)": [], "f(x, y)": [], "to a minimum": [], "note": []}
    for name, path in paths.items():
        facts = path_facts(surface, path, step)          # the same figures the summary above quotes
        x, y = path.points[facts.steps]
        rows["optimiser"].append(NAMES.get(name, name))
        rows["(x, y)"].append(f"({x:.3g}, {y:.3g})")
        rows["f(x, y)"].append(f"{facts.value:.3g}")
        rows["to a minimum"].append(f"{facts.distance:.3g}")
        rows["note"].append(f"diverged at step {path.diverged_at}" if facts.diverged else "")
    if not any(rows["note"]):
        del rows["note"]
    return rows


LOOK_FOR = {
    "bowl": "The bowl is 20 times steeper along y than along x. What to look for: a plain SGD step large enough "
            "to make progress along x overshoots across y, so SGD tends to zigzag; momentum builds up speed along "
            "x and can run past the minimum before it swings back; AdaGrad, RMSprop and Adam give each direction "
            "its own step size, which can straighten the path, though with a large rate they jitter around the "
            "minimum instead of settling.",
    "saddle": "The start sits almost exactly on the ridge of a saddle (y = 0.001), where the gradient along y is "
              "nearly zero. What to look for: how long each optimiser lingers near the saddle point (0, 0) before "
              "it falls sideways into one of the two valleys; momentum carries speed, and the adaptive methods "
              "scale tiny gradients up.",
    "rosenbrock": "Rosenbrock's valley is easy to find and hard to follow: a long, curved, nearly flat floor between "
                  "steep walls, with the minimum at (1, 1). What to look for: who bounces between the walls, who "
                  "stalls on the floor as its steps shrink, and who follows the curve towards (1, 1).",
}


def _names(items: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def race_summary(surface: Surface, paths: dict[str, RacePath], step: int) -> str:
    """What happened in this race up to ``step``, every claim computed from the paths (nn.race.path_facts):
    who is nearest a minimum and who farthest, who zigzagged, who ran past the minimum, whose path is
    the straightest, who diverged. Markdown, for a caption under the figure."""
    if not paths:
        return ""
    if step == 0:
        return f"**In this race, at step 0**, every optimiser is still at the start."
    facts = {NAMES.get(name, name): path_facts(surface, path, step) for name, path in paths.items()}
    alive = {n: f for n, f in facts.items() if not f.diverged}
    start = next(iter(paths.values())).points[0]
    span = float(np.min(np.hypot(*(np.array(surface.minima) - start).T)))     # from the start to a minimum
    out = [f"**In this race, at step {step}:**"]
    if alive:
        order = sorted(alive, key=lambda n: alive[n].distance)
        if len(order) == 1:
            out.append(f"{order[0]} is {alive[order[0]].distance:.3g} from a minimum.")
        elif len(order) <= 3:
            out.append("nearest a minimum " + ", then ".join(f"{n} ({alive[n].distance:.3g})" for n in order) + ".")
        else:
            out.append(f"nearest a minimum {order[0]} ({alive[order[0]].distance:.3g}) and {order[1]} "
                       f"({alive[order[1]].distance:.3g}); farthest {order[-1]} ({alive[order[-1]].distance:.3g}).")
    diverged = [f"{NAMES.get(name, name)} (at step {path.diverged_at})" for name, path in paths.items()
                if facts[NAMES.get(name, name)].diverged]
    if diverged:
        out.append(f"{_names(diverged)} diverged.")
    zigzag = [n for n, f in alive.items() if f.steps >= 4 and f.reversals >= f.steps / 2]
    if zigzag:
        out.append(f"{_names([f'{n} ({alive[n].reversals} times in {alive[n].steps} steps)' for n in zigzag])} "
                   "zigzagged, turning back at least every other step.")
    past = [n for n, f in alive.items() if span > 0 and f.overshoot > 0.05 * span]
    if past:
        out.append(f"{_names([f'{n} (by {alive[n].overshoot:.2g})' for n in past])} ran past the minimum "
                   "before turning back.")
    if len(alive) > 1:
        best = max(alive, key=lambda n: alive[n].straightness)
        out.append(f"The straightest path is {best}'s: it walked {1 / alive[best].straightness:.2f} times the "
                   "straight line from the start to where it is.")
    return " ".join(out)
