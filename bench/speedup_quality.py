"""Do the app's speed-ups cost quality? Paired runs on real datasets, one trick switched off at a time.

    nice .venv/bin/python bench/speedup_quality.py --seeds 10 --json quality.json

For each dataset (real, from ../shared/datasets) and each seed, the app's own training path
(`prepare_task`, `build_training_args`, `StudioTrainer`, as `python -m core.train` uses them) trains
the embedded MiniLM + LoRA for one epoch in each variant, with the same seed, the same rows and the
same validation rows:

- app: everything on (length-bucketed batches);
- random_batches: the same with random batches instead of length-bucketed ones;
- no_lora_dropout: the same with LoRA's dropout at 0 instead of 0.1 (peft draws a mask over the
  input of every adapted layer, a third of a realistic-size step's element-wise time:
  bench/profile_step.py), to decide whether the faster setting costs quality.

(A third variant, torch's dropout against the Poisson-splitting dropout sampler that the app used
until 2026-11-27, decided that sampler's removal: BENCHMARKS.md.)

Each variant is scored on the validation rows (accuracy and cross-entropy) and compared with the app
by a Wilcoxon signed-rank test over the paired seeds (scipy). The output head's logits mask applies
to causal LMs only and is exact by construction (tests/core/train/test_trainer.py), so it has no
variant here. Sized to finish on 2 shared cores: 320 training rows and 320 validation rows per
dataset, max length 32, batch 16, one epoch (20 steps) unless --epochs says more.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
VARIANTS = ("app", "random_batches", "no_lora_dropout")
TRAIN_ROWS, VAL_ROWS = 320, 320


def read_ag_news(folder: Path) -> list[tuple[str, str]]:
    """(text, label) rows: title + description, HTML-entity debris left as it is."""
    with open(folder / "ag_news_test.csv", newline="", encoding="utf-8") as handle:
        return [(f"{title}. {desc}", label) for label, title, desc in csv.reader(handle)]


def read_subj(folder: Path) -> list[tuple[str, str]]:
    rows = []
    for name in ("subj_train.tsv", "subj_test.tsv"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            text, _, label = line.rpartition("\t")
            rows.append((text, label))
    return rows


def read_trec(folder: Path) -> list[tuple[str, str]]:
    raw = (folder / "trec_train_5500.label").read_bytes().decode("latin-1")
    return [(line.split(" ", 1)[1], line.split(":", 1)[0]) for line in raw.splitlines() if line]


READERS = {"ag_news": read_ag_news, "subj": read_subj, "trec": read_trec}


def write_subset(name: str, folder: Path, work: Path) -> Path:
    """TRAIN_ROWS + VAL_ROWS rows drawn once (seed 0) into a CSV the app reads."""
    rows = READERS[name](folder)
    random.Random(0).shuffle(rows)
    path = work / f"{name}.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows[: TRAIN_ROWS + VAL_ROWS])
    return path


def train_once(data: Path, seed: int, variant: str, work: Path, epochs: float = 1.0) -> dict:
    """`epochs` passes of the app's path in this variant; validation accuracy and loss."""
    import numpy as np
    import torch

    from bench.throughput_paths import app_trainer
    from core.settings import RunConfig
    from core.train.classification import predict_logits

    config = RunConfig().replace(
        data={"path": str(data), "validation_fraction": VAL_ROWS / (TRAIN_ROWS + VAL_ROWS)},
        training={
            "seed": seed,
            "max_length": 32,
            "num_train_epochs": epochs,
            "group_by_length": variant != "random_batches",
        },
        lora={"dropout": 0.0} if variant == "no_lora_dropout" else {},
    )
    prepared, trainer = app_trainer(config, Path(tempfile.mkdtemp(dir=work)))
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    val = prepared.datasets["validation"]
    logits = predict_logits(prepared.model, val, prepared.eval_collator)
    labels = np.asarray(val["labels"])
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels))
    return {
        "accuracy": float((logits.argmax(-1) == labels).mean()),
        "eval_loss": float(loss),
        "train_s": seconds,
        "n_train": prepared.n_train,
        "n_val": len(labels),
    }


def paired_test(results: dict, variant: str, metric: str) -> dict:
    """Wilcoxon signed-rank of variant - app over the seeds both finished."""
    from scipy.stats import wilcoxon

    app, other = results["app"], results[variant]
    seeds = sorted(set(app) & set(other))
    diffs = [other[s][metric] - app[s][metric] for s in seeds]
    out = {"n": len(seeds), "median_diff": statistics.median(diffs) if diffs else None}
    if len(seeds) >= 5 and any(diffs):
        out["p"] = float(wilcoxon(diffs).pvalue)
    better = (lambda d: d > 0) if metric == "accuracy" else (lambda d: d < 0)
    out["variant_better_in"] = sum(better(d) for d in diffs)
    return out


def summary(results: dict) -> dict:
    out = {}
    for variant, by_seed in results.items():
        if by_seed:
            out[variant] = {
                m: statistics.median(r[m] for r in by_seed.values())
                for m in ("accuracy", "eval_loss", "train_s")
            }
    for variant in VARIANTS[1:]:
        if results.get(variant):
            out[f"{variant}_vs_app"] = {
                m: paired_test(results, variant, m) for m in ("accuracy", "eval_loss")
            }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="ag_news,subj")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--epochs",
        type=float,
        default=1.0,
        help="passes per run (7.5 = the Quick preset's 150 steps)",
    )
    parser.add_argument("--json", default="speedup_quality.json")
    parser.add_argument("--shared", default=str(SHARED), help="folder of the real datasets")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="speedup-quality-"))
    os.environ.setdefault("STUDIO_DATA", str(work / "studio-data"))
    out_path = Path(args.json)
    raw = json.loads(out_path.read_text()) if out_path.exists() else {}
    variants = args.variants.split(",")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in args.datasets.split(","):
            data = write_subset(name, Path(args.shared), work)
            results = raw.setdefault(name, {"runs": {}})["runs"]
            for variant in VARIANTS:
                results.setdefault(variant, {})
            order = variants if seed % 2 else variants[::-1]  # alternate: load hits all alike
            for variant in order:
                if str(seed) in results[variant]:
                    continue  # resumed: this run is done
                results[variant][str(seed)] = train_once(data, seed, variant, work, args.epochs)
                print(name, seed, variant, results[variant][str(seed)], flush=True)
                raw[name]["summary"] = summary(results)
                out_path.write_text(json.dumps(raw, indent=1))
    print(json.dumps({name: raw[name]["summary"] for name in raw}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
