"""Quality benchmark: the app's presets and Auto against the ordinary alternatives, side by side.

For each classification dataset (the shared pack and the sample) a fixed stratified 20% is held
out as the test set (split seed 0) and never shown to any path; the rest is what a user would hand
the app. The app splits it its own way (20% validation, split seed 42) and trains on the rest; the
alternatives, which need no validation rows, learn from all of it (the stronger baseline): the
majority class; frozen embeddings of the same base model + logistic
regression (scikit-learn); SetFit on the same base model; each preset and Auto through
`python -m core.fit`. Every path is scored on the held-out test rows (the app's adapters through
`core.predict.predict_file`), so Auto's choice of settings on the validation rows does not flatter
it; the validation figure it chose by is kept beside (`val_accuracy`).

    .venv/bin/python bench/quality.py                                  # everything (hours on 2 cores)
    .venv/bin/python bench/quality.py --datasets sample,subj,trec --paths majority,frozen_lr,quick,auto \\
        --seeds 42,43,44 --budget-minutes 5

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


def hold_out(table: pd.DataFrame, test_share: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(what the user hands the app, the held-out test rows): stratified, split seed 0."""
    test = table.groupby("label").sample(frac=test_share, random_state=0)
    return table.drop(test.index), test


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


def run_majority(train, test, seed, args) -> dict:
    commonest = train["label"].value_counts().index[0]
    return scores(test["label"], [commonest] * len(test))


def run_frozen_lr(train, test, seed, args) -> dict:
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    from core.models import embedded_model_path

    encoder = SentenceTransformer(str(embedded_model_path()), device="cpu")
    x_train = encoder.encode(train["text"].tolist(), batch_size=64, normalize_embeddings=True)
    x_test = encoder.encode(test["text"].tolist(), batch_size=64, normalize_embeddings=True)
    model = LogisticRegression(max_iter=2000, C=args.lr_c).fit(x_train, train["label"])
    return scores(test["label"], model.predict(x_test))


