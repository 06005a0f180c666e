"""A widget for any setting of nn/settings.py's table, built from the table alone: its label, help,
allowed values and steps. A value between two steps of a slider (from a link, say) is offered
among the steps, so the widget shows exactly the value that was asked for.

    setting_widget  draw the widget of a setting; its value lives in st.session_state
    widget_state    the session-state entries that make a setting's widget show a value
    widget_value    what a setting's widget says now (a default when it was never drawn)

A setting of several choices (``Setting.several``, the input features) is one checkbox per choice,
under keys ``<key>.<choice>``; the others are one widget under ``key``.
"""
from __future__ import annotations

import streamlit as st

from nn.settings import SETTINGS, Setting


def _number(value) -> str:
    return f"{value:g}"


def _choice_key(key: str, choice: str) -> str:
    return f"{key}.{choice}"


def widget_state(name: str, key: str, value) -> dict:
    """{session-state key: value} that make setting ``name``'s widget under ``key`` show ``value``."""
    s: Setting = SETTINGS[name]
    if s.several:
        return {_choice_key(key, c): c in value for c in s.choices}
    return {key: value}


def widget_value(name: str, key: str, default=None):
    """The value setting ``name``'s widget under ``key`` holds now, or ``default`` if it has none."""
    s: Setting = SETTINGS[name]
    state = st.session_state
    if s.several:
        keys = [_choice_key(key, c) for c in s.choices]
        if not all(k in state for k in keys):
            return default
        return tuple(c for c, k in zip(s.choices, keys) if state[k]) or default
    return state[key] if key in state else default


def setting_widget(name: str, key: str, **kwargs):
    """Draw the widget of setting ``name`` (its value lives in ``st.session_state[key]``) and return
    its value. ``kwargs`` go to the Streamlit widget (on_change, disabled, ...)."""
    s: Setting = SETTINGS[name]
    if s.several:
        return _several_widget(s, key, **kwargs)
    current = st.session_state.get(key)
    common = dict(key=key, help=s.help, **kwargs)
    if s.kind is bool:
        return st.toggle(s.label, **common)
    if s.kind is str:
        return st.selectbox(s.label, s.choices, format_func=s.name_of, **common)
    if s.grid:
        return st.select_slider(s.label, s.options(current), format_func=_number, **common)
    if s.step is not None:
        return st.slider(s.label, s.kind(s.low), s.kind(s.high), step=s.kind(s.step), **common)
    return st.number_input(s.label, s.kind(s.low), s.kind(s.high), step=s.kind(1), **common)


def width_widget(layer: int, key: str, **kwargs) -> int:
    """The width of hidden layer ``layer`` (1-based), from the steps of the "hidden" setting."""
    s = SETTINGS["hidden"]
    return st.select_slider(f"Layer {layer}", s.options(st.session_state.get(key)), key=key,
                            help=f"How many neurons hidden layer {layer} has (its width). Wider layers can draw "
                                 "more detailed boundaries, but are slower and overfit more easily.", **kwargs)


def _several_widget(s: Setting, key: str, disabled: bool = False, **kwargs) -> tuple:
    """One checkbox per choice in two columns (the first half, then the rest); the last one ticked
    cannot be unticked (a setting of several needs at least one)."""
    chosen = widget_value(s.name, key, ())
    st.markdown(f"**{s.label}**", help=s.help)
    columns = st.columns(2)
    half = -(-len(s.choices) // 2)
    for i, choice in enumerate(s.choices):
        columns[i // half].checkbox(s.name_of(choice), key=_choice_key(key, choice),
                                help=f"Feed the network {s.name_of(choice)} too. {s.help}",
                                disabled=disabled or chosen == (choice,), **kwargs)
    return widget_value(s.name, key, ())
