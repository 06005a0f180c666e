"""Entry point: `streamlit run app.py`. Page config and navigation over the pages in pages/."""
import streamlit as st

st.set_page_config(page_title="Neural network, by hand", page_icon="🧠", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="📉", url_path="train"),
    st.Page("pages/weight_init.py", title="Weight init", icon="📊", url_path="weight-init"),
    st.Page("pages/draw.py", title="Draw", icon="✏️", url_path="draw"),
]

st.navigation(PAGES).run()
