"""What going through Slurm costs a Quick run: the same tiny run locally (core.jobs) and on a
one-node Slurm on this machine (core.cluster.slurm), alternating, wall time from start to a
"completed" status.

    .venv/bin/python bench/slurm_overhead.py --rounds 2     # as root, slurm-wlm + munge installed

The cluster is the one the `slurm` tests start (tests/cluster/slurm_daemons.py). Model: a
2-layer, 32-wide BERT built from a config (as tests/conftest.py), 120 synthetic reviews, one epoch.
Read the ratio, not the seconds: on a shared machine load hits both paths alike only because they
alternate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tiny_models import tiny_bert  # noqa: E402 - bench/ is on the path when run

from core import jobs, runs  # noqa: E402
from core.cluster import slurm  # noqa: E402
from core.settings import RunConfig  # noqa: E402
from tests.cluster.slurm_daemons import start_slurm  # noqa: E402
from tests.conftest import write_reviews  # noqa: E402


def one_run(config: RunConfig, root: Path, on_slurm: bool) -> float:
    started = time.perf_counter()
    if on_slurm:
        run_dir = runs.create_run(config, root=root)
        slurm.submit(run_dir)
    else:
        run_dir = jobs.start_job(config, root=root)
    status = jobs.wait_for(run_dir, timeout=600, poll=0.2)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        cluster = start_slurm(root / "slurm")
        import os

        os.environ["SLURM_CONF"] = cluster.env["SLURM_CONF"]
        try:
            config = RunConfig().replace(
                model={"name_or_path": str(tiny_bert(root / "model"))},
                data={"path": str(write_reviews(root / "reviews.csv", rows=120))},
                training={
                    "num_train_epochs": 1.0,
                    "per_device_train_batch_size": 8,
                    "max_length": 32,
                },
                lora={"r": 4, "alpha": 8},
            )
            times = {"local": [], "slurm": []}
            for _ in range(args.rounds):
                for path in ("local", "slurm"):
                    times[path].append(one_run(config, root / path, path == "slurm"))
        finally:
            cluster.stop()
    for path, seconds in times.items():
        print(f"{path:6s} median {statistics.median(seconds):6.1f} s  runs {seconds}")
    ratio = statistics.median(times["slurm"]) / statistics.median(times["local"])
    print(f"slurm / local: {ratio:.2f}x")


if __name__ == "__main__":
    main()
