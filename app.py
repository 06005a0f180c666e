"""Entry point: `streamlit run app.py`. Page config and navigation over the pages in pages/."""
import os

# One BLAS thread in the web server: its NumPy work is small (a drawing's forward pass), and two
# threads per process spin against the training processes on a 2-core machine (read(): 33-55 ms
# with two threads, 2-7 ms with one, measured under load). Only effective before NumPy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas  # noqa: E402,F401  imported once here: plotly otherwise imports it lazily from two sessions' threads at once and can see it half-initialised
import streamlit as st  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from ui.shared import remember_learner  # noqa: E402


@st.cache_resource(show_spinner=False)
def app_icon() -> Image.Image:
    """A small network (2-3-2 units) as the browser tab's icon, drawn here: a material icon as
    page_icon is fetched from fonts.gstatic.com, which an offline classroom cannot reach."""
    size, k = 64, 4                                     # drawn 4x larger, then scaled down (smooth edges)
    img = Image.new("RGBA", (size * k, size * k), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    layers = [[(10, 22), (10, 42)], [(32, 12), (32, 32), (32, 52)], [(54, 22), (54, 42)]]
    for left, right in zip(layers, layers[1:]):
        for a in left:
            for b in right:
                draw.line([(a[0] * k, a[1] * k), (b[0] * k, b[1] * k)], fill=(49, 51, 63, 255), width=3 * k)
    for layer in layers:
        for x, y in layer:
            draw.ellipse([(x - 7) * k, (y - 7) * k, (x + 7) * k, (y + 7) * k], fill=(255, 75, 75, 255),
                         outline=(255, 255, 255, 255), width=2 * k)
    return img.resize((size, size), Image.LANCZOS)


st.set_page_config(page_title="Neural network, by hand", page_icon=app_icon(), layout="wide")

# Each url_path equals its file's name: on a fresh server the very first request is resolved
# against pages/ before st.navigation has run, so a shared link such as /weight_init?... must
# name a file there, or Streamlit shows "Page not found" to the first visitor.
PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:", url_path="train"),
    st.Page("pages/weight_init.py", title="Weight init", icon=":material/bar_chart:", url_path="weight_init"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
    st.Page("pages/race.py", title="Optimisers", icon=":material/conversion_path:", url_path="race"),
]

page = st.navigation(PAGES)
st.session_state["_app_navigation"] = True
# A first visitor sent here by ui.navigation.through_app (see there) goes on to the page they asked for.
return_to = st.session_state.pop("_return_to", None)
if return_to is not None:
    st.switch_page(return_to[0], query_params=return_to[1])
remember_learner()           # every page: a learner's saved models stay theirs after a reload
page.run()
