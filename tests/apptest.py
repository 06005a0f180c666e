"""Pages opened under Streamlit's AppTest, as the page tests open them (see tests/conftest.py's
``train_apps`` fixture for the Train page)."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def open_app(page: str, query: dict | None = None, at: AppTest | None = None, timeout: float = 120) -> AppTest:
    """``page`` (a page script, e.g. "pages/train.py") opened through app.py with a link's ``query``:
    in a fresh session, or in ``at``'s (a link followed inside the app). Fails on any exception."""
    if at is None:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        at.run()
    at.switch_page(page)
    at.query_params.clear()
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at
