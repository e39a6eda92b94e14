"""Quality benchmark: the app's presets and Auto against the ordinary alternatives, side by side.

For each classification dataset (the shared pack and the sample), on one fixed stratified split
(the app's own: 20% validation, split seed 42), it runs: the majority class; frozen embeddings of
the same base model + logistic regression (scikit-learn); SetFit on the same base model; and each
preset and Auto through `python -m core.fit`. It reports accuracy, macro-F1, wall time and whether
the model predicts a single class, over several seeds for the app's paths.

    .venv/bin/python bench/quality.py                                  # everything (hours on 2 cores)
    .venv/bin/python bench/quality.py --datasets sample,subj,trec --paths majority,frozen_lr,quick,auto \\
        --seeds 42,43,44 --budget-minutes 10

Results are appended to bench-results/quality.jsonl (one JSON object per dataset × path × seed) and
summarised as a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "datasets"
APP_PATHS = ("quick", "balanced", "thorough", "auto")
ALL_PATHS = ("majority", "frozen_lr", "setfit", *APP_PATHS)


def load_dataset(name: str) -> pd.DataFrame:
    """A dataset as columns text, label (strings), as published (labels normalised for sample)."""
    if name == "sample":
        from core.data.clean import normalize_labels

        table = pd.read_csv(ROOT / "assets" / "sample_reviews.csv")
        return normalize_labels(table, {"text": "text", "label": "label"})[["text", "label"]]
    if name == "subj":
        table = pd.read_csv(SHARED / "subj_train.tsv", sep="\t", header=None, quoting=3)
        return pd.DataFrame({"text": table[0], "label": table[1].astype(str)})
    if name == "trec":
        lines = (SHARED / "trec_train_5500.label").read_bytes().decode("latin-1").splitlines()
        pairs = [line.split(" ", 1) for line in lines if line.strip()]
        return pd.DataFrame(
            {"text": [p[1] for p in pairs], "label": [p[0].split(":")[0] for p in pairs]}
        )
    if name == "banking77":
        table = pd.read_csv(SHARED / "banking77_train.csv")
        return pd.DataFrame({"text": table["text"].str.strip(), "label": table["category"]})
    if name == "ag_news":
        table = pd.read_csv(SHARED / "ag_news_test.csv", header=None)
        return pd.DataFrame({"text": table[1] + ". " + table[2], "label": table[0].astype(str)})
    raise SystemExit(f"unknown dataset {name!r}; known: sample, subj, trec, banking77, ag_news")


def fixed_split(csv: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train / validation split core.fit trains and evaluates on (the app's split)."""
    from core.data.load import load_table
    from core.data.split import classification_split
    from core.settings import DataSettings

    data = DataSettings(path=str(csv), text_column="text", label_column="label")
    return classification_split(load_table(csv), data)


def scores(truth, predicted) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
        "predicted_classes": int(len(set(predicted))),
    }


def run_majority(train, val, seed, args) -> dict:
    commonest = train["label"].value_counts().index[0]
    return scores(val["label"], [commonest] * len(val))


def run_frozen_lr(train, val, seed, args) -> dict:
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    from core.models import embedded_model_path

    encoder = SentenceTransformer(str(embedded_model_path()), device="cpu")
    x_train = encoder.encode(train["text"].tolist(), batch_size=64, normalize_embeddings=True)
    x_val = encoder.encode(val["text"].tolist(), batch_size=64, normalize_embeddings=True)
    model = LogisticRegression(max_iter=2000, C=args.lr_c).fit(x_train, train["label"])
    return scores(val["label"], model.predict(x_val))


