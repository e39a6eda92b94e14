"""core.newdata_job: the new-data check in a background process, its report kept in the run;
and `python -m core.newdata`, the same check from a terminal."""

from __future__ import annotations

import json
import shutil
import time

import pandas as pd
import pytest

from core.newdata import check_new_data, main
from core.newdata_job import as_record, checks, latest_check, read_report, start_check
from core.predict_job import read_progress
from tests.core.test_newdata import batch, run_dir  # noqa: F401 - the shared fixtures
from tests.core.test_predict_job import wait_done


@pytest.fixture
def own_run(run_dir, tmp_path):  # noqa: F811
    """A copy of the shared run, so each test's checks are its own."""
    return shutil.copytree(run_dir, tmp_path / "run")


def test_the_check_runs_in_the_background_and_its_report_reopens(own_run, batch, tmp_path):  # noqa: F811
    table = pd.read_csv(batch)
    extra = pd.DataFrame({"text": ["good nice day"] * 3, "label": ["neutral"] * 3})
    pd.concat([table, extra]).to_csv(tmp_path / "new.csv", index=False)
    job = start_check(own_run, tmp_path / "new.csv", "new.csv", embed=False)
    assert job.parent == own_run / "newdata" and latest_check(own_run) == job
    progress = wait_done(job)
    assert progress["state"] == "done", (progress, (job / "job.log").read_text()[-2000:])
    assert progress["done"] == progress["total"] == 60
    report = read_report(job)
    direct = as_record(check_new_data(own_run, tmp_path / "new.csv", embed=False, device="cpu"))
    for key in ("new", "validation", "confusion", "per_class", "unknown_labels", "verdict"):
        assert report[key] == direct[key], key
    assert report["unknown_labels"] == {"neutral": 3}
    assert report["drift"]["verdict"] == direct["drift"]["verdict"]
    assert [c["name"] for c in report["drift"]["checks"]] == ["length", "labels", "vocabulary"]

    again = start_check(own_run, tmp_path / "new.csv", "again.csv", embed=False)
    assert again == job and read_progress(job)["pid"] == progress["pid"]  # reopened, not rerun
    other = start_check(own_run, tmp_path / "new.csv", "new.csv", label_col="label", embed=False)
    assert other != job and latest_check(own_run) == other
    wait_done(other)
    assert checks(own_run) == [other, job]
    assert start_check(own_run, tmp_path / "new.csv", "new.csv", embed=False) == job
    assert latest_check(own_run) == job  # reopening makes it the latest again


@pytest.mark.parametrize(
    "content, message",
    [
        ("text\ngood day\nbad day\n", "needs a label column"),
        ("text,label\n", "holds no rows"),
        ("text,label\ngood day,x\n", "a label the model knows"),
    ],
)
def test_a_bad_batch_fails_with_its_message(own_run, tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    job = start_check(own_run, tmp_path / "bad.csv", "bad.csv", embed=False)
    progress = wait_done(job)
    assert progress["state"] == "failed" and message in progress["error"], progress
    assert read_report(job) is None
    assert (tmp_path / "bad.csv").read_text() == content  # the user's file is untouched


def test_the_command_line_prints_the_verdict_and_exits_2_on_bad_input(
    run_dir,  # noqa: F811
    batch,  # noqa: F811
    tmp_path,
    capsys,
):
    assert main([str(run_dir), "--data", str(batch), "--no-embed", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    report = check_new_data(run_dir, batch, embed=False, device="cpu")
    assert out.splitlines()[0] == report["verdict"]
    assert f"accuracy {report['new']['accuracy']:.4g}" in out and "60 of 60 rows scored" in out
    (tmp_path / "nolabel.csv").write_text("text\ngood day\n")
    assert main([str(run_dir), "--data", str(tmp_path / "nolabel.csv"), "--no-embed"]) == 2
    assert "needs a label column" in capsys.readouterr().err
    assert main([str(tmp_path / "no-run"), "--data", str(batch)]) == 2
    assert "error:" in capsys.readouterr().err
    assert main([str(run_dir), "--data", str(batch), "--no-embed", "--device", "bogus"]) == 2
    assert "--device bogus: not a device" in capsys.readouterr().err  # not a torch traceback
    assert main([str(batch), "--data", str(batch)]) == 2  # a file given as the run
    assert "is not a run folder" in capsys.readouterr().err


def test_the_report_record_is_plain_json(run_dir, batch):  # noqa: F811
    report = check_new_data(run_dir, batch, embed=False, device="cpu")
    record = as_record(report)
    assert json.loads(json.dumps(record)) == record
    assert record["drift"]["median_words"]["new"] > 0
    assert record["drift"]["checks"][0]["message"] == report["drift"].checks[0].message


def test_two_sessions_starting_the_same_check_at_once_start_one_job(own_run, batch, monkeypatch):  # noqa: F811
    """Two page sessions (threads of one server) click at the same instant: one job is started,
    the other session reattaches to it."""
    import os
    import threading

    import core.newdata_job as newdata_job
    from core import runs

    started, gate = [], threading.Barrier(2)

    def slow_launch(job, spec, module):  # as launch: job.json, then a live process in progress
        started.append(job)
        time.sleep(0.3)  # the window in which the other session looks at the folder
        (job / "job.json").write_text(json.dumps(spec))
        runs.write_json_atomic(job / "progress.json", {"state": "running", "pid": os.getpid()})

    monkeypatch.setattr(newdata_job, "launch", slow_launch)
    found = []

    def click(name):
        gate.wait()
        found.append(start_check(own_run, batch, name, embed=False))

    threads = [threading.Thread(target=click, args=(n,)) for n in ("a.csv", "b.csv")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(started) == 1, started
    assert found == [started[0], started[0]]
    assert checks(own_run) == [started[0]]


def test_a_job_whose_process_cannot_start_fails_with_the_reason(own_run, batch, monkeypatch):  # noqa: F811
    """Not left "starting" with no process, which the page would show as running for ever."""
    import subprocess

    def no_process(*args, **kwargs):
        raise OSError("[Errno 24] Too many open files")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    job = start_check(own_run, batch, "batch.csv", embed=False)
    progress = read_progress(job)
    assert progress["state"] == "failed" and "Too many open files" in progress["error"]
    assert json.loads((job / "job.json").read_text())["name"] == "batch.csv"
