"""Token lengths of a text column, and what to do about rows longer than the max length.

lengths, estimated = token_lengths(texts, tokenizer)   # tokens per row
finding = length_finding(texts, lengths, 128, estimated, classification=True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.finding import Finding
from core.data.pii import mask_example

TOKEN_SAMPLE = 5_000  # rows tokenised exactly; beyond this, lengths scale from the sample (±2%)
WORDS_TO_TOKENS = 1.3  # without a tokenizer, tokens ≈ 1.3 × words (English subword vocabularies)
MAX_DROP_SHARE = 0.2  # dropping long rows is offered only when at most this share is long


def token_lengths(
    texts: pd.Series, tokenizer=None, sample: int = TOKEN_SAMPLE
) -> tuple[np.ndarray, bool]:
    """Tokens per row; (lengths, estimated). Tables over `sample` rows are scaled from a sample's
    tokens-per-character ratio; without a tokenizer lengths are words × 1.3 (always estimated)."""
    if tokenizer is None:
        words = texts.str.split().str.len().fillna(0).to_numpy()
        return np.ceil(words * WORDS_TO_TOKENS).astype(np.int64), True
    if len(texts) <= sample:
        ids = tokenizer(texts.tolist(), add_special_tokens=True, truncation=False)["input_ids"]
        return np.fromiter((len(i) for i in ids), np.int64, len(ids)), False
    picked = texts.sample(sample, random_state=0)
    ids = tokenizer(picked.tolist(), add_special_tokens=True, truncation=False)["input_ids"]
    ratio = sum(map(len, ids)) / max(1, int(picked.str.len().sum()))
    return np.ceil(texts.str.len().fillna(0).to_numpy() * ratio).astype(np.int64), True


def length_finding(
    texts: pd.Series, lengths: np.ndarray, max_length: int, estimated: bool, classification: bool
) -> Finding:
    """The "Length in tokens" finding: rows over the max length. Training cuts them; for classification that is usually fine (the
    start of a text says what it is about), so the advice is a larger max length or keeping the
    head and tail, never dropping the rows; for generation, dropping is offered only when few are
    long (a cut answer teaches the model to stop mid-sentence)."""
    over = np.flatnonzero(lengths > max_length)
    cut_tokens = int((lengths[over] - max_length).sum())
    share = len(over) / max(1, len(lengths))
    how = " (estimated from a sample)" if estimated else ""
    median = int(np.median(lengths)) if len(lengths) else 0
    message = (
        f"Median {median} tokens{how}. {len(over):,} rows ({share:.1%}) are longer than the max "
        f"length {max_length} and lose {cut_tokens:,} tokens when cut."
    )
    fix = None
    if len(over):
        message += " " + length_advice(lengths, max_length, classification)
        if classification:
            fix = {"step": "keep_head_tail", "params": {"max_tokens": max_length}}
        elif share <= MAX_DROP_SHARE:
            fix = {"step": "drop_long", "params": {"max_tokens": max_length}}
    return Finding(
        "length",
        "Length in tokens",
        "ok" if share <= 0.05 else "warning",
        len(over),
        message,
        [mask_example(texts.iloc[int(i)]) for i in over[:2]],
        fix,
        over,
    )


def length_advice(lengths: np.ndarray, max_length: int, classification: bool) -> str:
    """What to do about rows over the max length, with what each option costs."""
    covering = int(np.percentile(lengths, 95))
    larger = min(512, 1 << max(covering - 1, 1).bit_length())  # next power of two, BERT-sized cap
    parts = []
    if classification:
        parts.append(
            "For classification this is usually fine: training keeps the first "
            f"{max_length} tokens, which mostly say what a text is about."
        )
    if larger > max_length:
        parts.append(
            f"A max length of {larger} covers {np.mean(lengths <= larger):.0%} of rows, at about "
            f"{larger / max_length:.0f}× the time and activation memory per step (attention "
            "grows faster still)."
        )
    if classification:
        parts.append(
            "Or keep each long text's start and end (head + tail): no extra cost, the middle "
            "is lost."
        )
    else:
        parts.append(
            "Dropping the long rows loses their examples; cutting them teaches "
            "the model unfinished answers."
        )
    return " ".join(parts)
