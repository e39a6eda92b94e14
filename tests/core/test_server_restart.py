"""The server that started a job is killed (as `kill -9` of the Streamlit server's process group):
training goes on untouched, and a fresh session finds and reattaches to the running job for its
owner only; another user's fresh session finds nothing to reattach to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import jobs, runs

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Stands in for the Streamlit server: it starts ana's job the way the Train page does, then serves.
SERVER = """
import sys, time
from core import jobs, runs
from core.settings import RunConfig
runs.set_workspace("ana")
config = RunConfig().replace(
    data={"path": sys.argv[1]},
    training={"max_steps": 2000, "max_length": 32, "per_device_train_batch_size": 8},
)
print(jobs.start_job(config), flush=True)
time.sleep(600)
"""


def _in_workspace(user, action):
    runs.set_workspace(user)
    try:
        return action()
    finally:
        runs.set_workspace(None)


def _wait(condition, timeout, why):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, why()
        time.sleep(0.3)


def test_killing_the_server_leaves_training_running_and_only_its_owner_reattaches(
    data_root, reviews_csv
):
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(reviews_csv)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    run_dir = Path(server.stdout.readline().strip())
    try:
        _wait(
            lambda: runs.read_status(run_dir).get("step", 0) >= 1,
            240,
            lambda: runs.tail_log(run_dir),
        )
        os.killpg(server.pid, signal.SIGKILL)  # the whole server, as its service manager would
        server.wait(timeout=10)
        step = runs.read_status(run_dir)["step"]
        _wait(
            lambda: runs.read_status(run_dir)["step"] > step,
            120,
            lambda: f"no step after the server died: {runs.tail_log(run_dir)}",
        )
        assert jobs.refresh_status(run_dir)["state"] == "running"

        assert _in_workspace("bo", jobs.active_run) is None  # another user's fresh session
        assert _in_workspace(None, jobs.active_run) is None  # the shared folder of a local install
        assert _in_workspace("ana", jobs.active_run) == run_dir  # the owner's fresh session
        assert _in_workspace("ana", lambda: jobs.stop_job(run_dir))  # and Stop still reaches it
        assert jobs.wait_for(run_dir, timeout=120)["state"] == "stopped", runs.tail_log(run_dir)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        status = runs.read_status(run_dir)
        if jobs.live_process(status):
            os.killpg(status["supervisor_pid"], signal.SIGKILL)
