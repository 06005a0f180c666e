"""A widget for any setting of nn/settings.py's table, built from the table alone: its label, help,
allowed values and steps. A value between two steps of a slider (from a link, say) is offered
among the steps, so the widget shows exactly the value that was asked for.
"""
from __future__ import annotations

import streamlit as st

from nn.settings import SETTINGS, Setting


def _number(value) -> str:
    return f"{value:g}"


def setting_widget(name: str, key: str, **kwargs):
    """Draw the widget of setting ``name`` (its value lives in ``st.session_state[key]``) and return
    its value. ``kwargs`` go to the Streamlit widget (on_change, disabled, ...)."""
    s: Setting = SETTINGS[name]
    current = st.session_state.get(key)
    common = dict(key=key, help=s.help, **kwargs)
    if s.kind is bool:
        return st.toggle(s.label, **common)
    if s.kind is str:
        return st.selectbox(s.label, s.choices, format_func=lambda v: s.names.get(v, v), **common)
    if s.grid:
        return st.select_slider(s.label, s.options(current), format_func=_number, **common)
    if s.step is not None:
        return st.slider(s.label, s.kind(s.low), s.kind(s.high), step=s.kind(s.step), **common)
    return st.number_input(s.label, s.kind(s.low), s.kind(s.high), step=s.kind(1), **common)


def width_widget(layer: int, key: str, **kwargs) -> int:
    """The width of hidden layer ``layer`` (1-based), from the steps of the "hidden" setting."""
    s = SETTINGS["hidden"]
    return st.select_slider(f"Neurons in hidden layer {layer}", s.options(st.session_state.get(key)), key=key,
                            help="Wider layers can draw more detailed boundaries, but are slower and overfit "
                                 "more easily.", **kwargs)
