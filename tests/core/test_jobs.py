"""The job queue: one job at a time per runs folder; the next starts by itself; waiting jobs cancel."""

from __future__ import annotations

import time

import pytest

from core import jobs, runs
from core.settings import RunConfig

pytestmark = pytest.mark.slow


def short(data, steps: int) -> RunConfig:
    return RunConfig().replace(
        data={"path": str(data)},
        training={"max_steps": steps, "max_length": 32, "per_device_train_batch_size": 8},
    )


def test_second_job_waits_then_starts_by_itself_and_a_waiting_job_can_be_cancelled(
    reviews_csv, tmp_path
):
    first = jobs.start_job(short(reviews_csv, 2000), root=tmp_path)  # runs until stopped below
    deadline = time.time() + 120
    while jobs.refresh_status(first)["state"] != "running":
        assert time.time() < deadline and jobs.refresh_status(first)["state"] != "failed"
        time.sleep(0.3)
    second = jobs.start_job(short(reviews_csv, 3), root=tmp_path)
    third = jobs.start_job(short(reviews_csv, 3), root=tmp_path)
    time.sleep(3)
    assert jobs.refresh_status(second)["state"] == "queued"
    assert "waits for the running job" in jobs.refresh_status(second)["message"]
    assert jobs.stop_job(third)
    cancelled = jobs.wait_for(third, timeout=30)
    assert cancelled["state"] == "stopped" and "Cancelled before it started" in cancelled["message"]
    assert not (third / runs.METRICS_FILE).exists()

    assert jobs.refresh_status(second)["state"] == "queued"  # still waiting for the device
    assert jobs.stop_job(first)
    assert jobs.wait_for(first, timeout=300)["state"] == "stopped"
    assert jobs.wait_for(second, timeout=300)["state"] == "completed", runs.tail_log(second)
    first_done = runs.read_status(first)["finished"]  # the stopped run's end
    assert runs.read_status(second)["started"] >= first_done - 1.0  # never overlapped


def test_a_job_whose_supervisor_vanished_is_failed(tmp_path):
    run_dir = runs.create_run(RunConfig(), root=tmp_path)
    runs.write_status(run_dir, state="queued", pid=2**22 + 7)  # no such process
    assert jobs.refresh_status(run_dir)["state"] == "failed"


def _kill_leftovers(root):
    """A failed assertion must not leave a 2000-step trainer running on the shared machine."""
    import os
    import signal

    for run_dir in runs.list_runs(root):
        status = runs.read_status(run_dir)
        if jobs.live_process(status):
            os.killpg(status["supervisor_pid"], signal.SIGKILL)


def _wait_running(run_dir, timeout=180):
    deadline = time.time() + timeout
    while jobs.refresh_status(run_dir)["state"] != "running":
        assert time.time() < deadline, runs.tail_log(run_dir)
        assert jobs.refresh_status(run_dir)["state"] != "failed", runs.tail_log(run_dir)
        time.sleep(0.3)
    return runs.read_status(run_dir)


def test_killing_the_supervisor_leaves_the_trainer_in_charge_of_the_device(reviews_csv, tmp_path):
    """kill -9 of a supervisor: its trainer goes on, the job is not failed, the next queued job
    waits for the trainer (not the supervisor), and Stop still reaches the trainer."""
    import os
    import signal

    first = jobs.start_job(short(reviews_csv, 2000), root=tmp_path)
    try:
        status = _wait_running(first)
        os.kill(status["supervisor_pid"], signal.SIGKILL)
        second = jobs.start_job(short(reviews_csv, 3), root=tmp_path)
        time.sleep(4)
        assert jobs.refresh_status(first)["state"] == "running"
        assert jobs.same_process(status["trainer_pid"], status["trainer_created"])
        assert jobs.refresh_status(second)["state"] == "queued"
        assert jobs.stop_job(first)
        assert jobs.wait_for(first, timeout=120)["state"] == "stopped", runs.tail_log(first)
        assert jobs.wait_for(second, timeout=300)["state"] == "completed", runs.tail_log(second)
    finally:
        _kill_leftovers(tmp_path)


def test_killing_the_trainer_is_recorded_by_its_supervisor_without_a_reader(reviews_csv, tmp_path):
    import os
    import signal

    run_dir = jobs.start_job(short(reviews_csv, 2000), root=tmp_path)
    try:
        status = _wait_running(run_dir)
        os.kill(status["trainer_pid"], signal.SIGKILL)
        deadline = time.time() + 10
        while runs.read_status(run_dir)["state"] == "running":  # read only: nobody refreshes
            assert time.time() < deadline
            time.sleep(0.1)
    finally:
        _kill_leftovers(tmp_path)
    final = runs.read_status(run_dir)
    assert final["state"] == "failed" and "exit code -9" in final["message"]
