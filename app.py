"""Entry point: `streamlit run app.py`. Page config and navigation over the pages in pages/."""
import streamlit as st

st.set_page_config(page_title="Neural network, by hand", page_icon=":material/neurology:", layout="wide")

# Each url_path equals its file's name: on a fresh server the very first request is resolved
# against pages/ before st.navigation has run, so a shared link such as /weight_init?... must
# name a file there, or Streamlit shows "Page not found" to the first visitor.
PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:", url_path="train"),
    st.Page("pages/weight_init.py", title="Weight init", icon=":material/bar_chart:", url_path="weight_init"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
]

page = st.navigation(PAGES)
st.session_state["_app_navigation"] = True
# A first visitor sent here by pages.common.through_app (see there) goes on to the page they asked for.
return_to = st.session_state.pop("_return_to", None)
if return_to is not None:
    st.switch_page(return_to[0], query_params=return_to[1])
page.run()
