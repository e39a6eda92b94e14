"""The standalone model and the local endpoint on the embedded MiniLM: merge cost against the
estimate, and what the HTTP endpoint adds over calling the model in-process.

    .venv/bin/python bench/merge_serve.py --rounds 3

Run: the embedded MiniLM classifier (22.7 M parameters) with a LoRA (r 8 on query/value, random
non-zero weights) saved as a run folder. Texts: the first 32 SUBJ test sentences
(../shared/datasets/subj_test.tsv).

(1) Merge: `python -m core.merge` in a child process, wall time and the child's peak RSS
    (ru_maxrss), against core.merge's estimate (weights + 1 GB).
(2) Endpoint: per request, 1 text and 32 texts, (a) in-process `core.serve.predictions` against
    (b) a POST to `python -m core.serve` on loopback; alternated in each round, median over
    20 requests each. Read the ratio; absolute times depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SUBJ = ROOT.parent / "shared" / "datasets" / "subj_test.tsv"


def make_run(root: Path) -> Path:
    from core.models import embedded_model_path
    from core.settings import EMBEDDED_MODEL
    from tests.core.test_merge import make_run as build

    return build(root, EMBEDDED_MODEL, embedded_model_path(), "classification", ["query", "value"])


def measure_merge(run_dir: Path) -> dict:
    from core.merge import merge_memory_gb
    from core.settings import EMBEDDED_MODEL

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core.merge", "--run", str(run_dir)], cwd=ROOT,
                   check=True, capture_output=True)  # fmt: skip
    seconds = time.perf_counter() - started
    peak_gb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) * 1024 / 1e9
    return {"seconds": seconds, "peak_rss_gb": peak_gb,
            "estimate_gb": merge_memory_gb(EMBEDDED_MODEL)["needed_gb"]}  # fmt: skip


def timed(call, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure_endpoint(run_dir: Path, texts: list[str], rounds: int) -> dict:
    from core.predict import load_merged_classifier
    from core.serve import predictions

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "core.serve", "--run", str(run_dir),
                               "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    server.stdout.readline()
    classifier = load_merged_classifier(run_dir, "cpu")
    url = f"http://127.0.0.1:{port}/predict"

    def post(batch):
        body = json.dumps({"texts": batch}).encode()
        urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60).read()

    results = {}
    try:
        for size in (1, 32):
            batch = texts[:size]
            local, http = [], []
            for _ in range(rounds):
                local.append(timed(lambda b=batch: predictions(classifier, b), 20))
                http.append(timed(lambda b=batch: post(b), 20))
            results[size] = (statistics.median(local), statistics.median(http))
    finally:
        server.terminate()
        server.wait(10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = [line.split("\t")[0] for line in SUBJ.read_text().splitlines()[:32]]
    with tempfile.TemporaryDirectory() as folder:
        run_dir = make_run(Path(folder))
        merge = measure_merge(run_dir)
        print(f"merge: {merge['seconds']:.1f} s, child peak RSS {merge['peak_rss_gb']:.2f} GB, "
              f"estimate {merge['estimate_gb']:.2f} GB")  # fmt: skip
        for size, (local, http) in measure_endpoint(run_dir, texts, args.rounds).items():
            print(f"{size:>2} text(s)/request: in-process {local:.1f} ms, endpoint {http:.1f} ms "
                  f"({http / local:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
