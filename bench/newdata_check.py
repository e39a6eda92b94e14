"""By-hand check of core.newdata on real data: a quick MiniLM run on 1,000 SUBJ rows (columns
renamed to sentence/subjective), then the SUBJ test file (a headerless TSV that core.data.load
reads as text/label, so the columns are mapped) scored against the run's validation.

    PYTHONPATH=. .venv/bin/python bench/newdata_check.py [--out /tmp/nd]

Needs ../shared/datasets; prints the figures, the verdict and the drift report, without and
with the embedding check (whose cost it shows).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core import jobs, runs
from core.data.load import load_table
from core.models import embedded_model_path
from core.newdata import check_new_data
from core.settings import RunConfig

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def train_run(out: Path) -> Path:
    train = load_table(DATASETS / "subj_train.tsv").sample(1000, random_state=0)
    renamed = train.rename(columns={"text": "sentence", "label": "subjective"})
    renamed.to_csv(out / "subj1k.csv", index=False)
    config = RunConfig().replace(
        model={"name_or_path": str(embedded_model_path())},
        data={
            "path": str(out / "subj1k.csv"),
            "text_column": "sentence",
            "label_column": "subjective",
        },  # fmt: skip
        training={"max_steps": 60, "per_device_train_batch_size": 16, "max_length": 64},
        name="subj-newdata",
    )
    started = time.time()
    run = jobs.start_job(config, root=out / "runs")
    status = jobs.wait_for(run, timeout=900)
    print(f"train: {status['state']} in {time.time() - started:.0f} s")
    if status["state"] != "completed":
        print(runs.tail_log(run))
        sys.exit(1)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/nd"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    run = train_run(out)
    for embed in (False, True):
        started = time.time()
        report = check_new_data(run, DATASETS / "subj_test.tsv", embed=embed)
        print(f"embed={embed}: {time.time() - started:.1f} s; columns "
              f"{report['text_column']}/{report['label_column']}; {report['scored']} rows")  # fmt: skip
        print("  validation", report["validation"], "new", report["new"])
        print(" ", report["verdict"])
        for check in report["drift"].checks:
            print("   ", check.message)


if __name__ == "__main__":
    main()
