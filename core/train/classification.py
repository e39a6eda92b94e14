"""Sequence classification: text (and optional second text) → label, with encoders or decoders."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np
import pandas as pd

from core.data.load import DataError, load_table
from core.data.split import classification_frame, split_frame
from core.settings import RunConfig


def prepare_frames(config: RunConfig) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Load the data file, clean the label/text columns and split train/validation.

    Returns:
        (train, validation, labels): frames with columns text[, text_pair], label (str); the
        sorted label names.

    Raises:
        DataError: a column is missing, or the labels cannot train a classifier.
    """
    data = config.data
    frame = classification_frame(load_table(data.path), data)
    labels = sorted(frame["label"].unique())
    train, val = split_frame(frame, data.validation_fraction, data.split_seed)
    if len(train) < 2 or len(val) < 1:
        raise DataError(f"Only {len(frame)} usable rows: add more examples (at least 10).")
    return train, val, labels


def tokenize_frames(tokenizer, frames: dict[str, pd.DataFrame], labels: list[str], max_length: int):
    """Tokenise once, without padding (the collator pads each batch to its own longest row)."""
    from datasets import Dataset

    label_ids = {name: i for i, name in enumerate(labels)}
    tokenized = {}
    for split, frame in frames.items():
        pair = frame["text_pair"].tolist() if "text_pair" in frame else None
        enc = tokenizer(frame["text"].tolist(), pair, truncation=True, max_length=max_length)
        columns = {
            key: enc[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in enc
        }
        columns["labels"] = [label_ids[v] for v in frame["label"]]
        columns["length"] = [len(ids) for ids in enc["input_ids"]]
        tokenized[split] = Dataset.from_dict(columns)
    return tokenized


def load_model(config: RunConfig, model_path: str, labels: list[str], precision: str = "fp32"):
    """The base classifier with a LoRA adapter (or all weights trainable for method 'full'),
    loaded in the dtype of the run's resolved `precision` (core.models.load_dtype)."""
    from core.train.adapters import attach_adapter

    model, tokenizer = load_base(config, model_path, labels, precision)
    return attach_adapter(model, config, "SEQ_CLS"), tokenizer


def load_base(config: RunConfig, model_path: str, labels: list[str], precision: str = "fp32"):
    """(classifier before its adapter, tokenizer): pooling resolved (core.train.heads), the head
    drawn at random; `model.config.classifier_pooling` records the pooling for the saved files.

    Raises:
        ConfigError: see core.train.adapters.load_arguments, or mean pooling the model's head
            cannot read.
    """
    from transformers import AutoConfig, AutoTokenizer

    from core.settings import ConfigError
    from core.train.adapters import load_arguments
    from core.train.heads import PoolingError, classifier_class, resolve_pooling

    loading = load_arguments(config, precision)  # fails early, before loading weights
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:  # decoder models: pad with EOS, attention mask hides it
        tokenizer.pad_token = tokenizer.eos_token
    model_config = AutoConfig.from_pretrained(model_path)
    try:
        pooling = resolve_pooling(config.model.pooling, model_path, model_config)
    except PoolingError as err:
        raise ConfigError(str(err)) from err
    with plain_load_report():
        model, info = classifier_class(model_config, pooling).from_pretrained(
            model_path,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
            output_loading_info=True,
            **loading,
        )
    print(load_report_line(info, len(labels)), flush=True)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.classifier_pooling = pooling
    # transformers 5 scales the loss wrongly for models whose forward takes **kwargs under DDP or
    # gradient accumulation (the BERT classifier logged 1.36 instead of 0.69): see ENGINES.md.
    model.accepts_loss_kwargs = False
    return model, tokenizer


@contextmanager
def plain_load_report():
    """Hold back transformers' "LOAD REPORT" banner while loading (on a classifier it always lists
    the new head as MISSING, in colour codes, as a warning on the Train page's log tail, and at
    prediction tells the user to train a model whose trained head the adapter restores next);
    `load_report_line` says what matters plainly. Only that one message is dropped."""
    logger = logging.getLogger("transformers.modeling_utils")

    def not_the_banner(record) -> bool:
        return "LOAD REPORT" not in str(record.msg)

    logger.addFilter(not_the_banner)
    try:
        yield
    finally:
        logger.removeFilter(not_the_banner)


def load_report_line(info: dict, n_labels: int, shown: int = 6) -> str:
    """What loading the checkpoint found, in one line: the classifier head for `n_labels` labels
    is new (expected: a base model has none), and any other weight that was missing, unused or
    of another shape, named (those are worth a look)."""

    def names(keys) -> str:
        keys = sorted(keys)
        more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
        return ", ".join(keys[:shown]) + more

    missing = list(info.get("missing_keys") or [])
    head = [k for k in missing if k.split(".")[0] in ("classifier", "score", "pre_classifier")]
    parts = [f"a new classifier head for {n_labels} labels ({names(head)})"] if head else []
    if other := [k for k in missing if k not in head]:
        parts.append(f"not in the checkpoint, started at random: {names(other)}")
    if unexpected := list(info.get("unexpected_keys") or []):
        parts.append(f"in the checkpoint but unused: {names(unexpected)}")
    if mismatched := list(info.get("mismatched_keys") or []):  # (name, shapes…) or names
        reshaped = [m[0] if isinstance(m, (list, tuple)) else m for m in mismatched]
        parts.append(f"of another shape, started at random: {names(reshaped)}")
    return "Loaded the base model: " + (
        "; ".join(parts) if parts else "every weight from the checkpoint"
    )


def classification_metrics(logits: np.ndarray, label_ids: np.ndarray, n_labels: int) -> dict:
    """Accuracy, macro-F1 and the confusion matrix (rows: true label, columns: predicted)."""
    predicted = logits.argmax(axis=-1)
    confusion = np.zeros((n_labels, n_labels), dtype=int)
    np.add.at(confusion, (label_ids, predicted), 1)
    true_pos = np.diag(confusion).astype(float)
    precision = true_pos / np.maximum(confusion.sum(axis=0), 1)
    recall = true_pos / np.maximum(confusion.sum(axis=1), 1)
    f1 = np.where(
        precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0
    )
    return {
        "accuracy": float(true_pos.sum() / max(1, confusion.sum())),
        "macro_f1": float(f1.mean()),
        "per_class_f1": f1.round(4).tolist(),
        "confusion": confusion.tolist(),
    }


def per_class_scores(confusion: np.ndarray, labels: list[str]) -> dict:
    """Per label: precision, recall, F1 (4 decimals) and validation rows, keyed by label name.

    Precision of a label never predicted and recall of a label without rows are None (undefined,
    not 0), as in core.evaluate.per_class_report.
    """
    scores = {}
    for i, label in enumerate(labels):
        hits, support, predicted = confusion[i, i], confusion[i].sum(), confusion[:, i].sum()
        scores[str(label)] = {
            "precision": round(hits / predicted, 4) if predicted else None,
            "recall": round(hits / support, 4) if support else None,
            "f1": round(2 * hits / (support + predicted), 4) if support + predicted else None,
            "support": int(support),
        }
    return scores


def make_compute_metrics(labels: list[str]):
    """The Trainer's compute_metrics hook: accuracy, macro-F1 and, under `per_class`, each label's
    precision / recall / F1, so metrics.jsonl shows what every evaluation changed per class.

    The per-class scores are one nested dict (`eval_per_class` once the Trainer prefixes it), not
    flat keys: readers that look for numbers (plots, MLflow) skip it, and label names need no
    escaping.
    """

    def compute(eval_pred) -> dict:
        logits, label_ids = eval_pred.predictions, eval_pred.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        logits, label_ids = np.asarray(logits), np.asarray(label_ids)
        metrics = classification_metrics(logits, label_ids, logits.shape[-1])
        confusion = np.asarray(metrics["confusion"])
        return {
            "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"],
            "per_class": per_class_scores(confusion, labels),
        }

    return compute


def predict_logits(model, dataset, collator, batch_size: int = 64) -> np.ndarray:
    """Logits for every row of a tokenised dataset, in the dataset's order.

    Rows are batched by length (less padding) and put back in order afterwards; the Trainer's own
    predict would return them in its length-grouped sampler's order.
    """
    import torch

    from core.train.heads import batches_by_length

    order, batches = batches_by_length(dataset, collator, batch_size=batch_size)
    device = next(model.parameters()).device
    model.eval()
    chunks = []
    with torch.inference_mode():
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            chunks.append(model(**batch).logits.float().cpu().numpy())
    logits = np.concatenate(chunks) if chunks else np.zeros((0, 0))
    restored = np.empty_like(logits)
    restored[order] = logits
    return restored
