"""What experiments add to a run: the card (model content hash) and MLflow (import, logging).

    .venv/bin/python bench/experiments_overhead.py        # mlflow parts skipped if not installed

Prints one JSON line per measurement (median of 5); figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path


def median_seconds(function, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    import os
    import subprocess
    import sys

    from core.card import build_card, folder_hash
    from core.models import embedded_model_path
    from core.settings import RunConfig

    model = Path(embedded_model_path())
    size_mb = sum(p.stat().st_size for p in model.rglob("*") if p.is_file()) / 1e6
    hashed = median_seconds(lambda: folder_hash(model))
    print(
        json.dumps({"what": "model content hash", "mb": round(size_mb, 1), "s": round(hashed, 3)})
    )
    card = median_seconds(lambda: build_card(Path("run"), RunConfig(), str(model)))
    print(json.dumps({"what": "whole card (hash included)", "s": round(card, 3)}))
    try:
        import mlflow  # noqa: F401
    except ImportError:
        print(json.dumps({"what": "mlflow", "skipped": "not installed"}))
        return
    code = "import time; t = time.perf_counter(); import mlflow; print(time.perf_counter() - t)"
    imports = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ
            ).stdout
        )
        for _ in range(3)
    ]
    print(
        json.dumps(
            {"what": "import mlflow (fresh process)", "s": round(statistics.median(imports), 2)}
        )
    )
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as folder:
        client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
        run_id = client.create_run(client.create_experiment("bench")).info.run_id
        steps = iter(range(10**6))
        per_metric = median_seconds(
            lambda: client.log_metric(run_id, "loss", 0.5, step=next(steps)), 50
        )
        print(
            json.dumps({"what": "log_metric, local SQLite store", "ms": round(per_metric * 1e3, 2)})
        )
        from mlflow.entities import Metric

        record = ["loss", "grad_norm", "learning_rate", "epoch", "tokens_per_s", "memory_mb"]
        per_batch = median_seconds(
            lambda: client.log_batch(
                run_id, metrics=[Metric(k, 0.5, 0, next(steps)) for k in record]
            ),
            50,
        )
        batch = {"what": "log_batch of a 6-metric record (as the tracker logs), local SQLite"}
        batch.update(ms=round(per_batch * 1e3, 2), speedup=round(6 * per_metric / per_batch, 1))
        print(json.dumps(batch))


if __name__ == "__main__":
    main()
