"""Entry point: `streamlit run app.py`. Page config and navigation over the pages in pages/."""
import streamlit as st

st.set_page_config(page_title="Neural network, by hand", page_icon="🧠", layout="wide")

# Each url_path equals its file's name: on a fresh server the very first request is resolved
# against pages/ before st.navigation has run, so a shared link such as /weight_init?... must
# name a file there, or Streamlit shows "Page not found" to the first visitor.
PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="📉", url_path="train"),
    st.Page("pages/weight_init.py", title="Weight init", icon="📊", url_path="weight_init"),
    st.Page("pages/draw.py", title="Draw", icon="✏️", url_path="draw"),
]

st.navigation(PAGES).run()
