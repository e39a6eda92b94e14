"""core.predict_job: a whole file predicted in a background process, read back by the page."""

from __future__ import annotations

import json
import os
import signal
import time

import pandas as pd
import pytest

from core import runs
from core.predict_job import input_warnings, latest_job, read_progress, start_prediction
from core.settings import RunConfig
from tests.conftest import write_reviews
from tests.core.test_predict import lora_run  # noqa: F401 - the shared run fixture


def wait_done(job, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = read_progress(job)
        if progress["state"] in ("done", "failed"):
            return progress
        time.sleep(0.3)
    raise AssertionError(f"job not finished in {timeout} s: {read_progress(job)}")


def test_the_job_labels_every_row_as_core_predict_and_marks_low_confidence(
    lora_run,  # noqa: F811
    tmp_path,
):
    from core.predict import predict_file

    data = write_reviews(tmp_path / "new.csv", rows=300, seed=5)  # over one progress chunk
    job = start_prediction(lora_run, "new.csv", data.read_bytes(), threshold=0.55)
    assert latest_job(lora_run) == job
    progress = wait_done(job)
    assert progress["state"] == "done", progress
    assert progress["done"] == progress["total"] == 300
    out = pd.read_csv(job / "predictions.csv")
    predict_file(lora_run, data, tmp_path / "reference.csv")
    reference = pd.read_csv(tmp_path / "reference.csv")
    assert list(out["predicted"]) == list(reference["predicted"])
    assert list(out["review"]) == list(reference["probability"] < 0.55)
    assert 0 < out["review"].sum() < 300  # the threshold splits this file
    lines = (job / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 300 and json.loads(lines[0])["text"] == out["text"][0]


def test_a_file_without_text_fails_with_a_message_and_a_killed_job_reads_failed(
    lora_run,  # noqa: F811
    tmp_path,
):
    numbers = pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]}).to_csv(index=False).encode()
    progress = wait_done(start_prediction(lora_run, "numbers.csv", numbers))
    assert progress["state"] == "failed" and "No column looks like text" in progress["error"]
    data = write_reviews(tmp_path / "r.csv", rows=20)
    job = start_prediction(lora_run, "r.csv", data.read_bytes())
    os.kill(read_progress(job)["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while read_progress(job)["state"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "ended without finishing" in read_progress(job)["error"]
    assert (job / "input.csv").read_bytes() == data.read_bytes()  # the upload is kept


@pytest.fixture
def trained_on_reviews(tmp_path):
    data = write_reviews(tmp_path / "train.csv", rows=200)
    config = RunConfig(name="quick").replace(data={"path": str(data)})
    return runs.create_run(config, root=tmp_path / "runs")


def test_much_longer_texts_or_unseen_words_are_warned_with_the_drift_check(trained_on_reviews):
    same = pd.read_csv(trained_on_reviews.parent.parent / "train.csv")["text"].tolist()[:50]
    assert input_warnings(trained_on_reviews, same) == []
    longer = [" ".join([t] * 10) for t in same]
    (warning,) = input_warnings(trained_on_reviews, longer)
    assert "longer than the training texts" in warning and "drift check" in warning
    french = ["le produit était vraiment excellent et le service parfait"] * 20
    (warning,) = input_warnings(trained_on_reviews, french)
    assert "never occur in the training data" in warning


def test_the_drift_check_compares_the_file_with_the_training_data(trained_on_reviews, tmp_path):
    from core.predict_job import drift_against_training

    job = tmp_path / "job"
    job.mkdir()
    train = pd.read_csv(trained_on_reviews.parent.parent / "train.csv")
    pd.DataFrame({"review": [" ".join([t] * 10) for t in train["text"]]}).to_csv(
        job / "input.csv", index=False
    )
    (job / "job.json").write_text(json.dumps({"run": str(trained_on_reviews), "data": "input.csv"}))
    (job / "progress.json").write_text(json.dumps({"state": "done", "text_column": "review"}))
    result = drift_against_training(job)
    assert result.verdict != "no drift"
    assert [c.name for c in result.checks if c.drifted] == ["length"]
