"""A plotly chart that is updated in place, for figures redrawn several times a second.

``st.plotly_chart`` gives every new figure a new element id, so each update unmounts the chart
and builds a new one from scratch: the chart blinks (in Chromium on these 2-core machines, a
blank chart in ~1 of 5 screenshots while the Train page redraws 5 times a second), the
learner's zoom is lost (``uirevision`` cannot work across mounts) and the browser pays for a
whole new plot every time. ``live_chart`` keeps one chart and hands each new figure to
``Plotly.react`` on it (measured: the browser's CPU for the curves at 5 redraws a second falls
from 0.46 to 0.25 of a core).

plotly.js comes from the installed ``plotly`` package (the same one that builds the figures),
copied once into ./static and served by Streamlit's static file serving
(.streamlit/config.toml: ``server.enableStaticServing``). Where that is impossible (a read-only
install, static serving turned off), ``live_chart`` falls back to ``st.plotly_chart``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import plotly
import plotly.graph_objects as go
from plotly.io.json import to_json_plotly
import streamlit as st

from nn.files import atomic_file

ROOT = Path(__file__).resolve().parents[1]
STATIC_DIR = ROOT / "static"              # Streamlit serves <app dir>/static/* at app/static/*
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
CONFIG = {"displayModeBar": False, "responsive": True}

# Runs in the page (not an iframe) each time the data changes: load plotly.js once per browser
# tab, keep one plot div per chart, and update it with Plotly.react (same div, no remount).
_JS = """
export default function (component) {
  const { data, parentElement } = component;
  let div = parentElement.querySelector("div.nn-live-chart");
  if (!div) {
    div = document.createElement("div");
    div.className = "nn-live-chart";
    div.style.width = "100%";
    parentElement.appendChild(div);
  }
  const figure = JSON.parse(data.figure);
  div.style.minHeight = (figure.layout.height || 400) + "px";   // no jump while plotly.js loads
  // text and grid lines in the page's own text colour: readable in Streamlit's light and dark themes
  const rgb = (getComputedStyle(div).color.match(/[0-9.]+/g) || [49, 51, 63]).slice(0, 3).join(",");
  const theme = ((figure.layout.template = figure.layout.template || {}).layout =
                 figure.layout.template.layout || {});
  theme.font = { ...(theme.font || {}), color: `rgb(${rgb})` };
  for (const axis of ["xaxis", "yaxis"]) {
    theme[axis] = { ...(theme[axis] || {}), gridcolor: `rgba(${rgb},0.1)`, linecolor: `rgba(${rgb},0.25)`,
                    zerolinecolor: `rgba(${rgb},0.25)`, tickcolor: `rgba(${rgb},0.25)` };
  }
  if (!window.__nnPlotly) {
    window.__nnPlotly = new Promise((resolve, reject) => {
      if (window.Plotly) { resolve(window.Plotly); return; }
      const script = document.createElement("script");
      script.src = data.library;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { window.__nnPlotly = null; reject(new Error("plotly.js did not load")); };
      document.head.appendChild(script);
    });
  }
  window.__nnPlotly.then((Plotly) => {
    // a newer figure may have arrived while this one waited: draw only the latest
    div.__nnLatest = figure;
    if (div.__nnBusy) return;
    const draw = () => {
      const next = div.__nnLatest;
      div.__nnLatest = null;
      div.__nnBusy = true;
      Plotly.react(div, next.data, next.layout, data.config).finally(() => {
        div.__nnBusy = false;
        if (div.__nnLatest) draw();
      });
    };
    draw();
  }).catch((error) => { div.textContent = "The chart could not be drawn: " + error.message; });
}
"""


@st.cache_resource(show_spinner=False)
def _component():
    return st.components.v2.component("nn_live_chart", js=_JS, isolate_styles=False)


@st.cache_resource(show_spinner=False)
def plotly_url() -> str | None:
    """The URL of plotly.js as served from ./static, copying it there first if needed (once per
    server process, written atomically). None when it cannot be served."""
    if not st.get_option("server.enableStaticServing"):
        return None
    target = STATIC_DIR / PLOTLY_JS.name
    try:
        if not target.is_file() or target.stat().st_size != PLOTLY_JS.stat().st_size:
            with open(PLOTLY_JS, "rb") as source, atomic_file(target) as out:
                shutil.copyfileobj(source, out)
    except OSError:
        return None
    return f"app/static/{target.name}"


def live_chart(figure: go.Figure | dict, key: str, config: dict | None = None) -> None:
    """Show ``figure``; on the next rerun with the same key, update that same chart in place.

    figure : a go.Figure, or plotly's dict of one (``{"data", "layout"}``, numpy arrays allowed),
        sent to the browser as it is, unvalidated: what the live views pass (ui/train_charts.py)."""
    config = {**CONFIG, **(config or {})}
    url = plotly_url()
    if url is None:
        st.plotly_chart(figure, key=key, config=config)
        return
    spec = figure.to_json(validate=False) if isinstance(figure, go.Figure) else to_json_plotly(figure)
    _component()(key=key, data={"figure": spec, "library": url, "config": config})
