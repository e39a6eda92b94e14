"""AppTest helpers: the whole app (router + pages) with an isolated data root."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def allow_test_folders(tmp_path_factory, monkeypatch):
    """Tests name files in pytest's temporary folders: allow them as an operator would
    (core/paths.py confines typed paths to the allowed roots)."""
    monkeypatch.setenv("STUDIO_ALLOWED_ROOTS", str(tmp_path_factory.getbasetemp()))


@pytest.fixture
def routed(monkeypatch):
    """As on a running server after its first page view, app.py (the sign-in gate, the user's
    workspace) runs before every page; AppTest otherwise runs a switched-to page file alone."""
    from streamlit.runtime import pages_manager
    from streamlit.testing.v1 import app_test

    class Routed(pages_manager.PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pages_manager.PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", Routed)


@pytest.fixture
def app(data_root) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception
    return at


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return matches[0]


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)
