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
