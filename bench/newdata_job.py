"""Does checking a big new batch freeze the Results page? The "will it still work on new data?"
check of a 5,000-row batch, as the page ran it before (in the session's script run) and as a
background job (core.newdata_job), interleaved. A ticker thread stands in for another user's page
in the same server process (bench/responsiveness.py's); the "page blocked" time is how long the
click's script run takes: the whole check before, starting the job after.

    PYTHONPATH=. .venv/bin/python bench/newdata_job.py [--rows 5000] [--repeats 2]

The run is the embedded all-MiniLM-L6-v2 with a random LoRA and an untrained head (the cost of
scoring does not depend on the weights), max length 64; the embedding drift check is on.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from responsiveness import measure  # noqa: E402  (the ticker standing in for another user)

from core import runs  # noqa: E402
from core.models import embedded_model_path  # noqa: E402
from core.newdata import check_new_data  # noqa: E402
from core.newdata_job import NEWDATA_DIR, start_check  # noqa: E402
from core.predict_job import read_progress  # noqa: E402
from tests.conftest import write_reviews  # noqa: E402
from tests.core.test_merge import make_run  # noqa: E402

VALIDATION = {"labels": ["negative", "positive"], "confusion": [[40, 10], [12, 38]],
              "accuracy": 0.78, "macro_f1": 0.78, "n_validation": 100}  # fmt: skip


def minilm_run(root: Path, train_rows: int) -> Path:
    base = embedded_model_path()
    run = make_run(root, str(base), base, "classification", ["query", "value"])
    train = write_reviews(root / "train.csv", rows=train_rows, seed=1)
    config = runs.read_config(run).replace(data={"path": str(train)}, training={"max_length": 64})
    config.save(run / runs.CONFIG_FILE)
    (run / runs.EVAL_FILE).write_text(json.dumps(VALIDATION))
    return run


def wait_done(job: Path) -> None:
    while read_progress(job)["state"] in ("starting", "running"):
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        run = minilm_run(root, 2000)
        batch = write_reviews(root / "batch.csv", rows=args.rows, seed=2)
        for _ in range(args.repeats):
            before = measure("in the page (before)", lambda: check_new_data(run, batch))
            print(json.dumps(before | {"page_blocked_s": before["report_s"]}), flush=True)
            shutil.rmtree(run / NEWDATA_DIR, ignore_errors=True)
            started: list[Path] = []
            click = measure(
                "job: the click", lambda out=started: out.append(start_check(run, batch, "b"))
            )
            waited = measure("job: while it runs", lambda job=started: wait_done(job[0]))
            state = read_progress(started[0])["state"]
            print(json.dumps(click | {"page_blocked_s": click["report_s"]}), flush=True)
            print(json.dumps(waited | {"state": state}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
