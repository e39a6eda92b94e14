"""Fault injection against real jobs: kill -9 of the supervisor or the trainer at random moments,
and a disk that fills up during training. Prints one line per trial and a JSON summary.

    .venv/bin/python bench/faults.py --trials 3            # kills (about 5 minutes on 2 cores)
    .venv/bin/python bench/faults.py --disk-full           # needs root: a 64 MB tmpfs, own mounts

Trains a 2-layer, 32-wide BERT on 2,000 generated two-label reviews (fast steps, real Trainer).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tiny_models import tiny_bert  # noqa: E402 - bench/ is on the path when run

from core import jobs, runs  # noqa: E402
from core.settings import RunConfig  # noqa: E402

DATA: Path = Path()  # two-label reviews (tests.conftest.write_reviews), written in main()


def config(model: Path, steps: int, eval_steps: int = 0) -> RunConfig:
    return RunConfig().replace(
        model={"name_or_path": str(model)},
        data={"path": str(DATA), "text_column": "text", "label_column": "label"},
        training={
            "max_steps": steps,
            "max_length": 32,
            "per_device_train_batch_size": 8,
            "eval_steps": eval_steps,
        },
    )


def wait_running(run_dir: Path, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = jobs.refresh_status(run_dir)
        if status.get("state") == "running" and status.get("trainer_created"):
            return status
        if status.get("state") in runs.FINAL_STATES:
            raise RuntimeError(f"{run_dir.name} ended early: {status.get('message')}")
        time.sleep(0.2)
    raise TimeoutError(run_dir.name)


def kill_supervisor(model: Path, root: Path, rng: random.Random) -> dict:
    """kill -9 the supervisor mid-training; a second job is queued behind it."""
    first = jobs.start_job(config(model, 3000), root=root)
    status = wait_running(first)
    time.sleep(rng.uniform(0, 5))
    os.kill(status["supervisor_pid"], signal.SIGKILL)
    second = jobs.start_job(config(model, 5), root=root)
    time.sleep(5)
    seen = {
        "first": jobs.refresh_status(first)["state"],
        "second": jobs.refresh_status(second)["state"],
    }
    stopped = jobs.stop_job(first)
    final_first = jobs.wait_for(first, timeout=300)
    final_second = jobs.wait_for(second, timeout=300)
    overlap = runs.read_status(second).get("started", 0) < final_first.get("finished", 0) - 1
    return {
        "trial": "kill -9 supervisor",
        "while_trainer_lives": seen,
        "stop_reached": stopped,
        "first_final": final_first["state"],
        "second_final": final_second["state"],
        "two_trainings_at_once": overlap,
    }


def kill_trainer(model: Path, root: Path, rng: random.Random) -> dict:
    """kill -9 the trainer mid-training; time until status.json says so, with no reader."""
    run_dir = jobs.start_job(config(model, 3000), root=root)
    status = wait_running(run_dir)
    time.sleep(rng.uniform(0, 5))
    os.kill(status["trainer_pid"], signal.SIGKILL)
    killed = time.time()
    while runs.read_status(run_dir).get("state") in runs.ACTIVE_STATES:
        if time.time() - killed > 30:
            break
        time.sleep(0.05)
    final = runs.read_status(run_dir)
    return {
        "trial": "kill -9 trainer",
        "recorded_after_s": round(time.time() - killed, 2),
        "state": final["state"],
        "message": final.get("message", "")[:90],
    }


def disk_full(model: Path, root: Path) -> dict:
    """Fill the disk holding the run while it trains (checkpoints every 20 steps)."""
    run_dir = jobs.start_job(config(model, 3000, eval_steps=20), root=root)
    wait_running(run_dir)
    time.sleep(2)
    filled = time.time()
    with open(root / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 2**20)
                filler.flush()
        except OSError:
            pass
    deadline = time.time() + 180
    while runs.read_status(run_dir).get("state") in runs.ACTIVE_STATES and time.time() < deadline:
        time.sleep(0.2)
    on_disk = runs.read_status(run_dir)
    try:
        seen, raised = jobs.refresh_status(run_dir), None
    except OSError as err:
        seen, raised = {}, repr(err)
    temp = [p.name for p in run_dir.rglob("*.tmp")]
    (root / "filler").unlink()
    return {
        "trial": "disk full while training",
        "status_json": on_disk.get("state"),
        "reader_sees": seen.get("state"),
        "reader_raised": raised,
        "ended_after_s": round(time.time() - filled, 1),
        "message": seen.get("message", on_disk.get("message", ""))[:160],
        "temporary_files_left": temp,
        "log_names_the_disk": "No space left" in runs.tail_log(run_dir, 80),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--disk-full", action="store_true")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.disk_full and not args.inner:  # a private mount namespace: the tmpfs is ours alone
        return subprocess.call(
            ["unshare", "-m", sys.executable, __file__, "--disk-full", "--inner"]
        )
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        model = tiny_bert(folder / "tiny-bert")
        global DATA
        from tests.conftest import write_reviews

        DATA = write_reviews(folder / "reviews.csv", rows=2000)
        results = []
        if args.disk_full:
            disk = folder / "disk"
            disk.mkdir()
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True
            )
            os.environ["STUDIO_DATA"] = str(disk)
            try:
                results.append(disk_full(model, disk / "runs"))
            finally:
                subprocess.run(["umount", "-l", str(disk)], check=False)
        else:
            os.environ["STUDIO_DATA"] = str(folder / "data")
            for trial in range(args.trials):
                results.append(kill_supervisor(model, folder / f"s{trial}", rng))
                results.append(kill_trainer(model, folder / f"t{trial}", rng))
        for result in results:
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
