"""Exact and near-duplicate detection that scales to millions of rows.

Near-duplicates: MinHash over each row's set of lower-cased words without punctuation, with LSH
banding (Broder 1997), vectorised with pyarrow/numpy (no Python loop per row). It catches copies
that differ in case, punctuation, spacing or a few words; each candidate pair is confirmed with the
exact word sets (a Python loop over the few candidates only): Jaccard similarity ≥ the threshold
and few words changed for the rows' length, so short template rows that differ in the one word
that matters ("a fear of shadows" / "a fear of rejection") are not called copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SHORT_ROW_WORDS = 12  # rows with fewer distinct words count as copies only with one word added/cut
REPLACED_SHARE = 0.1  # longer rows: at most this share of the shorter row's words replaced


@dataclass
class DuplicateResult:
    """Which rows repeat an earlier row; each array holds row positions."""

    exact: np.ndarray = field(metadata={"help": "rows equal to an earlier row"})
    near: np.ndarray = field(metadata={"help": "rows almost equal to an earlier row (not exact)"})
    near_of: np.ndarray = field(metadata={"help": "for each `near` row, the earlier row it copies"})
    group: np.ndarray = field(metadata={"help": "per row: the earliest row it copies, or itself"})
    same_words: np.ndarray = field(
        metadata={
            "help": "per row: the earliest row with the same words (case, punctuation, "
            "spacing and order aside), or itself; what conflicting labels are checked on"
        }
    )


def as_arrow(texts: pd.Series) -> pa.Array:
    """The texts as one Arrow string array (no copy when pandas already stores them in Arrow)."""
    array = pa.array(texts.fillna(""), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = pa.array(
            texts.fillna("").astype(str).to_numpy(dtype=object), type=pa.large_string()
        )
    return array


def normalize(texts: pd.Series) -> pa.Array:
    """Lower case with punctuation removed: two rows that differ only there get the same words."""
    array = as_arrow(texts)
    removed = pc.replace_substring_regex(
        pc.utf8_lower(array), pattern=r"[^\p{L}\p{N}\s]+", replacement=""
    )
    # Trimmed, or the whitespace split would give a trailing "" word ("ok !" → "ok " → ["ok", ""]).
    return pc.utf8_trim_whitespace(removed)


def first_occurrence(keys) -> np.ndarray:
    """For each row, the position of the first row with the same key."""
    codes, uniques = pd.factorize(keys)
    first = np.empty(len(uniques), dtype=np.int64)
    order = np.arange(len(codes))
    first[codes[::-1]] = order[::-1]  # the last write wins, so each code keeps its first row
    return first[codes]


def minhash_signatures(
    norm: pa.Array, num_perm: int, seed: int, stop_share: float = 0.03
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MinHash signatures of each row's word set, and a key for 'the same words'.

    Each word gets one random 32-bit value per permutation, so min over a row's words is a MinHash.
    Words in more than `stop_share` of rows (stop words) are left out of the signatures: they would
    be the minimum of so many rows that LSH buckets fill with unrelated rows.

    Returns:
        (signatures (rows, num_perm) uint32, has_words: rows with a word that is not a stop word,
         bag_keys: uint64 per row, equal for rows with the same words in any order; 0 if none).
    """
    words = pc.utf8_split_whitespace(norm)
    counts = pc.list_value_length(words).fill_null(0).to_numpy(zero_copy_only=False)
    ids = (
        pc.list_flatten(words)
        .dictionary_encode()
        .indices.to_numpy(zero_copy_only=False)
        .astype(np.intp)
    )
    vocab = int(ids.max()) + 1 if len(ids) else 1
    rng = np.random.default_rng(seed)
    top = np.iinfo(np.uint32).max
    bag_keys = np.zeros(len(counts), dtype=np.uint64)
    if len(ids):
        # Sum of one random 64-bit value per word (wrapping): order-free, one pass over the tokens.
        word_keys = rng.integers(1, 2**63, size=vocab, dtype=np.uint64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[counts > 0]
        bag_keys[counts > 0] = np.add.reduceat(np.take(word_keys, ids), starts)
    common = np.bincount(ids, minlength=vocab) > max(50, stop_share * len(counts))
    kept = ~common[ids]
    ids = ids[kept]  # stop words dropped once, not in every permutation
    counts = np.bincount(np.repeat(np.arange(len(counts)), counts)[kept], minlength=len(counts))
    has_words = counts > 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[has_words]
    signatures = np.full((len(counts), num_perm), top, dtype=np.uint32)
    for k in range(num_perm):
        hashes = rng.integers(0, top, size=vocab, dtype=np.uint32)
        if len(ids):
            signatures[has_words, k] = np.minimum.reduceat(np.take(hashes, ids), starts)
    return signatures, has_words, bag_keys


def find_duplicates(
    texts: pd.Series,
    threshold: float = 0.7,
    num_perm: int = 32,
    bands: int = 16,
    seed: int = 0,
    length_aware: bool = True,
) -> DuplicateResult:
    """Rows that repeat an earlier row exactly, or nearly (word-set Jaccard ≥ threshold).

    Args:
        texts: one string per row.
        threshold: the Jaccard similarity of word sets from which two rows count as near-copies.
        num_perm: MinHash permutations; bands × rows-per-band must equal it.
        bands: LSH bands; with 16 bands of 2, a pair at Jaccard 0.6 is a candidate with p ≈ 0.999.
        seed: seed of the hash values (results are deterministic).
        length_aware: also limit the words changed for the rows' length (see `_is_near_copy`);
            False gives the plain Jaccard rule of ordinary MinHash deduplication.

    Returns:
        DuplicateResult with exact and near duplicates (a row is in at most one of the two).
    """
    values = texts.fillna("").astype(str)
    exact_mask = values.duplicated(keep="first").to_numpy()
    norm = normalize(values)
    signatures, has_words, bag_keys = minhash_signatures(norm, num_perm, seed)
    positions = np.arange(len(values))
    # Same words (case, punctuation, spacing or order changed): equal bag keys.
    with_words = bag_keys != 0
    same_set = first_occurrence(bag_keys)
    pick = np.flatnonzero((same_set != positions) & with_words & ~exact_mask)
    pairs = [np.stack([pick, same_set[pick]], axis=1)]
    rows_per_band = num_perm // bands
    for band in range(bands):
        first = first_occurrence(
            _band_keys(signatures[:, band * rows_per_band : (band + 1) * rows_per_band])
        )
        pick = np.flatnonzero((first != positions) & has_words & ~exact_mask)
        pairs.append(np.stack([pick, first[pick]], axis=1))
    pairs = np.concatenate(pairs)
    pairs = pairs[np.unique(pairs[:, 0] * len(values) + pairs[:, 1], return_index=True)[1]]
    # Frequent words make unrelated rows share a band often; they agree on few other MinHash
    # values, so a vectorised check drops them before the exact Jaccard (a Python loop).
    agree = np.zeros(len(pairs))
    for column in range(num_perm):
        agree += signatures[pairs[:, 0], column] == signatures[pairs[:, 1], column]
    pairs = pairs[agree / num_perm >= threshold - 0.4]
    involved = np.unique(pairs)
    lookup = dict(
        zip(
            involved.tolist(),
            norm.take(pa.array(involved, type=pa.int64())).to_pylist(),
            strict=False,
        )
    )
    confirmed = [
        _is_near_copy(lookup[a], lookup[b], threshold, length_aware) for a, b in pairs.tolist()
    ]
    pairs = pairs[np.asarray(confirmed, dtype=bool)] if len(pairs) else pairs
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    near_of = np.full(len(values), -1, dtype=np.int64)
    # A row may match several earlier rows: keep its earliest match (the pairs are sorted).
    rows, index = np.unique(pairs[:, 0], return_index=True)
    near_of[rows] = pairs[index, 1]
    near = np.flatnonzero(near_of >= 0)
    same_words = np.where(with_words | exact_mask, same_set, positions)
    group = same_words.copy()
    group[near] = near_of[near]
    return DuplicateResult(np.flatnonzero(exact_mask), near, near_of[near], group, same_words)


def _band_keys(part: np.ndarray) -> np.ndarray:
    """One 64-bit key per row from a band's MinHash values (uint64 arithmetic wraps on purpose)."""
    keys = part[:, 0].astype(np.uint64)
    for column in range(1, part.shape[1]):
        keys = (keys * np.uint64(0x9E3779B97F4A7C15)) ^ part[:, column].astype(np.uint64)
    return keys


def _is_near_copy(a: str, b: str, threshold: float, length_aware: bool = True) -> bool:
    """Word-set Jaccard ≥ threshold, and few words replaced for the rows' length.

    Template rows differ by a replaced word or phrase ("What is a fear of shadows?" / "... of
    rejection?", "this air fryer won me over" / "this internet provider ..."); edited copies mostly
    add or cut words (a wire-service prefix, an adjective). So rows under SHORT_ROW_WORDS distinct
    words may differ by one added or cut word only (not in a row of three: "What is color?" / "What
    color is ash?"), and longer rows may have at most REPLACED_SHARE of their words replaced (at
    least one), words added or cut being limited by the threshold alone.
    """
    first, second = set(a.split()), set(b.split())
    if not first or not second:
        return False  # empty rows are the empty-row check's business
    if len(first & second) < threshold * len(first | second):
        return False
    if not length_aware:
        return True
    shorter = min(len(first), len(second))
    if shorter < SHORT_ROW_WORDS:
        changed = len(first ^ second)
        return changed == 0 or (changed == 1 and shorter >= 4)
    replaced = min(len(first - second), len(second - first))
    return replaced <= max(1, REPLACED_SHARE * shorter)
