"""Sign-in in a real browser: a signed-out visitor sees only the sign-in on every page URL (a cold
deep link included); signing in opens the app; another browser context is still signed out."""

from __future__ import annotations

import pytest

from core import users
from tests.e2e.conftest import main_text, start_app

pytestmark = [pytest.mark.browser]
PAGES = ["", "model", "data", "train", "results", "experts", "jobs"]


@pytest.fixture(scope="module")
def signin_url(tmp_path_factory):
    """The app on loopback with the built-in password file holding one user, ana."""
    folder = tmp_path_factory.mktemp("signin")
    users.add_user("ana", "a long password", path=folder / "users.json")
    app = start_app(folder / "data", folder / "streamlit.log", users=folder / "users.json")
    yield app.url
    app.stop()


def _shows_only_the_sign_in(page) -> None:
    page.get_by_label("User name").wait_for(timeout=60_000)
    assert page.get_by_label("Password", exact=True).is_visible()
    body = main_text(page)
    for private in ("Jobs", "Train your model", "Expert settings", "This computer", "Download"):
        assert private not in body, (page.url, private)
    assert page.locator("[data-testid='stSidebarNav']").count() == 0


def test_signed_out_every_page_url_shows_only_the_sign_in(signin_url, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{signin_url}/jobs")  # the server's very first request: a cold deep link
    _shows_only_the_sign_in(page)
    for name in PAGES:
        page.goto(f"{signin_url}/{name}")
        _shows_only_the_sign_in(page)
    context.close()


def test_sign_in_opens_the_app_for_this_browser_only(signin_url, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(signin_url)
    page.get_by_label("User name").fill("ana")
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong user name or password").wait_for(timeout=60_000)
    page.get_by_label("Password", exact=True).fill("a long password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for(timeout=60_000)
    page.get_by_role("link", name="Jobs").click()
    page.get_by_role("heading", name="Jobs").wait_for(timeout=60_000)

    stranger = browser.new_context().new_page()
    stranger.goto(f"{signin_url}/jobs")
    _shows_only_the_sign_in(stranger)
    context.close()
