"""The Streamlit server killed (kill -9 of its whole process group) and restarted mid-run, with a
real `streamlit run app.py` and a browser (issue #12's fault).

Ana starts a tiny BERT's training from the Expert settings page (an opened config, "Run on this
machine": the job's supervisor is started by the server, in its own session, core/jobs.py). The
server's process group is killed while the job trains; training goes on; a server restarted on the
same data root serves a fresh browser context in which ana, signed in again, is reattached to the
job on the Train page and sees it finish with every step and its evaluation.
Screenshots: test-artifacts/e2e/server-restart-*.png.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from core import jobs, runs, users
from core.settings import RunConfig
from tests.conftest import write_reviews
from tests.e2e.conftest import settle, shot, sign_in, start_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a long password"
STEPS = 2000  # 30-60 s of training on 2 CPU cores: outlives the kill, the restart and a sign-in


def _wait(condition, timeout: float, why) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, why()
        time.sleep(0.2)


def _expert_config(data: Path, tiny_bert: Path) -> bytes:
    """Ana's config, naming a model and a data file inside the server's allowed folders."""
    model = data / "models" / "tiny-bert"
    model.mkdir(parents=True)
    for part in tiny_bert.iterdir():
        (model / part.name).write_bytes(part.read_bytes())
    (data / "data").mkdir()
    reviews = write_reviews(data / "data" / "reviews.csv")
    config = RunConfig(name="ana-restart").replace(
        model={"name_or_path": str(model)},
        data={"path": str(reviews), "text_column": "text", "label_column": "label"},
        training={"max_steps": STEPS, "max_length": 32, "per_device_train_batch_size": 8},
    )
    return config.save(data / "ana.yaml").read_bytes()


def _start_from_the_expert_page(page, config: bytes) -> None:
    page.get_by_role("link", name="Expert settings").click()
    uploader = page.locator("[data-testid='stFileUploader']", has_text="Open expert config")
    uploader.locator("input[type=file]").set_input_files(
        files=[{"name": "ana.yaml", "mimeType": "application/x-yaml", "buffer": config}]
    )
    page.get_by_text("Opened ana.yaml").wait_for(timeout=60_000)
    settle(page)
    page.get_by_role("button", name="Run on this machine").click()
    page.get_by_text("Train your model").wait_for(timeout=60_000)


def test_a_killed_and_restarted_server_leaves_training_alone_and_the_owner_reattaches(
    tmp_path, browser, tiny_bert
):
    started = time.time()
    users.add_user("ana", PASSWORD, path=tmp_path / "users.json")
    data, log = tmp_path / "data", tmp_path / "streamlit.log"
    data.mkdir()
    config = _expert_config(data, tiny_bert)
    app = start_app(data, log, users=tmp_path / "users.json")
    run_dir = None
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 2400}).new_page()
        sign_in(page, app.url, "ana", PASSWORD)
        _start_from_the_expert_page(page, config)
        (run_dir,) = (data / "users").glob("*/runs/*-expert-*")
        page.get_by_text(f"Run {run_dir.name}").wait_for(timeout=30_000)
        _wait(
            lambda: runs.read_status(run_dir).get("step", 0) >= 1,
            240,
            lambda: runs.tail_log(run_dir),
        )
        status = runs.read_status(run_dir)
        # The job lives in its own session, so killing the server's group leaves it running.
        assert os.getpgid(status["supervisor_pid"]) != app.process.pid

        page.context.close()
        step, killed = status["step"], time.time()
        app.stop(signal.SIGKILL)  # the whole server, as an OOM killer or `kill -9 -PGID` would
        _wait(
            lambda: runs.read_status(run_dir).get("step", 0) > step,
            120,
            lambda: f"no step after the server died: {runs.tail_log(run_dir)}",
        )
        next_step = time.time() - killed
        app = start_app(data, log, users=tmp_path / "users.json", port=app.port)
        restarted = time.time() - killed

        page = browser.new_context(viewport={"width": 1280, "height": 2400}).new_page()
        sign_in(page, app.url, "ana", PASSWORD)
        page.get_by_role("link", name="3 · Train").click()
        page.get_by_text(f"Run {run_dir.name}").wait_for(timeout=60_000)
        page.get_by_text("Running · step").wait_for(timeout=60_000)
        reattached = time.time() - killed
        shot(page, "server-restart-reattached")
        done = page.get_by_text(f"Completed · step {STEPS} of {STEPS}")
        # While the polling fragment hands over to the full redraw, Streamlit can show its last
        # frame and the new page's line together for a moment; only one may stay.
        done.first.wait_for(timeout=300_000)
        _wait(lambda: done.count() == 1, 30, lambda: f"{done.count()} progress lines stayed")
        shot(page, "server-restart-completed")

        final = jobs.wait_for(run_dir, timeout=60)
        assert final["state"] == "completed" and final["step"] == STEPS, final
        assert runs.read_eval(run_dir).get("accuracy") is not None
        logged = [m["step"] for m in runs.read_metrics(run_dir) if "step" in m]
        assert max(logged) == STEPS
        print(
            f"server restart: next step {next_step:.1f} s after the kill, server back after "
            f"{restarted:.1f} s, ana reattached after {reattached:.1f} s, whole test "
            f"{time.time() - started:.1f} s"
        )
    finally:
        app.stop(signal.SIGKILL)
        status = runs.read_status(run_dir) if run_dir else {}
        if jobs.live_process(status):
            os.killpg(status["supervisor_pid"], signal.SIGKILL)
