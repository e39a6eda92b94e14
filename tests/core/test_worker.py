"""Heavy work in a spawned worker: its result, progress and errors come back; a dead worker is
reported; the quality report of a big file is the same as in-process."""

from __future__ import annotations

import os
import signal

import pytest

from core import worker
from core.data.formats import DataError


def report_pid(value, progress=None):
    progress(0.5, "half way")
    return value, os.getpid()


def fail(progress=None):
    raise DataError("bad rows")


def die(progress=None):
    os.kill(os.getpid(), signal.SIGKILL)


def test_the_result_and_progress_come_back_from_another_process():
    seen = []
    value, pid = worker.run_in_worker(report_pid, 42, progress=lambda d, w: seen.append((d, w)))
    assert value == 42 and pid != os.getpid()
    assert seen == [(0.5, "half way")]


def test_errors_are_raised_here_and_a_killed_worker_is_reported():
    with pytest.raises(DataError, match="bad rows"):
        worker.run_in_worker(fail)
    with pytest.raises(worker.WorkerError, match="exit code -9"):
        worker.run_in_worker(die)


def test_a_big_files_report_runs_in_a_worker_and_matches_in_process(tmp_path, monkeypatch):
    from core.data.load import load_table
    from core.data.quality import quality_report

    path = tmp_path / "reviews.csv"
    rows = [f"review {i % 300} is {'good' if i % 3 else 'bad'},{'ab'[i % 2]}" for i in range(3000)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    mapping = {"task": "classification", "text": "text", "label": "label"}
    real, calls, seen = worker.run_in_worker, [], []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(worker, "WORKER_MIN_BYTES", 1000)
    monkeypatch.setattr(worker, "run_in_worker", counting)
    report = worker.quality_report_for(str(path), mapping, progress=lambda d, w: seen.append(d))
    expected = quality_report(load_table(path), mapping)
    assert calls == [1] and seen and max(seen) <= 1.0
    assert report.verdict == expected.verdict
    assert [(f.key, f.count) for f in report.findings] == [
        (f.key, f.count) for f in expected.findings
    ]