def run_setfit(train, test, seed, args) -> dict:
    """SetFit on at most --setfit-rows training rows (0: all), its contrastive body training capped
    at --setfit-steps optimizer steps (0: SetFit's own count, 2 × iterations × rows / 16), so it
    can be given about Auto's wall time; the logistic head then learns from the same rows."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from core.models import embedded_model_path

    if args.setfit_rows and len(train) > args.setfit_rows:
        share = args.setfit_rows / len(train)
        train = train.groupby("label").sample(frac=share, random_state=seed)
    model = SetFitModel.from_pretrained(str(embedded_model_path()))
    arguments = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="setfit-"),  # its default is ./checkpoints
        batch_size=16,
        num_epochs=1,
        num_iterations=args.setfit_iterations,
        max_steps=args.setfit_steps or -1,
        seed=seed,
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=Dataset.from_pandas(train[["text", "label"]].reset_index(drop=True)),
    )
    trainer.train()
    predicted = list(model.predict(test["text"].tolist()))
    return {**scores(test["label"], predicted), "rows": len(train)}


def run_app(path: str, csv: Path, seed: int, args, work: Path, test: Path) -> dict:
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
        *(f"--set={item}" for item in args.set),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    result = json.loads((out / "eval.json").read_text()) if (out / "eval.json").exists() else {}
    if done.returncode != 0 or not result:
        return {"error": (done.stderr or done.stdout)[-500:]}
    from core.predict import predict_file
    from core.runs import read_config

    predicted = out / "test_predictions.csv"
    predict_file(out, test, predicted, text="text", device="cpu")
    table = pd.read_csv(predicted, keep_default_na=False, dtype=str)
    config = read_config(out)  # the winner's, for Auto
    return {
        **scores(table["label"], table["predicted"]),
        "val_accuracy": result["accuracy"],
        "val_macro_f1": result["macro_f1"],
        "steps": str(config.training.max_steps),
        "method": config.lora.method,
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
    parser.add_argument(
        "--setfit-rows", type=int, default=512, help="SetFit's training rows (0: all)"
    )
    parser.add_argument("--setfit-iterations", type=int, default=20, help="SetFit's default: 20")
    parser.add_argument(
        "--setfit-steps", type=int, default=0, help="cap on SetFit's body steps (0: its own)"
    )
    parser.add_argument("--lr-c", type=float, default=1.0, help="logistic regression C")
    parser.add_argument("--max-rows", type=int, default=0, help="subsample each dataset (0: all)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="passed to core.fit for the app's paths (an ablation); the record's path names it",
    )
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "quality.jsonl"))
    parser.add_argument(
        "--summarize", action="store_true", help="only print the tables of what --out holds"
    )
    return parser.parse_args()


def prepare(name: str, args, work: Path) -> tuple[Path, Path]:
    """(the CSV the app gets, the held-out test CSV); "subj@377" is a stratified subsample of 377
    rows before the hold-out (the small-data case)."""
    base, _, rows = name.partition("@")
    table = load_dataset(base)
    limit = int(rows) if rows else args.max_rows
    if limit and len(table) > limit:
        table = table.groupby("label").sample(frac=limit / len(table), random_state=0)
    given, test = hold_out(table.reset_index(drop=True))
    csv, test_csv = work / f"{name}.csv", work / f"{name}-test.csv"
    given.to_csv(csv, index=False)
    test.to_csv(test_csv, index=False)
    return csv, test_csv


def main() -> None:
    args = parse_args()
    if args.summarize:
        records = [json.loads(line) for line in Path(args.out).read_text().splitlines() if line]
        print(summary_table(records))
        print(goal_table(records))
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="quality-"))
    seeds = [int(s) for s in args.seeds.split(",")]
    records = []
    for name in args.datasets.split(","):
        csv, test_csv = prepare(name, args, work)
        train, val = fixed_split(csv)
        test = pd.read_csv(test_csv, keep_default_na=False, dtype=str)
        print(
            f"== {name}: {len(train)} train / {len(val)} validation / {len(test)} test rows",
            flush=True,
        )
        for path in args.paths.split(","):
            # Deterministic baselines run once; the app's paths and SetFit once per seed.
            for seed in seeds if path in (*APP_PATHS, "setfit") else seeds[:1]:
                started = time.time()
                if path in APP_PATHS:
                    result = run_app(path, csv, seed, args, work, test_csv)
                else:
                    # The baselines learn from every row the app was given (its validation rows
                    # too: they need none), the stronger alternative.
                    given = pd.concat([train, val])
                    result = globals()[f"run_{path}"](given, test, seed, args)
                record = {
                    "dataset": name,
                    "path": path + path_options(path, args),
                    "seed": seed,
                    "wall_s": round(time.time() - started, 1),
                    "train_rows": len(train) if path in APP_PATHS else len(train) + len(val),
                    "test_rows": len(test),
                    "date": time.strftime("%Y-%m-%d %H:%M"),
                    "commit": app_commit(),
                    **result,
                }
                print(json.dumps(record), flush=True)
                with open(out, "a") as log:
                    log.write(json.dumps(record) + "\n")
                records.append(record)
    print(summary_table(records))


def path_options(path: str, args) -> str:
    """What sets this run apart from the path's defaults, for its label: "quick[lora.r=4]",
    "setfit[all rows, 300 steps]"."""
    if path in APP_PATHS and args.set:
        return f"[{','.join(args.set)}]"
    if path == "setfit" and args.setfit_steps:
        rows = f"{args.setfit_rows} rows" if args.setfit_rows else "all rows"
        return f"[{rows}, {args.setfit_steps} steps]"
    return ""


def app_commit() -> str:
    """The app's git commit now (a long benchmark may span commits: each record says which)."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def summary_table(records: list[dict]) -> str:
    """Markdown: mean ± sd over seeds of accuracy and macro-F1, mean wall time, one-class runs,
    and the runs that ended without a result (a failed or diverged run is counted, not hidden)."""
    frame = pd.DataFrame(records)
    if frame.empty or "accuracy" not in frame:
        return "(no results)"
    lines = [
        "| dataset | path | seeds | accuracy | macro-F1 | wall s | one-class runs | failed runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (name, path), rows in frame.groupby(["dataset", "path"], sort=False):
        failed = int(rows["accuracy"].isna().sum())
        rows = rows.dropna(subset=["accuracy"])
        if rows.empty:
            lines.append(f"| {name} | {path} | 0 | — | — | — | — | {failed} |")
            continue
        acc, f1 = rows["accuracy"], rows["macro_f1"]
        lines.append(
            f"| {name} | {path} | {len(rows)} | {acc.mean():.1%} ± {acc.std(ddof=0):.1%} | "
            f"{f1.mean():.3f} | {rows['wall_s'].mean():.0f} | "
            f"{int((rows['predicted_classes'] <= 1).sum())} | {failed} |"
        )
    return "\n".join(lines)


def goal_table(records: list[dict]) -> str:
    """Markdown: per dataset, Auto's mean test accuracy against frozen+LR + 3 points and SetFit."""
    frame = pd.DataFrame([r for r in records if "accuracy" in r])
    if frame.empty:
        return ""
    means = frame.groupby(["dataset", "path"], sort=False)["accuracy"].mean()
    lines = [
        "| dataset | auto (seeds) | frozen_lr | auto − frozen_lr | ≥ +3 points | setfit | auto ≥ setfit |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(frame["dataset"]):
        if (name, "auto") not in means or (name, "frozen_lr") not in means:
            continue
        auto, lr = means[(name, "auto")], means[(name, "frozen_lr")]
        seeds = int(((frame["dataset"] == name) & (frame["path"] == "auto")).sum())
        # The strongest SetFit variant measured on this dataset (any rows / steps).
        setfits = [v for (d, p), v in means.items() if d == name and p.startswith("setfit")]
        setfit = max(setfits) if setfits else None
        lines.append(
            f"| {name} | {auto:.1%} ({seeds}) | {lr:.1%} | {100 * (auto - lr):+.1f} | "
            f"{'met' if auto - lr >= 0.03 else 'not met'} | "
            + (f"{setfit:.1%} | {'yes' if auto >= setfit else 'no'} |" if setfit else "— | — |")
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
