"""Optimisers: every optimiser of nn.optim races down the same 2-D loss surface from the same start.

Widgets (the surface, the steps, each optimiser's settings from nn/settings.py's table), one call to
nn.race, then the paths over the contours, what to look for and what happened in this race, and where
each optimiser is (ui/race_charts.py), step by step.
"""
from __future__ import annotations

import inspect

import streamlit as st

from nn.optim import OPTIMIZERS, make_optimizer
from nn.race import OPTIMIZER_SETTINGS, SURFACES, contour_grid, race
from ui.navigation import through_app
from ui.race_charts import LOOK_FOR, NAMES, race_figure, race_summary, race_table
from ui.widgets import setting_widget

through_app("pages/race.py")
ss = st.session_state
DEFAULTS = {name: p.default for name, p in inspect.signature(make_optimizer).parameters.items()
            if p.default is not inspect.Parameter.empty}

st.title("Optimisers race")
st.markdown("Every optimiser of the engine starts from the same point of the same loss surface and takes "
            "the same number of steps. Their paths come from nn's own optimiser classes, moving a point "
            "instead of a network's weights. Change a learning rate and watch its path change.")

top = st.columns([2, 1], vertical_alignment="bottom")
surface_name = top[0].selectbox("Loss surface", list(SURFACES), key="race_surface",
                                format_func=lambda n: f"{n.capitalize()}: {SURFACES[n].formula}",
                                help="The function the optimisers minimise. The bowl is steep one way and flat "
                                     "the other; the saddle goes down one way and up the other; Rosenbrock's "
                                     "valley is long, curved and flat-floored.")
steps = top[1].slider("Steps", 10, 500, 100, step=10, key="race_steps",
                      help="How many updates every optimiser makes.")
chosen = st.pills("Optimisers", OPTIMIZERS, selection_mode="multi", default=list(OPTIMIZERS),
                      key="race_optimizers", format_func=lambda n: NAMES.get(n, n),
                            help="Which optimisers race. Each starts with settings that show its character "
                                 "on this surface; change them below.")
surface = SURFACES[surface_name]

settings: dict[str, dict[str, float]] = {}
with st.expander("Settings of each optimiser, and the start", icon=":material/tune:"):
    st.caption("Each surface has its own starting settings (a rate that suits SGD on the bowl would throw "
               "it off Rosenbrock's walls); they come back when you switch surfaces.")
    columns = st.columns(3)
    for i, name in enumerate(chosen):
        with columns[i % 3]:
            st.markdown(f"**{NAMES.get(name, name)}**")
            settings[name] = {}
            for knob in OPTIMIZER_SETTINGS[name]:
                key = f"race_{surface_name}_{name}_{knob}"
                if key not in ss:
                    ss[key] = surface.settings.get(name, {}).get(knob, DEFAULTS.get(knob))
                settings[name][knob] = setting_widget(knob, key)
    x0, x1, y0, y1 = surface.box
    left, right = st.columns(2)
    start = (left.number_input("Start x", float(x0), float(x1), float(surface.start[0]), step=0.1,
                               key=f"race_{surface_name}_x", help="Where every optimiser starts (x)."),
             right.number_input("Start y", float(y0), float(y1), float(surface.start[1]), step=0.1, format="%.3f",
                                key=f"race_{surface_name}_y", help="Where every optimiser starts (y)."))

if not chosen:
    st.info("Pick at least one optimiser above.")
    st.stop()
# the step follows the end of the race when it was there (more steps asked for), and never passes it;
# set every time: a slider whose range changed is a new widget, which would start again at 0
shown = ss.get("race_step", steps)
ss["race_step"] = steps if shown >= steps or shown == ss.get("race_last_steps") else shown
ss["race_last_steps"] = steps
step = st.slider("Step", 0, steps, key="race_step",
                 help="Show the paths up to this step: drag it to watch them unfold, one update at a time.")

paths = race(surface_name, settings, start, steps)
st.plotly_chart(race_figure(surface, contour_grid(surface_name, n=120), paths, step), key="race_chart",
                config={"displayModeBar": False})
st.caption(f"{LOOK_FOR[surface_name]} Dotted: the rest of each path. The star marks the minimum, the ring "
           "the start. Background: the height of the surface (darker is lower" +
           (", on a log scale" if surface_name == "rosenbrock" else "") + ").")
st.markdown(race_summary(surface, paths, step))
st.table(race_table(surface, paths, step))
