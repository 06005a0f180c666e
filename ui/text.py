"""Showing text that came from outside (a link, a file name, a model card) as text.

Streamlit's messages render Markdown, so a crafted link could put a clickable link or an image
inside the app's own warning box. ``plain`` escapes everything Markdown or HTML would act on.
"""
from __future__ import annotations

import re

# Markdown's punctuation that can start formatting, links, images, HTML or math in Streamlit
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def plain(text: str) -> str:
    """``text`` escaped so that st.markdown/st.warning/... show it exactly as written."""
    return _SPECIAL.sub(r"\\\1", str(text))