def run_setfit(train, val, seed, args) -> dict:
    """SetFit with few contrastive iterations on at most --setfit-rows training rows (2 cores)."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from core.models import embedded_model_path

    if len(train) > args.setfit_rows:
        share = args.setfit_rows / len(train)
        train = train.groupby("label").sample(frac=share, random_state=seed)
    model = SetFitModel.from_pretrained(str(embedded_model_path()))
    arguments = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="setfit-"),  # its default is ./checkpoints
        batch_size=16,
        num_epochs=1,
        num_iterations=args.setfit_iterations,
        seed=seed,
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=Dataset.from_pandas(train[["text", "label"]].reset_index(drop=True)),
    )
    trainer.train()
    return {**scores(val["label"], list(model.predict(val["text"].tolist()))), "rows": len(train)}


def run_app(path: str, csv: Path, seed: int, args, work: Path) -> dict:
    """One preset or Auto through the one-line launch, as a user would run it."""
    out = work / f"{csv.stem}-{path}-{seed}"
    command = [
        sys.executable,
        "-m",
        "core.fit",
        "--data",
        str(csv),
        "--text",
        "text",
        "--label",
        "label",
        "--preset",
        path,
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--budget-minutes",
        str(args.budget_minutes),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    result = json.loads((out / "eval.json").read_text()) if (out / "eval.json").exists() else {}
    if done.returncode != 0 or not result:
        return {"error": (done.stderr or done.stdout)[-500:]}
    confusion = np.asarray(result["confusion"])
    config = (out / "config.yaml").read_text()
    steps = next(
        (
            line.split(":")[1].strip()
            for line in config.splitlines()
            if line.strip().startswith("max_steps:")
        ),
        "?",
    )
    return {
        "accuracy": result["accuracy"],
        "macro_f1": result["macro_f1"],
        "predicted_classes": int((confusion.sum(axis=0) > 0).sum()),
        "steps": steps,
        "run_dir": str(out),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets",
        default="sample,subj,trec,banking77,ag_news",
        help="comma-separated; name@N takes a stratified subsample of N rows",
    )
    parser.add_argument("--paths", default=",".join(ALL_PATHS))
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="Auto's budget")
    parser.add_argument("--setfit-rows", type=int, default=512)
    parser.add_argument("--setfit-iterations", type=int, default=5)
    parser.add_argument("--lr-c", type=float, default=1.0, help="logistic regression C")
    parser.add_argument("--max-rows", type=int, default=0, help="subsample each dataset (0: all)")
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "quality.jsonl"))
    return parser.parse_args()


def prepare(name: str, args, work: Path) -> Path:
    """The dataset as a CSV; "subj@377" is a stratified subsample of 377 rows (small-data case)."""
    base, _, rows = name.partition("@")
    table = load_dataset(base)
    limit = int(rows) if rows else args.max_rows
    if limit and len(table) > limit:
        table = table.groupby("label").sample(frac=limit / len(table), random_state=0)
    csv = work / f"{name}.csv"
    table.to_csv(csv, index=False)
    return csv


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="quality-"))
    seeds = [int(s) for s in args.seeds.split(",")]
    records = []
    for name in args.datasets.split(","):
        csv = prepare(name, args, work)
        train, val = fixed_split(csv)
        print(f"== {name}: {len(train)} train / {len(val)} validation rows", flush=True)
        for path in args.paths.split(","):
            # Deterministic baselines run once; the app's paths and SetFit once per seed.
            for seed in seeds if path in (*APP_PATHS, "setfit") else seeds[:1]:
                started = time.time()
                if path in APP_PATHS:
                    result = run_app(path, csv, seed, args, work)
                else:
                    result = globals()[f"run_{path}"](train, val, seed, args)
                record = {
                    "dataset": name,
                    "path": path,
                    "seed": seed,
                    "wall_s": round(time.time() - started, 1),
                    "train_rows": len(train),
                    "date": time.strftime("%Y-%m-%d %H:%M"),
                    **result,
                }
                print(json.dumps(record), flush=True)
                with open(out, "a") as log:
                    log.write(json.dumps(record) + "\n")
                records.append(record)
    print(summary_table(records))


def summary_table(records: list[dict]) -> str:
    """Markdown: mean ± sd over seeds of accuracy and macro-F1, mean wall time, one-class runs."""
    frame = pd.DataFrame([r for r in records if "accuracy" in r])
    if frame.empty:
        return "(no results)"
    lines = [
        "| dataset | path | seeds | accuracy | macro-F1 | wall s | one-class runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for (name, path), rows in frame.groupby(["dataset", "path"], sort=False):
        acc, f1 = rows["accuracy"], rows["macro_f1"]
        lines.append(
            f"| {name} | {path} | {len(rows)} | {acc.mean():.1%} ± {acc.std(ddof=0):.1%} | "
            f"{f1.mean():.3f} | {rows['wall_s'].mean():.0f} | "
            f"{int((rows['predicted_classes'] <= 1).sum())} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
