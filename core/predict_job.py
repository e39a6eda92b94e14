"""Label (or answer) a whole uploaded file as a background job that survives a page reload.

    start_prediction(run_dir, "new.csv", data_bytes, threshold=0.7)  # → <run>/predictions/<id>/
    .venv/bin/python -m core.predict_job <run>/predictions/<id>       # what it starts

A job is a folder: job.json (what to do), the input file, progress.json (rows done, state, error)
and, when done, predictions.csv and predictions.jsonl: the input table plus `predicted` and
`probability` (classification; with a threshold, `review` marks rows below it) or `generated`
(causal LM and seq2seq runs). The page only starts the process and reads progress.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from core import runs
from core.data.formats import DataError

PREDICTIONS_DIR = "predictions"
CHUNK_ROWS = 256  # rows between progress updates (classification)
LONGER_THAN_TRAINING = 3.0  # warn when the median text is this many times the training median
UNSEEN_WORDS = 0.5  # warn when over half the file's words never occur in the training data


def start_prediction(run_dir: Path, file_name: str, data: bytes, threshold=None, text=None) -> Path:
    """Store the upload in a new job folder and start the job process; returns the folder."""
    job = (
        Path(run_dir) / PREDICTIONS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    )
    job.mkdir(parents=True)
    data_file = job / f"input{Path(file_name).suffix.lower() or '.csv'}"
    data_file.write_bytes(data)
    spec = {"run": str(Path(run_dir).resolve()), "data": data_file.name, "name": file_name,
            "threshold": threshold, "text": text}  # fmt: skip
    launch(job, spec, "core.predict_job")
    return job


def launch(job: Path, spec: dict, module: str) -> None:
    """Write the job folder's job.json and progress.json, then start `python -m module JOB` in
    its own session (a page rerun or reload does not end it); its output goes to job.log.

    A process that cannot be started leaves the job failed with the reason, never "starting"
    without a process (which would read as running for ever).
    """
    runs.write_json_atomic(job / "job.json", spec)
    runs.write_json_atomic(job / "progress.json", {"state": "starting", "done": 0, "total": 0})
    try:
        with open(job / "job.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", module, str(job)],
                cwd=Path(__file__).resolve().parent.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as err:
        update(job, state="failed", error=f"The job's process could not be started: {err}.")
        return
    update(job, pid=process.pid)


def update(job: Path, **changes) -> dict:
    progress = read_progress(job) | changes
    runs.write_json_atomic(job / "progress.json", progress)
    return progress


def read_progress(job: Path) -> dict:
    """progress.json; a job whose process died without saying so reads as failed."""
    try:
        progress = json.loads((Path(job) / "progress.json").read_text())
    except (OSError, ValueError):
        return {"state": "failed", "error": "The job left no progress file.", "done": 0, "total": 0}
    if progress.get("state") in ("starting", "running") and not alive(progress.get("pid")):
        progress |= {"state": "failed", "error": "The job's process ended without finishing."}
    return progress


def alive(pid) -> bool:
    if not pid:
        return True  # not started yet: the starter writes the pid next
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return Path(f"/proc/{pid}/stat").exists() and "Z" not in stat_state(pid)


def stat_state(pid) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def latest_job(run_dir: Path) -> Path | None:
    """The run's newest prediction job folder, or None."""
    folder = Path(run_dir) / PREDICTIONS_DIR
    jobs = (
        sorted(p for p in folder.glob("*") if (p / "job.json").exists()) if folder.is_dir() else []
    )
    return jobs[-1] if jobs else None


