"""Does one user's big quality report stall everyone else? A ticker thread stands in for another
user's page (a small piece of work every 10 ms) while the report runs in-process (a session
thread, as before) or in a worker process (core/worker.py). Reports the ticker's stalls.

    .venv/bin/python bench/responsiveness.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data_quality import generate  # noqa: E402  (bench/data_quality.py's planted 1M rows)

from core import worker  # noqa: E402
from core.data.load import load_table  # noqa: E402
from core.data.quality import quality_report  # noqa: E402

MAPPING = {"task": "classification", "text": "text", "label": "label"}


def ticker(stop: threading.Event, gaps: list[float]) -> None:
    """Another session: small work every 10 ms; records how late each tick is (ms)."""
    last = time.perf_counter()
    while not stop.is_set():
        json.dumps({"step": len(gaps), "loss": 0.5})  # a page's small, GIL-bound work
        time.sleep(0.01)
        now = time.perf_counter()
        gaps.append((now - last - 0.01) * 1000)
        last = now


def measure(label: str, run) -> dict:
    gaps: list[float] = []
    stop = threading.Event()
    thread = threading.Thread(target=ticker, args=(stop, gaps))
    thread.start()
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    stop.set()
    thread.join()
    gaps_ms = np.array(gaps)
    return {
        "how": label,
        "report_s": round(seconds, 1),
        "ticks": len(gaps),
        "late_p50_ms": round(float(np.percentile(gaps_ms, 50)), 1),
        "late_p99_ms": round(float(np.percentile(gaps_ms, 99)), 1),
        "late_max_ms": round(float(gaps_ms.max()), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        generate(args.rows)[0].to_csv(path, index=False)
        runs = {
            "in-process": lambda: quality_report(load_table(path), MAPPING),
            "worker": lambda: worker.run_in_worker(worker._load_and_report, str(path), MAPPING),
        }
        for label in ["in-process", "worker", "in-process", "worker"]:  # interleaved
            print(json.dumps(measure(label, runs[label])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
