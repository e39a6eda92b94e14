"""A running app (streamlit run app.py on a free port, its own data root) and headless Chromium.

`start_app` is the one way the browser tests start a server (the plain app, the app with the
built-in password file, a server killed and restarted on the same data root); `sign_in` fills the
built-in sign-in form.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class App:
    """A `streamlit run app.py` server: its process (leader of its own process group) and URL."""

    process: subprocess.Popen
    url: str
    port: int

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Signal the server's whole process group (as a service manager would) and reap it."""
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=20)


def start_app(data: Path, log: Path, users: Path | None = None, port: int | None = None) -> App:
    """Start the app on loopback with `data` as its data root; return once it answers (60 s).

    Args:
        data: STUDIO_DATA for the server.
        log: where the server's output goes (appended, so a restart keeps the first server's).
        users: the built-in password file (STUDIO_USERS); None: no sign-in (one local user).
        port: the port (default: a free one); a restart passes the killed server's.
    """
    port = port or _free_port()
    env = dict(os.environ, STUDIO_DATA=str(data))
    if users is not None:
        env["STUDIO_USERS"] = str(users)
    args = ["--server.headless", "true", "--server.port", str(port)]
    args += ["--server.address", "127.0.0.1"]
    with open(log, "a") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches every child of it
        )
    app = App(process, f"http://127.0.0.1:{port}", port)
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=2)
            return app
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                app.stop(signal.SIGKILL)
                pytest.fail(f"streamlit did not start within 60 s; see {log}")
            time.sleep(0.5)


def sign_in(page, url: str, name: str, password: str) -> None:
    """Open `url` (a new Streamlit session) and sign in with the built-in form.

    A deep link to a page that a signed-out session lacks opens Streamlit's "Page not found"
    dialog over the form; it is closed first, as a user would.
    """
    page.goto(url)
    page.get_by_label("User name").wait_for(timeout=60_000)
    settle(page)
    if page.get_by_role("dialog").count():
        page.keyboard.press("Escape")
        page.get_by_role("dialog").wait_for(state="hidden")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {name}").wait_for(timeout=60_000)


def main_text(page) -> str:
    """What the page's main area shows now."""
    return page.locator("[data-testid='stMain']").inner_text()


def all_text(page) -> str:
    """Every text in the page's main area and sidebar, hidden text included: a table's cells are
    drawn on a canvas, and only its accessible copy (hidden) holds them as text (once drawn; a
    table below the fold may never be, so keep the viewport tall)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    undrawn = (
        "() => [...document.querySelectorAll('[data-testid=\"stDataFrame\"]')]"
        ".filter(frame => !frame.querySelector('table[role=grid]')).length"
    )
    try:
        page.wait_for_function(f"() => ({undrawn})() === 0", timeout=30_000)
    except PlaywrightTimeout:
        pytest.fail(f"{page.evaluate(undrawn)} table(s) on {page.url} were never drawn")
    return " | ".join(
        page.locator(f"[data-testid='{part}']").text_content() or ""
        for part in ("stMain", "stSidebar")
    )


def settle(page) -> None:
    """Wait until Streamlit has finished running the script (no 'Running…' indicator)."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )


def shot(page, name: str) -> Path:
    """A full-page screenshot in test-artifacts/e2e/ once charts and tables have drawn."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover tooltip over the picture
    page.wait_for_timeout(1_000)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def app_data_root(tmp_path_factory) -> Path:
    """The data root of this module's app: a test may put data or runs there before (or while)
    the app serves it (every page reads the folder again when it runs)."""
    return tmp_path_factory.mktemp("studio-data")


@pytest.fixture(scope="module")
def app_url(app_data_root, tmp_path_factory):
    app = start_app(app_data_root, tmp_path_factory.mktemp("log") / "streamlit.log")
    yield app.url
    app.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (.ci/setup installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
