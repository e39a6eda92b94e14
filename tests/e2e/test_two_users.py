"""Two users signed in at once, in two browser contexts of one real `streamlit run app.py` with the
built-in password file (issue #12, per-user workspaces).

Ana uploads a file through the Data page; a finished run and a running job of hers are made with
core's own functions in her workspace (a tiny BERT built from a config). Ben, signed in at the same
time, visits every page and a deep link naming her run: nothing of her file, rows, runs, data path
or job shows, and no page offers him Stop or Download. Ana, after a reload and a new sign-in, is
reattached to her running job. Screenshots: test-artifacts/e2e/two-users-*.png.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from core import jobs, runs, users
from core.data.load import store_upload
from core.settings import RunConfig
from tests.e2e.conftest import all_text, settle, shot, sign_in, start_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long password"
FILE_NAME = "ana-private-reviews.csv"
ROW_WORD = "flamingo"  # in every row of ana's file, nowhere else in the app
# Each page's link title, and a text it shows once drawn.
PAGES = {
    "Home": "Finetune Studio",
    "1 · Model": "Choose a model",
    "2 · Data": "Bring your data",
    "3 · Train": "Train your model",
    "4 · Results": "How good is your model?",
    "Expert settings": "Every parallelism and training setting",
    "Jobs": "Log tail",
    "Runs": "Which runs used this data?",  # the lineage graph's question, under ben's own run
}


def _anas_rows() -> bytes:
    lines = ["text,label"]
    for i in range(40):
        word, label = ("great", "positive") if i % 2 else ("awful", "negative")
        lines.append(f"{ROW_WORD}{i} the parcel was {word},{label}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with users ana and ben; the test process shares its data root (core's functions
    then act on the same files), and jobs it starts train with one thread (the machine is shared)."""
    folder = tmp_path_factory.mktemp("two-users")
    for name in ("ana", "ben"):
        users.add_user(name, PASSWORD, path=folder / "users.json")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_DATA", str(folder / "data"))
        patch.setenv("OMP_NUM_THREADS", "1")
        app = start_app(folder / "data", folder / "streamlit.log", users=folder / "users.json")
        yield app
        app.stop()


def _anas_runs(upload: Path, model: Path) -> tuple[Path, Path]:
    """A finished run and a running job in ana's workspace, started as the Train page would."""

    def config(name: str, steps: int) -> RunConfig:
        return RunConfig(name=name).replace(
            model={"name_or_path": str(model)},
            data={"path": str(upload), "text_column": "text", "label_column": "label"},
            training={"max_steps": steps, "max_length": 32, "per_device_train_batch_size": 8},
        )

    runs.set_workspace("ana")
    try:
        finished = jobs.start_job(config("ana-finished-run", 10))
        status = jobs.wait_for(finished, timeout=240)
        assert status["state"] == "completed", runs.tail_log(finished)
        return finished, jobs.start_job(config("ana-live-run", 100_000))
    finally:
        runs.set_workspace(None)


def _bens_own_run() -> Path:
    """A run of ben's (it never started), so his Jobs, Runs and lineage have something to list."""
    runs.set_workspace("ben")
    try:
        data = store_upload(b"text,label\nmine,a\nyours,b\n", "ben.csv", runs.workspace_root())
        run_dir = runs.create_run(RunConfig(name="ben-own-run").replace(data={"path": str(data)}))
        runs.write_status(run_dir, state="failed", message="Never started (made by the test).")
        return run_dir
    finally:
        runs.set_workspace(None)


def _ben_sees_nothing_of_anas(page, secrets: list[str]) -> str:
    settle(page)
    shown = all_text(page)
    for secret in secrets:
        assert secret not in shown, (page.url, secret)
    actions = ("Stop this run", "Cancel (not started yet)", "Download the adapter (.zip)")
    for action in actions + ("Download the model (.zip)",):
        assert page.get_by_role("button", name=action).count() == 0, (page.url, action)
    return shown


def test_two_signed_in_users_see_only_their_own_work(server, browser, tiny_bert):
    started = time.time()
    ana = browser.new_context(viewport={"width": 1280, "height": 2400}).new_page()
    sign_in(ana, server.url, "ana", PASSWORD)
    ana.get_by_role("link", name="2 · Data").click()
    ana.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(
        files=[{"name": FILE_NAME, "mimeType": "text/csv", "buffer": _anas_rows()}]
    )
    ana.get_by_text(f"{FILE_NAME}: 40 rows").wait_for(timeout=60_000)
    ana.locator("td", has_text=f"{ROW_WORD}0").first.wait_for(state="attached", timeout=30_000)
    assert f"{ROW_WORD}0" in all_text(ana)  # her rows show on her own page
    (upload,) = (runs.data_root() / "users").glob(f"*/uploads/*/{FILE_NAME}")
    _bens_own_run()
    print(f"ana uploaded: {time.time() - started:.1f} s")
    finished, live = _anas_runs(upload, tiny_bert)
    print(f"ana's runs made: {time.time() - started:.1f} s")
    try:
        secrets = [FILE_NAME, ROW_WORD, "ana-finished-run", "ana-live-run", finished.name]
        secrets += [live.name, runs.user_folder("ana"), str(upload.parent)]

        ben = browser.new_context(viewport={"width": 1280, "height": 2400}).new_page()
        sign_in(ben, server.url, "ben", PASSWORD)
        for title, drawn in PAGES.items():
            ben.get_by_role("link", name=title, exact=True).click()
            ben.get_by_text(drawn).first.wait_for(timeout=60_000)
            shown = _ben_sees_nothing_of_anas(ben, secrets)
            if title in ("Jobs", "Runs"):
                assert "ben-own-run" in shown, title  # his own run is listed, hers is not
            if title in ("Jobs", "3 · Train", "Runs"):
                shot(ben, f"two-users-ben-{title.split()[-1].lower()}")
        # A deep link naming her run opens a new session: ben signs in and still sees nothing.
        sign_in(ben, f"{server.url}/train?run={live.name}", "ben", PASSWORD)
        _ben_sees_nothing_of_anas(ben, secrets)
        assert jobs.refresh_status(live)["state"] in runs.ACTIVE_STATES  # untouched by ben
        print(f"ben done: {time.time() - started:.1f} s")

        ana.reload()  # a reload is a new session: sign in again, then the job is found again
        sign_in(ana, ana.url, "ana", PASSWORD)
        ana.get_by_role("link", name="3 · Train").click()
        ana.get_by_text(f"Run {live.name}").wait_for(timeout=60_000)
        ana.get_by_text("Running · step").wait_for(timeout=120_000)
        shot(ana, "two-users-ana-train")
        ana.get_by_role("link", name="Jobs").click()
        ana.get_by_text("Log tail").wait_for(timeout=60_000)
        settle(ana)
        assert "ana-finished-run" in all_text(ana) and live.name in all_text(ana)
        assert ana.get_by_role("button", name="Stop this run").count() == 1  # hers to stop
        ben.context.close()
        ana.context.close()
    finally:
        status = runs.read_status(live)
        if jobs.live_process(status):
            os.killpg(status["supervisor_pid"], signal.SIGKILL)
    print(f"two users: {time.time() - started:.1f} s")
