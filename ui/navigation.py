"""Getting every visitor onto a page through app.py's navigation, even the very first one."""
from __future__ import annotations

import streamlit as st


def through_app(page_file: str) -> None:
    """Call first in every page. On a freshly started server, Streamlit's legacy multipage mode
    runs a directly linked page file (say /train?lr=0.01) on its own, before app.py has ever
    declared the navigation: no page config, and every file of pages/ listed in the sidebar.
    Detect that (app.py marks every session it runs in) and go through app.py once, which then
    switches to the requested page with the same query parameters."""
    if not st.session_state.get("_app_navigation"):
        st.session_state["_return_to"] = (page_file, dict(st.query_params))
        st.switch_page("app.py")
