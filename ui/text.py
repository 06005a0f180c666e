"""Showing text that came from outside (a link, a file name, a model card) as text.

Streamlit's messages render Markdown, so a crafted link could put a clickable link or an image
inside the app's own warning box. ``plain`` escapes everything Markdown or HTML would act on, and
breaks the bare addresses Markdown would turn into links.
"""
from __future__ import annotations

import re

# Markdown's punctuation that can start formatting, links, images, HTML or math in Streamlit
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")
# GitHub-flavoured Markdown also links bare addresses ("http://...", "www....", "name@host"), escaped
# or not: a word joiner (U+2060, invisible, zero width) after "://", "www" and "@" stops it
_AUTOLINK = re.compile(r"(://|(?<![^\W_])www(?=\\?\.)|@)", re.IGNORECASE)
_JOINER = "\u2060"


def plain(text: str) -> str:
    """``text`` escaped so that st.markdown/st.warning/... show it exactly as written, and with no
    clickable link in it."""
    return _AUTOLINK.sub(lambda m: m.group(1) + _JOINER, _SPECIAL.sub(r"\\\1", str(text)))