def input_warnings(run_dir: Path, texts: list[str]) -> list[str]:
    """Plain warnings when the file's texts look unlike the training texts: much longer, or
    mostly words training never saw (another language); each suggests the drift check."""
    from core.data.load import load_table

    config = runs.read_config(run_dir)
    try:
        train = load_table(Path(config.data.path))[config.data.text_column].dropna().astype(str)
    except (OSError, KeyError, DataError, ValueError):
        return []
    median = lambda xs: sorted(len(t.split()) for t in xs)[len(xs) // 2] if xs else 0  # noqa: E731
    train_median, new_median = max(median(list(train)), 1), median(texts)
    warnings = []
    if new_median >= LONGER_THAN_TRAINING * train_median:
        warnings.append(
            f"These texts are {new_median / train_median:.0f}× longer than the training texts "
            f"(median {new_median} words against {train_median}); the model reads only the "
            f"first {config.training.max_length} tokens of each. Run the drift check to compare."
        )
    seen = {w for t in train for w in t.lower().split()}
    words = [w for t in texts for w in t.lower().split()]
    unseen = sum(w not in seen for w in words) / max(len(words), 1)
    if unseen > UNSEEN_WORDS:
        warnings.append(
            f"{unseen:.0%} of the words in this file never occur in the training data: another "
            "language or topic? Predictions may be guesses. Run the drift check to compare."
        )
    return warnings


def drift_against_training(job: Path):
    """core.data.drift's comparison (lengths, vocabulary) of the job's file against the run's
    training data, on the text columns; None when the training file is no longer readable."""
    from core.data.drift import compare
    from core.data.load import load_table

    spec = json.loads((Path(job) / "job.json").read_text())
    config = runs.read_config(Path(spec["run"]))
    text_column = read_progress(job).get("text_column") or config.data.text_column
    try:
        train = load_table(Path(config.data.path))
    except (OSError, DataError, ValueError):
        return None
    new = load_table(Path(job) / spec["data"]).rename(
        columns={text_column: config.data.text_column}
    )
    mapping = {"task": "text", "text": config.data.text_column}
    return compare(train, new, mapping, embed=False)


def run_job(job: Path) -> int:
    """The job process: predict every row, write the outputs, and record the outcome."""
    job = Path(job)
    spec = json.loads((job / "job.json").read_text())
    return run_recorded(job, lambda: predict_rows(job, spec), "Prediction")


def run_recorded(job: Path, work, what: str) -> int:
    """Run `work()` (it returns the names of the files it wrote) as the job's process and record
    the outcome in progress.json: done, or failed with one line for the page (bad input: the
    error's own words, exit 2; anything else: re-raised so job.log keeps the traceback)."""
    from core.merge import MergeError
    from core.predict import PredictError

    update(job, state="running", pid=os.getpid())
    try:
        written = work()
    except (PredictError, MergeError, DataError) as err:
        update(job, state="failed", error=str(err))
        return 2
    except Exception as err:  # noqa: BLE001 - the page shows one line, the log the traceback
        update(job, state="failed", error=f"{what} failed: {err}. The job's log has details.")
        raise
    update(job, state="done", outputs=written)
    return 0


def predict_rows(job: Path, spec: dict) -> list[str]:
    from core.merge import saved_adapter
    from core.predict import PredictError, choose_columns, clean_cell, load_table_for

    run_dir = Path(spec["run"])
    meta = saved_adapter(run_dir)
    table = load_table_for(job / spec["data"])
    text_col, pair_col, _ = choose_columns(table, runs.read_config(run_dir).data, spec["text"])
    texts = [clean_cell(v) for v in table[text_col]]
    pairs = [clean_cell(v) for v in table[pair_col]] if pair_col else None
    keep = [i for i, t in enumerate(texts) if t]
    if not keep:
        raise PredictError(f"Column {text_col!r} is empty in every row: nothing to predict.")
    update(job, total=len(keep), text_column=text_col, warnings=input_warnings(run_dir, texts))
    if meta.get("task", "classification") == "classification":
        result = classify(job, run_dir, table, keep, texts, pairs, spec.get("threshold"))
    else:
        result = generate_all(job, run_dir, table, keep, texts)
    result.to_csv(job / "predictions.csv", index=False)
    result.to_json(job / "predictions.jsonl", orient="records", lines=True, force_ascii=False)
    return ["predictions.csv", "predictions.jsonl"]


def probabilities_in_chunks(classifier, texts: list[str], pairs, done):
    """core.predict.predict_probabilities, CHUNK_ROWS rows at a time; `done(rows)` after each
    chunk, so a job can report its progress."""
    import numpy as np

    from core.predict import predict_probabilities

    probs = np.zeros((len(texts), len(classifier.labels)), dtype=np.float32)
    for start in range(0, len(texts), CHUNK_ROWS):
        end = min(start + CHUNK_ROWS, len(texts))
        chunk_pairs = pairs[start:end] if pairs else None
        probs[start:end] = predict_probabilities(classifier, texts[start:end], chunk_pairs)
        done(end)
    return probs


def classify(job, run_dir, table, keep, texts, pairs, threshold):
    from core.predict import load_merged_classifier, with_predictions

    classifier = load_merged_classifier(run_dir)
    chosen = [texts[i] for i in keep]
    chosen_pairs = [pairs[i] for i in keep] if pairs else None
    probs = probabilities_in_chunks(
        classifier, chosen, chosen_pairs, lambda done: update(job, done=done)
    )
    labels = [classifier.labels[j] for j in probs.argmax(-1)] if len(keep) else []
    result = with_predictions(table, keep, labels, probs)
    if threshold is not None:
        result["review"] = result["probability"].isna() | (result["probability"] < threshold)
    return result


def generate_all(job, run_dir, table, keep, texts):
    import pandas as pd

    from core.evaluate import generate, load_generator

    generator = load_generator(run_dir)
    generated = pd.Series([""] * len(table), index=table.index, dtype=object)
    for n, i in enumerate(keep, 1):
        generated.iloc[i] = generate(generator, texts[i])
        update(job, done=n)
    return table.assign(generated=generated)


if __name__ == "__main__":
    sys.exit(run_job(Path(sys.argv[1])))
