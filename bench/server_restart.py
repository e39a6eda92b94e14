"""The server killed mid-run (issue #12's fault): kill -9 (or TERM) of the process group of the
process that started a job, at a random moment of training. Measures whether training goes on
(seconds until the next step is recorded, and whether the job completes), how long a fresh
session of the owner takes to find the job again (jobs.active_run), and that another user's fresh
session finds nothing. Prints one JSON line per trial and a summary.

    .venv/bin/python bench/server_restart.py --trials 4

The killed process stands in for the Streamlit server: it starts the job as the Train page does
(jobs.start_job in the owner's workspace), then idles. Uses bench/faults.py's tiny BERT.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import faults  # noqa: E402

from core import jobs, runs  # noqa: E402

SERVER = """
import json, sys, time
sys.path[:0] = [sys.argv[3], sys.argv[3] + "/bench"]
import faults
from pathlib import Path
from core import jobs, runs
faults.DATA = Path(sys.argv[2])
runs.set_workspace("ana")
print(jobs.start_job(faults.config(Path(sys.argv[1]), 300)), flush=True)
time.sleep(3600)
"""


def in_workspace(user, action):
    runs.set_workspace(user)
    try:
        return action()
    finally:
        runs.set_workspace(None)


def trial(model: Path, rng: random.Random, signum: int) -> dict:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(model), str(faults.DATA), str(ROOT)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    run_dir = Path(server.stdout.readline().strip())
    faults.wait_running(run_dir)
    while runs.read_status(run_dir).get("step", 0) < 1:  # kill while it trains, not while it loads
        time.sleep(0.05)
    time.sleep(rng.uniform(0, 2))
    step = runs.read_status(run_dir).get("step", 0)
    killed = time.time()
    os.killpg(server.pid, signum)
    server.wait(timeout=30)
    while runs.read_status(run_dir).get("step", 0) <= step and time.time() - killed < 120:
        if runs.read_status(run_dir).get("state") in runs.FINAL_STATES:
            break
        time.sleep(0.05)
    next_step = time.time() - killed
    started = time.perf_counter()
    owner = in_workspace("ana", jobs.active_run)
    reattach = time.perf_counter() - started
    other = in_workspace("bo", jobs.active_run)
    final = jobs.wait_for(run_dir, timeout=600)
    return {
        "signal": signal.Signals(signum).name,
        "step_at_kill": step,
        "next_step_s": round(next_step, 2),
        "owner_reattached": owner == run_dir,
        "owner_lookup_ms": round(reattach * 1000, 1),
        "other_user_sees": other is not None,
        "final": final["state"],
        "final_step": final.get("step"),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        from tests.conftest import write_reviews

        model = faults.tiny_model(folder / "tiny-bert")
        faults.DATA = write_reviews(folder / "reviews.csv", rows=2000)
        os.environ["STUDIO_DATA"] = str(folder / "data")
        results = []
        for number in range(args.trials):
            signum = signal.SIGKILL if number % 2 == 0 else signal.SIGTERM
            results.append(trial(model, rng, signum))
            print(json.dumps(results[-1]), flush=True)
    steps = [r["next_step_s"] for r in results]
    print(
        json.dumps(
            {
                "trials": len(results),
                "completed": sum(r["final"] == "completed" for r in results),
                "owner_reattached": sum(r["owner_reattached"] for r in results),
                "other_user_saw": sum(r["other_user_sees"] for r in results),
                "next_step_s_median": statistics.median(steps),
                "next_step_s_max": max(steps),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
