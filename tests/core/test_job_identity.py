"""Process identity: Stop signals only the process the job recorded; a reused pid makes the job
"lost"; reading status never fails on a full disk."""

from __future__ import annotations

import errno
import subprocess
import time
from collections import namedtuple

import pytest

from core import jobs, runs
from core.settings import RunConfig


@pytest.fixture
def stranger():
    """A process that is not ours to signal (in its own group, like a job's supervisor)."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def running_job(tmp_path, **status):
    run_dir = runs.create_run(RunConfig(), root=tmp_path)
    runs.write_status(run_dir, state="running", **status)
    return run_dir


def test_a_reused_pid_is_never_signalled_and_the_job_is_marked_lost(tmp_path, stranger):
    created = jobs.process_created(stranger.pid)
    run_dir = running_job(tmp_path, supervisor_pid=stranger.pid, supervisor_created=created - 50)
    assert jobs.stop_job(run_dir) is False
    time.sleep(0.3)
    assert stranger.poll() is None  # still running: no signal reached it
    status = runs.read_status(run_dir)
    assert status["state"] == "lost" and status["state"] in runs.FINAL_STATES
    assert f"pid {stranger.pid}" in status["message"] and "not signalled" in status["message"]


def test_stop_signals_the_recorded_process_when_its_identity_matches(tmp_path, stranger):
    created = jobs.process_created(stranger.pid)
    run_dir = running_job(tmp_path, supervisor_pid=stranger.pid, supervisor_created=created)
    assert jobs.refresh_status(run_dir)["state"] == "running"
    assert jobs.stop_job(run_dir) is True
    assert stranger.wait(timeout=5) == -15
    assert runs.read_status(run_dir)["state"] == "stopping"


def test_a_live_trainer_keeps_its_job_running_after_its_supervisor_died(tmp_path, stranger):
    """kill -9 of the supervisor: the trainer goes on, so the job is not failed, and Stop reaches
    the trainer through the job's process group."""
    created = jobs.process_created(stranger.pid)
    run_dir = running_job(
        tmp_path,
        supervisor_pid=stranger.pid,  # the stranger leads its own group, as a supervisor would
        supervisor_created=created + 1000,  # that supervisor is gone ...
        trainer_pid=stranger.pid,
        trainer_created=created,  # ... its trainer lives
    )
    assert jobs.refresh_status(run_dir)["state"] == "running"
    assert jobs.stop_job(run_dir) is True
    assert stranger.wait(timeout=5) == -15


def test_reading_status_on_a_full_disk_returns_the_verdict_without_raising(tmp_path, monkeypatch):
    run_dir = running_job(tmp_path, supervisor_pid=2**22 + 7, supervisor_created=1.0)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(runs, "write_json_atomic", full)
    monkeypatch.setattr(runs, "_rewrite_in_place", lambda path, data: False)
    monkeypatch.setattr(jobs.shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1000))
    status = jobs.refresh_status(run_dir)
    assert status["state"] == "failed"
    assert "disk" in status["message"] and "full" in status["message"]
    assert "resume" in status["message"]
    assert runs.read_status(run_dir)["state"] == "running"  # nothing could be written


def test_on_a_full_disk_the_final_state_overwrites_status_json_in_place(tmp_path, monkeypatch):
    """A new temporary file needs free blocks; status.json's own block does not."""
    runs.write_status(tmp_path, state="running", step=3, message="Training" * 20)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs, "write_json_atomic", full)
    runs.write_status(tmp_path, state="failed", message="The disk is full.")
    assert runs.read_status(tmp_path) == {
        **runs.read_status(tmp_path),
        "state": "failed",
        "step": 3,
        "message": "The disk is full.",
    }
    with pytest.raises(OSError):
        runs.write_status(tmp_path, message="x" * 20_000)  # more than the file's blocks hold
    assert runs.read_status(tmp_path)["message"] == "The disk is full."


def test_a_failed_status_write_leaves_no_temporary_file_and_the_old_status(tmp_path, monkeypatch):
    runs.write_status(tmp_path, state="running", step=3)

    def full(data, out):
        out.write('{"sta')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs.json, "dump", full)
    with pytest.raises(OSError):
        runs.write_json_atomic(tmp_path / runs.STATUS_FILE, {"state": "running", "step": 4})
    monkeypatch.undo()
    assert runs.read_status(tmp_path)["step"] == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_a_dead_job_without_a_full_disk_says_killed_or_out_of_memory(tmp_path):
    run_dir = running_job(tmp_path, supervisor_pid=2**22 + 7, supervisor_created=1.0)
    status = jobs.refresh_status(run_dir)
    assert status["state"] == "failed" and "killed, or out of memory" in status["message"]
