"""Benchmark: how precise the data report is on real text, beside the ordinary alternatives.

    .venv/bin/python bench/data_precision.py              # needs ../shared/datasets/
    .venv/bin/python bench/data_precision.py --seeds 0 1 2

Precision = share of flagged rows (PII) or flagged pairs (near-duplicates) that really hold the
problem, against hand judgements in bench/judged/ (each flagged row or pair was read; AG News
rows are kept as row numbers only, its licence being research-only). Rows or pairs a detector
flags that nobody judged are counted and shown, never guessed.

- PII: `core.data.pii.find_pii` (libphonenumber, card issuers + Luhn, IP context) against the
  plain regular expressions of `core.data.scan` (what the report used before).
- Near-duplicates: `find_duplicates` (length-aware) against the same MinHash with the plain
  Jaccard ≥ 0.7 rule of ordinary MinHash deduplication (`length_aware=False`); the plain rule's
  precision is measured on a random sample of 50 of its pairs per dataset (all when fewer), at
  the first seed (the seed changes which candidate pairs MinHash finds, not the rule).
Recall on planted problems is bench/data_quality.py's part (1M rows).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "datasets"
JUDGED = ROOT / "bench" / "judged"


def read_datasets(folder: Path = SHARED) -> dict[str, pd.Series]:
    """The text column of each judged dataset, read exactly as the judgements were made."""
    ag = pd.read_csv(folder / "ag_news_test.csv", header=None, names=["c", "t", "d"], dtype=str)
    trec = (folder / "trec_train_5500.label").read_bytes().decode("latin-1").splitlines()
    subj = pd.read_csv(
        folder / "subj_train.tsv", sep="\t", header=None, names=["text", "label"], quoting=3
    )
    numina = [json.loads(line) for line in open(folder / "numina_cot_sharegpt_1k.jsonl")]
    seeds = [json.loads(line) for line in open(folder / "self_instruct_seed_tasks.jsonl")]
    return {
        "ag_news": ag.t + " " + ag.d,
        "trec": pd.Series([line.split(" ", 1)[1] for line in trec]),
        "banking77": pd.read_csv(folder / "banking77_train.csv", dtype=str).text,
        "reviews": pd.read_csv(ROOT / "assets" / "sample_reviews.csv", dtype=str).text.fillna(""),
        "subj": subj.text.astype(str),
        "numina": pd.Series([" ".join(t["value"] for t in r["conversations"]) for r in numina]),
        "self_instruct": pd.Series(
            [
                r["instruction"]
                + " "
                + " ".join(i["input"] + " " + i["output"] for i in r["instances"])
                for r in seeds
            ]
        ),
    }


def read_judged(name: str) -> dict[tuple, int]:
    with open(JUDGED / name, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if name == "pii.csv":
        return {(r["dataset"], int(r["row"])): int(r["holds_pii"]) for r in rows}
    return {(r["dataset"], int(r["row"]), int(r["of_row"])): int(r["near_duplicate"]) for r in rows}


def score(keys: list[tuple], judged: dict[tuple, int]) -> dict:
    """Flagged, judged, true, unjudged and precision (over the judged ones) of flagged keys."""
    known = [judged[k] for k in keys if k in judged]
    return {
        "flagged": len(keys),
        "true": sum(known),
        "judged": len(known),
        "unjudged": len(keys) - len(known),
        "precision": sum(known) / len(known) if known else float("nan"),
    }


def pii_rows(texts: pd.Series, detector: str) -> tuple[list[int], float]:
    from core.data.pii import find_pii
    from core.data.scan import PII_PATTERNS, scan

    start = time.perf_counter()
    found = find_pii(texts) if detector == "studio" else scan(texts, PII_PATTERNS)
    rows = sorted({int(i) for rows in found.values() for i in rows})
    return rows, time.perf_counter() - start


def near_pairs(texts: pd.Series, length_aware: bool, seed: int) -> tuple[list[tuple], float]:
    from core.data.dedup import find_duplicates

    start = time.perf_counter()
    found = find_duplicates(texts, seed=seed, length_aware=length_aware)
    pairs = list(zip(found.near.tolist(), found.near_of.tolist(), strict=True))
    return pairs, time.perf_counter() - start


def total(scores: list[dict]) -> dict:
    summed = {k: sum(s[k] for s in scores) for k in ("flagged", "true", "judged", "unjudged")}
    summed["precision"] = summed["true"] / summed["judged"] if summed["judged"] else float("nan")
    return summed


def pii_table(data: dict[str, pd.Series], judged: dict) -> None:
    print("\n| dataset | rows | detector | flagged rows | really PII | precision | unjudged | s |")
    print("|---|---|---|---|---|---|---|---|")
    sums = {"studio": [], "regex": []}
    for name, texts in data.items():
        for detector in ("regex", "studio"):  # interleaved, same process
            rows, seconds = pii_rows(texts, detector)
            result = score([(name, r) for r in rows], judged)
            sums[detector].append(result)
            print(row_line(name, len(texts), detector, result, seconds))
    for detector, scores in sums.items():
        print(row_line("**all**", sum(map(len, data.values())), detector, total(scores), None))


def near_table(data: dict[str, pd.Series], judged: dict, seeds: list[int]) -> None:
    print(
        "\n| dataset | seed | rule | flagged pairs | judged | really copies | precision | unjudged | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in seeds:
        sums = {"length-aware": [], "plain Jaccard": []}
        for name in ("ag_news", "trec", "banking77", "reviews", "subj"):
            rules = ("plain Jaccard", "length-aware") if seed == seeds[0] else ("length-aware",)
            for rule in rules:
                pairs, seconds = near_pairs(data[name], rule == "length-aware", seed)
                flagged = len(pairs)
                if rule == "plain Jaccard":  # judged on a fixed random sample of its pairs
                    pairs = random.Random(0).sample(pairs, min(50, len(pairs)))
                result = {**score([(name, *p) for p in pairs], judged), "flagged": flagged}
                sums[rule].append(result)
                print(row_line(name, seed, rule, result, seconds, pairs=True))
        print(row_line("**all**", seed, "length-aware", total(sums["length-aware"]), None, True))
        if sums["plain Jaccard"]:  # each dataset's sample precision weighted by its flagged pairs
            plain = sums["plain Jaccard"]
            weighted = sum(s["precision"] * s["flagged"] for s in plain) / total(plain)["flagged"]
            print(
                f"| **all, weighted by flagged pairs** | {seed} | plain Jaccard | "
                f"{total(plain)['flagged']} | | | {weighted:.1%} | | |"
            )


def row_line(name, size, method, result, seconds, pairs=False) -> str:
    took = f"{seconds:.2f}" if seconds is not None else ""
    judged = f"{result['judged']} | " if pairs else ""
    return (
        f"| {name} | {size} | {method} | {result['flagged']} | {judged}{result['true']} | "
        f"{result['precision']:.1%} | {result['unjudged']} | {took} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"No real-data pack at {SHARED}: put the shared datasets there and rerun.")
    data = read_datasets()
    print("## PII (rows)")
    pii_table(data, read_judged("pii.csv"))
    print("\n## Near-duplicates (pairs: row, earlier row)")
    near_table(data, read_judged("near_duplicates.csv"), args.seeds)
    print(
        "\nPlain Jaccard: judged on a random sample of up to 50 of its pairs per dataset; the "
        "precision over all its pairs weights each dataset's sample by its flagged pairs."
    )


if __name__ == "__main__":
    main()
