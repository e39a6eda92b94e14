"""Sign-in in a real browser: a signed-out visitor sees only the sign-in on every page URL (a cold
deep link included); signing in opens the app; another browser context is still signed out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from core import users
from tests.e2e.conftest import ROOT, _free_port

pytestmark = [pytest.mark.browser]
PAGES = ["", "model", "data", "train", "results", "experts", "jobs"]


@pytest.fixture(scope="module")
def signin_url(tmp_path_factory):
    """The app on loopback with the built-in password file holding one user, ana."""
    folder = tmp_path_factory.mktemp("signin")
    users.add_user("ana", "a long password", path=folder / "users.json")
    port = _free_port()
    env = dict(
        os.environ, STUDIO_DATA=str(folder / "data"), STUDIO_USERS=str(folder / "users.json")
    )
    args = ["--server.headless", "true", "--server.port", str(port)]
    with open(folder / "streamlit.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                assert time.time() < deadline, "streamlit did not start within 60 s"
                time.sleep(0.5)
        yield url
        os.killpg(server.pid, 15)
        server.wait(timeout=20)


def _shows_only_the_sign_in(page) -> None:
    page.get_by_label("User name").wait_for(timeout=60_000)
    assert page.get_by_label("Password", exact=True).is_visible()
    body = page.locator("[data-testid='stMain']").inner_text()
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
