"""Label a whole file with a finished classification run, from a terminal.

    .venv/bin/python -m core.predict --run studio-data/runs/<run> --data new.csv --out labelled.csv

The output is the input table with two more columns: `predicted` (the label) and `probability`
(the model's probability for it). When the file also holds the run's label column, the accuracy
and macro-F1 on it are printed. Rows are tokenised once, sorted by length and run in batches
with no gradients, on the adapter merged into the base weights (one matmul per layer instead
of two): bench/predict_speed.py measures this against a transformers `pipeline` loop.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import pandas as pd

from core import runs
from core.data.formats import DataError
from core.evaluate import Classifier, adapter_meta

WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors")


class PredictError(Exception):
    """Input that cannot be predicted; the message says what is wrong and what to do."""


def check_adapter(run_dir: Path) -> dict:
    """The adapter's labels.json, after checking that its weights and config are all there.

    Raises:
        PredictError: no run, no adapter, or a partial one (a run stopped while saving).
    """
    run_dir = Path(run_dir)
    if not (run_dir / runs.CONFIG_FILE).exists():
        raise PredictError(f"{run_dir} is not a run folder (it has no {runs.CONFIG_FILE}).")
    try:
        adapter_dir, meta = adapter_meta(run_dir)
    except FileNotFoundError as err:
        raise PredictError(f"{err} Finish or resume the run first.") from err
    except ValueError as err:  # labels.json cut short
        raise PredictError(f"{adapter_dir_of(run_dir)}/labels.json is damaged ({err}).") from err
    missing = [] if any((adapter_dir / n).exists() for n in WEIGHT_FILES) else ["the weights"]
    if meta.get("method") != "full" and not (adapter_dir / "adapter_config.json").exists():
        missing.append("adapter_config.json")
    if missing:
        raise PredictError(
            f"The adapter in {adapter_dir} is incomplete: {' and '.join(missing)} missing. "
            "The run probably stopped while saving: resume it, or train again."
        )
    if meta.get("task", "classification") != "classification":
        raise PredictError(
            f"This run is a {meta.get('task')} run: whole-file prediction labels rows, so it "
            "needs a classification run. Use the Results page's 'Try it' for text generation."
        )
    return meta


def adapter_dir_of(run_dir: Path) -> Path:
    return Path(run_dir) / runs.ADAPTER_DIR


def load_merged_classifier(run_dir: Path, device: str = "auto") -> Classifier:
    """The run's classifier with the LoRA weights merged into the base model, for inference.

    Args:
        device: "cpu", "cuda" (or "cuda:N"), or "auto": the GPU when torch sees one.

    Raises:
        PredictError: the adapter is missing, partial, or does not load on its base model; or
            a GPU was asked for and torch sees none.
    """
    import torch

    from core.evaluate import load_classifier

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise PredictError(f"--device {device}: not a device; use cpu, cuda (or cuda:N) or auto.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PredictError(f"--device {device}: torch sees no GPU here. Use --device cpu.")

    check_adapter(run_dir)
    try:
        classifier = load_classifier(Path(run_dir))
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise PredictError(
            f"The trained model in {run_dir} could not be loaded: {err}. If the base model's "
            "folder moved, put it back; otherwise train again."
        ) from err
    if hasattr(classifier.model, "merge_and_unload"):
        classifier.model = classifier.model.merge_and_unload()
    classifier.model.to(device).eval()
    return classifier


def predict_probabilities(
    classifier: Classifier, texts: list[str], pairs: list[str] | None = None, batch_size: int = 64
):
    """Probabilities (rows × labels, float32 numpy) in the order of `texts`.

    Each text is tokenised once; batches hold rows of similar length, so little padding is run.
    """
    import numpy as np
    import torch

    tokenizer = classifier.tokenizer
    encoded = tokenizer(texts, pairs, truncation=True, max_length=classifier.max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
    probabilities = np.zeros((len(texts), len(classifier.labels)), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = tokenizer.pad(
                {k: [encoded[k][i] for i in rows] for k in keys}, return_tensors="pt"
            )
            logits = classifier.model(**batch.to(classifier.model.device)).logits.float()
            probabilities[rows] = torch.softmax(logits, dim=-1).cpu().numpy()
    return probabilities


def clean_cell(value) -> str:
    """A cell as training reads it (core.data.split): missing → "", else the stripped string."""
    return "" if value is None or value != value else str(value).strip()


def choose_columns(table: pd.DataFrame, data, text: str | None) -> tuple[str, str, str]:
    """(text column, second text column or "", label column or "") for this file.

    Raises:
        PredictError: the named text column is absent, or no column looks like text.
    """
    from core.data.detect import suggest_columns

    columns = ", ".join(map(str, table.columns))
    if text and text not in table.columns:
        raise PredictError(f"No column {text!r} in the file; it has {columns}. Pass --text COL.")
    if not text:
        if data.text_column in table.columns:
            text = data.text_column
        else:
            try:
                text = suggest_columns(table)["text"]
            except DataError as err:
                raise PredictError(f"{err} Or name it with --text COL.") from err
    pair = data.text_pair_column
    if pair and pair not in table.columns:
        raise PredictError(
            f"The run was trained on pairs of texts, but the file has no second text column "
            f"{pair!r} (it has {columns})."
        )
    label = data.label_column if data.label_column in table.columns else ""
    return text, pair, label if label != text else ""


def predict_file(
    run_dir: Path,
    data: Path,
    out: Path,
    text: str | None = None,
    batch_size: int = 64,
    device: str = "auto",
) -> dict:
    """Predict every row of `data`, write `out` (CSV), and return a summary.

    Returns:
        rows, predicted (rows with text), seconds, rows_per_s, text_column, and when the file
        holds the run's label column: labelled, accuracy, macro_f1.

    Raises:
        PredictError or DataError: bad input, with what to do about it.
    """
    data, out = Path(data), Path(out)
    if out.resolve() == data.resolve():
        raise PredictError("--out is the input file: choose another name, the input stays as is.")
    if batch_size < 1:
        raise PredictError(f"--batch-size must be at least 1, got {batch_size}.")
    check_adapter(run_dir)  # the cheap checks first: a bad file fails before the model loads
    table = load_table_for(data)
    text_col, pair_col, label_col = choose_columns(table, runs.read_config(run_dir).data, text)
    texts = [clean_cell(v) for v in table[text_col]]
    pairs = [clean_cell(v) for v in table[pair_col]] if pair_col else None
    keep = [i for i, t in enumerate(texts) if t]
    if not keep:
        raise PredictError(f"Column {text_col!r} is empty in every row: nothing to label.")
    classifier = load_merged_classifier(run_dir, device)
    started = time.perf_counter()
    probs = predict_probabilities(
        classifier,
        [texts[i] for i in keep],
        [pairs[i] for i in keep] if pairs else None,
        batch_size,
    )
    seconds = time.perf_counter() - started
    result = with_predictions(table, keep, [classifier.labels[j] for j in probs.argmax(-1)], probs)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out, index=False)
    summary = {
        "rows": len(table),
        "predicted": len(keep),
        "seconds": seconds,
        "rows_per_s": len(keep) / max(seconds, 1e-9),
        "text_column": text_col,
    }
    return summary | (score(result.iloc[keep], label_col) if label_col else {})


def with_predictions(table: pd.DataFrame, keep: list[int], labels: list[str], probs):
    """The table plus `predicted` and `probability`; rows not in `keep` get "" and NaN."""
    predicted = pd.Series([""] * len(table), index=table.index, dtype=object)
    probability = pd.Series([float("nan")] * len(table), index=table.index)
    predicted.iloc[keep] = labels
    probability.iloc[keep] = probs.max(-1).round(4)
    return table.assign(predicted=predicted, probability=probability)


def load_table_for(data: Path) -> pd.DataFrame:
    from core.data.load import load_table

    table = load_table(data)
    if table.empty:
        raise PredictError(f"{data.name} holds no rows.")
    return table


def score(rows: pd.DataFrame, label_col: str) -> dict:
    """Accuracy and macro-F1 over the rows that have a label."""
    from sklearn.metrics import accuracy_score, f1_score

    truth = rows[label_col].map(clean_cell)
    labelled = truth != ""
    if not labelled.any():
        return {}
    truth, guess = truth[labelled], rows["predicted"][labelled]
    return {
        "labelled": int(labelled.sum()),
        "accuracy": float(accuracy_score(truth, guess)),
        "macro_f1": float(f1_score(truth, guess, average="macro", zero_division=0)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.predict", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--run", required=True, type=Path, help="a finished run's folder")
    parser.add_argument("--data", required=True, type=Path, help="the file to label")
    parser.add_argument("--out", required=True, type=Path, help="where to write the CSV")
    parser.add_argument("--text", help="the text column (default: the run's, else guessed)")
    parser.add_argument("--batch-size", type=int, default=64, help="rows per batch")
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (the GPU if any)")
    args = parser.parse_args(argv)
    try:
        summary = predict_file(
            args.run, args.data, args.out, args.text, args.batch_size, args.device
        )
    except (PredictError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"Labelled {summary['predicted']:,} of {summary['rows']:,} rows (column "
        f"{summary['text_column']!r}) in {summary['seconds']:.1f} s "
        f"({summary['rows_per_s']:.0f} rows/s) → {args.out}"
    )
    if empty := summary["rows"] - summary["predicted"]:
        print(f"{empty:,} {'row' if empty == 1 else 'rows'} had no text: left unlabelled.")
    if "accuracy" in summary:
        rows = "row" if summary["labelled"] == 1 else "rows"
        print(
            f"On the {summary['labelled']:,} labelled {rows}: accuracy {summary['accuracy']:.1%}, "
            f"macro-F1 {summary['macro_f1']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
