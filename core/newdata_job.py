"""The "will it still work on new data?" check as a background job that survives a page reload.

    job = start_check(run_dir, batch_path, "new.csv", embed=True)  # → <run>/newdata/<key>/
    .venv/bin/python -m core.newdata_job <run>/newdata/<key>          # what it starts

A check is a job folder as core.predict_job's are (job.json, progress.json, job.log; started,
polled and failed the same way, by the same functions), and when done, report.json: the report
of core.newdata (check_new_data, or check_new_text_data for a generative run) as JSON. The
folder's name is a hash of the batch's bytes and the options, so checking the same batch again
reopens its report instead of scoring it twice, and two sessions starting the same check at once
get one job (an flock around the look and the start); the page shows the run's latest check. The
folder lives inside the run, so whoever may open the run (its owner, or an admin) sees its checks
and nobody else does.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from core import runs
from core.predict_job import launch, read_progress, run_recorded, update

NEWDATA_DIR = "newdata"
REPORT_FILE = "report.json"
RUNNING = ("starting", "running")


def check_key(batch: Path, options: dict) -> str:
    """16 hex digits of SHA-256 over the batch's bytes and the options that change the report."""
    digest = hashlib.sha256()
    with open(batch, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def start_check(
    run_dir: Path,
    batch: Path,
    name: str,
    text_col: str | None = None,
    label_col: str | None = None,
    embed: bool = True,
) -> Path:
    """The job folder checking `batch` against the run: started now, or, for a batch and options
    checked before, the earlier job (finished or still running) marked as the latest again.

    Raises:
        OSError: the batch cannot be read.
    """
    classification = (runs.read_eval(Path(run_dir)) or {}).get("task", "classification") == (
        "classification"
    )
    options = {"text": text_col or None, "label": label_col or None, "embed": bool(embed)}
    if not classification:
        options = {}
    job = Path(run_dir) / NEWDATA_DIR / check_key(Path(batch), options)
    job.mkdir(parents=True, exist_ok=True)
    # Two sessions starting the same check at once: the lock lets one start it, the other then
    # finds it running and reattaches (an flock ends with its holder, so none is left stale).
    with open(job.parent / f".{job.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        earlier = reusable(job)
        if earlier is not None:
            spec = earlier | {"started": time.time(), "name": name}
            runs.write_json_atomic(job / "job.json", spec)  # readers never see half of it
            return job
        (job / REPORT_FILE).unlink(missing_ok=True)
        spec = {"run": str(Path(run_dir).resolve()), "data": str(Path(batch).resolve()),
                "name": name, "classification": classification, "started": time.time(),
                **options}  # fmt: skip
        launch(job, spec, "core.newdata_job")
    return job


def reusable(job: Path) -> dict | None:
    """The spec of the check in the job folder when it is still running, or finished with its
    report; None when it must be (re)started (none yet, failed, or its files are damaged)."""
    try:
        spec = job_spec(job)
    except (OSError, ValueError):
        return None
    state = read_progress(job).get("state")
    return spec if state in RUNNING or (state == "done" and (job / REPORT_FILE).exists()) else None


def checks(run_dir: Path) -> list[Path]:
    """The run's check job folders, the most recently started first."""
    folder = Path(run_dir) / NEWDATA_DIR
    found = []
    for spec_file in folder.glob("*/job.json") if folder.is_dir() else []:
        try:
            found.append((json.loads(spec_file.read_text()).get("started", 0), spec_file.parent))
        except (OSError, ValueError):
            continue
    return [job for _, job in sorted(found, reverse=True)]


def latest_check(run_dir: Path) -> Path | None:
    found = checks(run_dir)
    return found[0] if found else None


def job_spec(job: Path) -> dict:
    return json.loads((Path(job) / "job.json").read_text())


def read_report(job: Path) -> dict | None:
    """The finished check's report, or None (not finished, or its file is damaged)."""
    try:
        return json.loads((Path(job) / REPORT_FILE).read_text())
    except (OSError, ValueError):
        return None


def as_record(report: dict) -> dict:
    """The report in JSON's types: the drift result becomes its verdict, its checks and the
    median lengths in words (what the page shows), numpy numbers become plain ones."""
    import numpy as np

    drift = report.get("drift")
    if drift is not None:
        drift = {
            "verdict": drift.verdict,
            "checks": [asdict(check) for check in drift.checks],
            "median_words": {
                "training": float(np.median(drift.reference_lengths)),
                "new": float(np.median(drift.new_lengths)),
            },
        }
    plain = report | ({"drift": drift} if "drift" in report else {})
    return json.loads(json.dumps(plain, default=_plain))


def _plain(value):
    """json.dumps' fallback: numpy scalars and arrays as Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def check_batch(job: Path) -> list[str]:
    """The job's work: core.newdata's check with progress into progress.json, then report.json."""
    from core.newdata import check_new_data, check_new_text_data

    spec = job_spec(job)

    def progress(done: int, total: int, stage: str) -> None:
        update(job, done=done, total=total, stage=stage)

    if spec["classification"]:
        report = check_new_data(Path(spec["run"]), Path(spec["data"]), spec.get("text"),
                                spec.get("label"), spec.get("embed", True), progress=progress)  # fmt: skip
    else:
        report = check_new_text_data(Path(spec["run"]), Path(spec["data"]), progress=progress)
    runs.write_json_atomic(job / REPORT_FILE, as_record(report))
    return [REPORT_FILE]


def run_job(job: Path) -> int:
    """The job process: check the batch and record the outcome (core.predict_job.run_recorded)."""
    job = Path(job)
    return run_recorded(job, lambda: check_batch(job), "The new-data check")


if __name__ == "__main__":
    sys.exit(run_job(Path(sys.argv[1])))
