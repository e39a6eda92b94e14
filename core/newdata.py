"""Will it still work on new data? A finished classification run scored on a new labelled batch.

    report = check_new_data(run_dir, "new_batch.csv")
    report["verdict"]  # "9 points worse on the new data; the texts are 2.0× as long and 14% of
                       #  words are unseen: retrain with some of the new data."
    .venv/bin/python -m core.newdata RUN_DIR --data new_batch.csv   # the same, from a terminal

The Results page runs it as a background job (core.newdata_job), which keeps the report.

The batch is read as the Data page reads files (core.data.load) and its columns are found as the
Data page finds them (core.data.detect.suggest_mapping), unless named. Rows whose label the model
never saw are counted and named, and left out of the scores: the model cannot predict them.
Macro-F1 is compared over the labels the batch holds, on both sides (the validation figure is
recomputed from its confusion matrix), so a batch without some labels is not penalised for them.
The drift part is core.data.drift's report between the run's training file and the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from core import runs
from core.data.formats import DataError
from core.evaluate import per_class_report
from core.predict import (
    PredictError,
    check_adapter,
    clean_cell,
    load_merged_classifier,
    load_table_for,
)
from core.predict_job import probabilities_in_chunks

WORSE_POINTS = 5.0  # accuracy this many points below validation counts as "worse"
Progress = Callable[[int, int, str], None]  # (rows done, rows in all, what is happening)


def find_columns(table: pd.DataFrame, data, text_col: str | None, label_col: str | None):
    """(text column, label column) of the batch: as named, else the run's names, else guessed.

    Raises:
        PredictError: a named column is absent, or no label column can be found.
    """
    from core.data.detect import suggest_mapping

    columns = ", ".join(map(str, table.columns))
    for name in (text_col, label_col):
        if name and name not in table.columns:
            raise PredictError(f"No column {name!r} in the batch; it has {columns}.")
    try:
        guess = suggest_mapping(table)
    except DataError as err:
        raise PredictError(f"{err} Name the text column.") from err
    text = text_col or (data.text_column if data.text_column in table else guess.get("text"))
    label = label_col or (data.label_column if data.label_column in table else guess.get("label"))
    if not text:
        raise PredictError(f"No column of the batch looks like text ({columns}): name it.")
    if not label or label == text:
        raise PredictError(
            f"The batch needs a label column to be scored, and none was found ({columns}). "
            "Name it, or use 'Label a whole file' to predict an unlabelled file."
        )
    return text, label


def batch_rows(table: pd.DataFrame, text: str, label: str, known: list[str], pair: str = ""):
    """(texts, second texts or None, label ids) of the rows with text and a known label; and
    unknown label → rows."""
    texts = [clean_cell(v) for v in table[text]]
    labels = [clean_cell(v) for v in table[label]]
    index = {name: i for i, name in enumerate(known)}
    keep = [i for i, (t, y) in enumerate(zip(texts, labels, strict=True)) if t and y in index]
    unknown = pd.Series(
        [y for t, y in zip(texts, labels, strict=True) if t and y and y not in index]
    )
    pairs = [clean_cell(table[pair].iloc[i]) for i in keep] if pair else None
    return (
        [texts[i] for i in keep],
        pairs,
        np.array([index[labels[i]] for i in keep], dtype=int),
        {str(k): int(v) for k, v in unknown.value_counts().items()},
    )


def macro_f1_over(report: list[dict], present: set[str]) -> float:
    """Mean F1 over the labels in `present` (an undefined F1 counts as 0, as training does)."""
    values = [r["f1"] or 0.0 for r in report if r["label"] in present]
    return float(np.mean(values)) if values else float("nan")


def per_class_changes(validation: list[dict], new: list[dict]) -> list[dict]:
    """Per label: recall and F1 on validation and on the batch, and the change in F1."""
    rows = []
    for old, now in zip(validation, new, strict=True):
        if not now["support"]:
            continue
        change = None if old["f1"] is None or now["f1"] is None else now["f1"] - old["f1"]
        rows.append(
            {
                "label": now["label"],
                "rows": now["support"],
                "validation_recall": old["recall"],
                "new_recall": now["recall"],
                "validation_f1": old["f1"],
                "new_f1": now["f1"],
                "f1_change": change,
            }
        )
    return sorted(rows, key=lambda r: (r["f1_change"] is None, r["f1_change"] or 0.0))


def drift_report(config, table: pd.DataFrame, text: str, label: str, embed: bool):
    """core.data.drift.compare of the training file against the batch; None if it is gone."""
    from core.data.drift import compare
    from core.data.load import load_table

    try:
        train = load_table(Path(config.data.path))
    except (OSError, DataError, ValueError):
        return None
    if config.data.text_column not in train or config.data.label_column not in train:
        return None  # the training file changed since: nothing to compare with
    names = {text: config.data.text_column, label: config.data.label_column}
    new = table[[text, label]].rename(columns=names)
    mapping = {"task": "classification", **{"text": names[text], "label": names[label]}}
    return compare(train, new, mapping, embed=embed)


def verdict_text(change_points: float, drift) -> str:
    """One plain sentence: how much worse (or not), why it may be, and what to do."""
    if change_points <= -WORSE_POINTS:
        head = f"{-change_points:.0f} points worse on the new data"
    elif change_points >= WORSE_POINTS:
        head = f"{change_points:.0f} points better on the new data"
    else:
        head = f"About as good on the new data ({change_points:+.1f} points)"
    reasons = []
    checks = {c.name: c for c in drift.checks} if drift is not None else {}
    if "length" in checks and checks["length"].drifted:
        ratio = np.median(drift.new_lengths) / max(np.median(drift.reference_lengths), 1)
        reasons.append(f"the texts are {ratio:.1f}× as long")
    if "vocabulary" in checks and checks["vocabulary"].drifted:
        reasons.append(f"{checks['vocabulary'].value:.0%} of words are unseen")
    if "labels" in checks and checks["labels"].drifted:
        reasons.append("the labels are mixed differently")
    if "embedding" in checks and checks["embedding"].drifted:
        reasons.append("the topics moved")
    why = f"; {' and '.join(reasons)}" if reasons else ""
    if change_points > -WORSE_POINTS:
        advice = "keep using it" + (", and watch the drift" if reasons else "")
    elif reasons:
        advice = "retrain with some of the new data"
    else:
        advice = "the data looks alike, so look at the per-class changes and the mistakes"
    return f"{head}{why}: {advice}."


def check_new_data(
    run_dir: Path,
    path: Path,
    text_col: str | None = None,
    label_col: str | None = None,
    embed: bool = True,
    device: str = "auto",
    progress: Progress | None = None,
) -> dict:
    """Score a finished classification run on a new labelled batch, against its validation.

    `progress(done, total, stage)` is called as the rows are scored (core.newdata_job's report).

    Returns:
        rows, scored, text_column, label_column, unknown_labels ({label: rows}), labels,
        validation and new ({accuracy, macro_f1}), macro_f1_labels, confusion (batch, rows:
        true), per_class (per_class_changes), drift (DriftResult or None), verdict.

    Raises:
        PredictError or DataError: bad run or batch, with what to do about it.
    """
    run_dir = Path(run_dir)
    labels = [str(x) for x in check_adapter(run_dir)["labels"]]
    evaluation = runs.read_eval(run_dir) or {}
    if len(evaluation.get("confusion") or []) != len(labels):
        raise PredictError("This run has no validation evaluation to compare with: train again.")
    config = runs.read_config(run_dir)
    table = load_table_for(Path(path))
    text, label = find_columns(table, config.data, text_col, label_col)
    pair = config.data.text_pair_column
    if pair and pair not in table:
        raise PredictError(
            f"The run was trained on pairs of texts, but the batch has no second text column "
            f"{pair!r} (it has {', '.join(map(str, table.columns))}): rename it."
        )
    texts, pairs, truth, unknown = batch_rows(table, text, label, labels, pair)
    if not texts:
        raise PredictError(
            f"No row of the batch has text in {text!r} and a label the model knows "
            f"({', '.join(labels[:10])}); its labels: {', '.join(list(unknown)[:10]) or 'none'}."
        )
    report = progress or (lambda done, total, stage: None)
    report(0, len(texts), "Loading the model")
    classifier = load_merged_classifier(run_dir, device)
    probs = probabilities_in_chunks(
        classifier, texts, pairs, lambda done: report(done, len(texts), "Scoring the rows")
    )
    scores = compare_scores(truth, probs.argmax(-1), labels, evaluation)
    report(len(texts), len(texts), "Comparing with the training data")
    drift = drift_report(config, table, text, label, embed)
    change = 100 * (scores["new"]["accuracy"] - scores["validation"]["accuracy"])
    return scores | {
        "rows": len(table),
        "scored": len(texts),
        "text_column": text,
        "label_column": label,
        "unknown_labels": unknown,
        "labels": labels,
        "drift": drift,
        "verdict": verdict_text(change, drift),
    }


def compare_scores(truth, predicted, labels: list[str], evaluation: dict) -> dict:
    """Batch against validation: validation and new ({accuracy, macro_f1}), macro_f1_labels,
    confusion (the batch's, rows: true label) and per_class (per_class_changes)."""
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    new_report = per_class_report(confusion.tolist(), labels)
    old_report = per_class_report(evaluation["confusion"], labels)
    present = {labels[i] for i in set(truth.tolist())}
    return {
        "validation": {
            "accuracy": float(evaluation["accuracy"]),
            "macro_f1": macro_f1_over(old_report, present),
        },  # fmt: skip
        "new": {
            "accuracy": float(np.trace(confusion) / len(truth)),
            "macro_f1": macro_f1_over(new_report, present),
        },  # fmt: skip
        "macro_f1_labels": len(present),
        "confusion": confusion.tolist(),
        "per_class": per_class_changes(old_report, new_report),
    }


ROLE_COLUMNS = {  # the run's column setting → the suggest_mapping roles that can fill it
    "text_column": ("text", "instruction", "messages"),
    "prompt_column": ("instruction", "prompt"),
    "response_column": ("output", "chosen"),
    "messages_column": ("messages",),
}


def map_text_columns(table: pd.DataFrame, data) -> pd.DataFrame:
    """The batch with its columns renamed to the run's, where the run's names are absent and
    suggest_mapping (the Data page's column finder) recognises the role."""
    from core.data.detect import suggest_mapping

    try:
        guess = suggest_mapping(table)
    except DataError:
        return table
    renames = {}
    for setting, roles in ROLE_COLUMNS.items():
        wanted = getattr(data, setting, "")
        found = next((guess[r] for r in roles if guess.get(r)), None)
        if wanted and wanted not in table and found and found not in renames:
            renames[found] = wanted
    return table.rename(columns=renames)


def check_new_text_data(
    run_dir: Path, path: Path, device: str = "auto", progress: Progress | None = None
) -> dict:
    """A generative run's eval loss and perplexity on a new batch, against its validation.

    Measured as training measured validation (core.train.text_eval.token_weighted_loss over the
    same token rows). Returns: rows, scored, validation and new ({eval_loss, perplexity}),
    n_tokens, verdict.

    Raises:
        PredictError or DataError: bad run or batch, with what to do about it.
    """
    import math

    from core.evaluate import load_generator
    from core.train import speed
    from core.train.generative import _usable, build_examples, tokenize_examples
    from core.train.text_eval import token_weighted_loss

    run_dir = Path(run_dir)
    evaluation = runs.read_eval(run_dir) or {}
    if "eval_loss" not in evaluation or evaluation.get("task") == "classification":
        raise PredictError("This run has no text-generation evaluation to compare with.")
    config = runs.read_config(run_dir)
    table = map_text_columns(load_table_for(Path(path)), config.data)
    examples = [e for e in build_examples(config, table) if _usable(e)]
    if not examples:
        raise PredictError("No row of the batch has text (or a response) to measure.")
    report = progress or (lambda done, total, stage: None)
    report(0, len(examples), "Loading the model")
    try:
        generator = load_generator(run_dir)
    except (OSError, ValueError, KeyError) as err:
        raise PredictError(f"The trained model in {run_dir} could not be loaded: {err}.") from err
    if device == "cuda" or (device == "auto" and _cuda()):
        generator.model.to("cuda")
    rows = tokenize_examples(
        generator.tokenizer, examples, config.training.max_length, speed.train_on_prompt(config)
    )
    collator = speed.make_collator(config, generator.tokenizer, packing=False)
    report(0, len(examples), "Measuring the loss")
    loss, n_tokens = token_weighted_loss(generator.model, rows, collator)
    new = {"eval_loss": loss, "perplexity": math.exp(min(loss, 50.0))}
    old = {"eval_loss": evaluation["eval_loss"], "perplexity": evaluation["perplexity"]}
    ratio = new["perplexity"] / max(old["perplexity"], 1e-9)
    return {
        "rows": len(table),
        "scored": len(examples),
        "n_tokens": n_tokens,
        "validation": old,
        "new": new,
        "verdict": text_verdict(ratio),
    }


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


PERPLEXITY_WORSE = 1.2  # perplexity this many times the validation one counts as "worse"


def text_verdict(ratio: float) -> str:
    """Plain words for new-batch perplexity over validation perplexity."""
    if ratio >= PERPLEXITY_WORSE:
        return (
            f"Perplexity is {ratio:.1f}× the validation one: the new texts surprise the model "
            "more; retrain with some of the new data."
        )
    if ratio <= 1 / PERPLEXITY_WORSE:
        return (
            f"Perplexity is {ratio:.2f}× the validation one: the new texts are easier for the "
            "model than validation; keep using it."
        )
    return f"Perplexity is about the same as on validation ({ratio:.2f}×): keep using it."


def main(argv: list[str] | None = None) -> int:
    """`python -m core.newdata RUN_DIR --data FILE`: the check from a terminal; prints the
    verdict and the figures, exit 2 on a bad run or batch (the message says what to do)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m core.newdata", description=__doc__.split("\n")[0]
    )
    parser.add_argument("run", type=Path, help="a finished run's folder")
    parser.add_argument("--data", required=True, type=Path, help="the new labelled batch")
    parser.add_argument("--text", help="the text column (default: the run's, else guessed)")
    parser.add_argument("--label", help="the label column (default: the run's, else guessed)")
    parser.add_argument("--no-embed", action="store_true", help="skip the embedding drift check")
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (the GPU if any)")
    args = parser.parse_args(argv)
    try:
        if not (args.run / runs.CONFIG_FILE).is_file():  # a file, or a folder that is no run
            raise PredictError(f"{args.run} is not a run folder (it has no {runs.CONFIG_FILE}).")
        task = (runs.read_eval(args.run) or {}).get("task", "classification")
        if task == "classification":
            report = check_new_data(args.run, args.data, args.text, args.label,
                                    not args.no_embed, args.device)  # fmt: skip
        else:
            report = check_new_text_data(args.run, args.data, args.device)
    except (PredictError, DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report["verdict"])
    for side in ("validation", "new"):
        figures = ", ".join(f"{k} {v:.4g}" for k, v in report[side].items())
        print(f"{side}: {figures}")
    print(f"{report['scored']:,} of {report['rows']:,} rows scored.")
    if report.get("unknown_labels"):
        print(f"Labels the model never saw (left out): {report['unknown_labels']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
