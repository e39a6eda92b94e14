"""Results page, "Will it still work on new data?": a new labelled batch scored in a background
job (core.newdata_job) that the page polls and a reload reattaches to."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from core import runs
from core.newdata_job import latest_check
from core.predict_job import read_progress
from tests.app.conftest import button, texts
from tests.app.test_results_use import classifier_run, generative_run, open_results
from tests.conftest import write_reviews


def check_and_reload(app, run_dir):
    """Click the check, see its progress, wait for the job, then reload the page."""
    button(app, "Check the new batch").click().run()
    assert not app.exception, app.exception
    assert app.get("progress"), "no progress bar while the check runs"
    assert button(app, "Check the new batch").disabled  # one check at a time
    job = latest_check(run_dir)
    deadline = time.monotonic() + 180
    while read_progress(job)["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
    open_results(app, run_dir)  # a reload finds the finished check again
    return job


def test_a_new_batch_in_another_layout_is_scored_against_validation_with_drift(
    app, data_root, tmp_path
):
    run_dir = classifier_run(tmp_path)
    train = write_reviews(tmp_path / "train.csv", rows=120, seed=1)
    config = runs.read_config(run_dir).replace(data={"path": str(train)})
    config.save(run_dir / runs.CONFIG_FILE)
    table = pd.read_csv(write_reviews(tmp_path / "b.csv", rows=40, seed=2))
    extra = pd.DataFrame({"text": ["good nice day"] * 3, "label": ["neutral"] * 3})
    batch = pd.concat([table, extra]).rename(columns={"text": "review", "label": "sentiment"})
    open_results(app, run_dir)

    app.text_input(key="newdata-path").input(str(tmp_path / "missing.csv")).run()
    button(app, "Check the new batch").click().run()
    assert not app.exception
    assert "missing.csv' is not a file" in texts(app.error)

    upload = batch[["sentiment", "review"]].to_csv(sep="\t", index=False).encode()
    app.file_uploader(key="newdata-upload").upload("new.tsv", upload, "text/tsv").run()
    app.checkbox(key="newdata-embed").uncheck().run()
    job = check_and_reload(app, run_dir)
    assert not app.error, texts(app.error)
    assert "on the new data" in texts(app.info)
    assert "3 rows have labels the model never saw: neutral (3)" in texts(app.warning)
    ours = [m for m in app.metric if m.label.endswith((", validation", ", new batch"))]
    assert [m.label for m in ours] == ["Accuracy, validation", "Accuracy, new batch",
                                       "Macro-F1, validation", "Macro-F1, new batch"]  # fmt: skip
    assert ours[0].value == "75.0%"
    assert "40 of 43 rows scored (text `review`, label `sentiment`)" in texts(app.caption)
    assert "Drift from the training data" in texts(app.markdown)
    assert list((run_dir / "newdata" / "uploads").glob("*/new.tsv"))  # the upload is kept
    assert (job / "report.json").is_file() and job.parent == run_dir / "newdata"


def test_a_batch_without_labels_gets_a_message_not_a_traceback(app, data_root, tmp_path):
    run_dir = classifier_run(tmp_path)
    open_results(app, run_dir)
    data = pd.DataFrame({"text": ["good day", "bad day"]}).to_csv(index=False).encode()
    app.file_uploader(key="newdata-upload").upload("new.csv", data, "text/csv").run()
    check_and_reload(app, run_dir)
    assert "new.csv: The batch needs a label column" in texts(app.error)


def test_a_generative_run_shows_loss_and_perplexity_on_the_new_batch(app, data_root, tmp_path):
    run_dir = generative_run(tmp_path, "tiny-lm")
    open_results(app, run_dir)
    table = pd.read_csv(write_reviews(tmp_path / "b.csv", rows=12))[["text"]]
    data = table.rename(columns={"text": "content"}).to_csv(index=False).encode()
    app.file_uploader(key="newdata-upload").upload("new.csv", data, "text/csv").run()
    check_and_reload(app, run_dir)
    assert not app.error, texts(app.error)
    ours = {m.label: m.value for m in app.metric if m.label.endswith(("validation", "new batch"))}
    assert ours["Perplexity, validation"] == "7.4"
    assert float(ours["Perplexity, new batch"]) > 1
    assert "Perplexity is" in texts(app.info)
    assert "12 of 12 rows measured" in texts(app.caption)


@pytest.mark.slow  # two checks, each a job process
def test_an_earlier_check_reopens_from_its_saved_report(app, data_root, tmp_path):
    run_dir = classifier_run(tmp_path)
    open_results(app, run_dir)
    app.checkbox(key="newdata-embed").uncheck().run()
    for rows in (30, 20):
        batch = write_reviews(tmp_path / f"b{rows}.csv", rows=rows, seed=rows)
        app.text_input(key="newdata-path").input(str(batch)).run()
        check_and_reload(app, run_dir)
        assert f"{rows} of {rows} rows scored" in texts(app.caption)
    earlier = app.selectbox(key="newdata-earlier")
    assert [label.split(" · ")[0] for label in earlier.options] == ["b20.csv", "b30.csv"]
    earlier.select_index(1).run()
    assert "30 of 30 rows scored" in texts(app.caption)
    assert len(list((run_dir / "newdata").glob("*/report.json"))) == 2
    app.text_input(key="newdata-path").input(str(tmp_path / "b30.csv")).run()
    button(app, "Check the new batch").click().run()  # the same batch again: its report, at once
    assert not app.get("progress") and "30 of 30 rows scored" in texts(app.caption)
    assert app.selectbox(key="newdata-earlier").index == 0


def test_a_reload_reattaches_to_a_running_check_and_a_dead_one_says_so(app, data_root, tmp_path):
    import json
    import subprocess

    from core.newdata_job import NEWDATA_DIR

    run_dir = classifier_run(tmp_path)
    job = run_dir / NEWDATA_DIR / "0123456789abcdef"
    job.mkdir(parents=True)
    worker = subprocess.Popen(["sleep", "60"], start_new_session=True)  # stands in for the job
    (job / "job.json").write_text(json.dumps({"run": str(run_dir), "name": "big.csv",
                                              "classification": True, "started": 1.0}))  # fmt: skip
    progress = {"state": "running", "pid": worker.pid, "done": 256, "total": 5000,
                "stage": "Scoring the rows"}  # fmt: skip
    (job / "progress.json").write_text(json.dumps(progress))
    try:
        open_results(app, run_dir)  # a new page view finds the check running
        (bar,) = app.get("progress")
        assert "Scoring the rows: 256 of 5,000 rows" in bar.proto.text
        app.text_input(key="newdata-path").input(str(tmp_path / "next.csv")).run()
        assert button(app, "Check the new batch").disabled  # one check at a time
    finally:
        worker.kill()
        worker.wait()
    open_results(app, run_dir)
    assert "big.csv: The job's process ended without finishing." in texts(app.error)
    assert not button(app, "Check the new batch").disabled
