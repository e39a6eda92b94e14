"""The quality report: what is wrong with a dataset, how much, examples, and the fix for each.

    report = quality_report(table, suggest_mapping(table), tokenizer=tok, max_length=128)
    report.verdict  # "ready" | "usable with warnings" | "needs fixing"

"needs fixing" is kept for what spoils training (rows without a label, one text taught two labels,
labels spelled two ways, a label with too few rows, validation rows copied from training); the
rest are warnings. A fix that would remove more than MAX_FIRST_FIX_SHARE of the rows is never the
first recommendation, and each recommendation says how many rows it removes or changes.

Every check is vectorised (pandas / pyarrow / numpy) so a million rows take seconds; token lengths
of big tables are measured on a sample and scaled (the report says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data.dedup import DuplicateResult, find_duplicates, normalize
from core.data.detect import mapping_text
from core.data.finding import Finding
from core.data.lengths import length_finding, token_lengths
from core.data.pii import KINDS as PII_KINDS
from core.data.pii import find_pii, mask_example
from core.data.scan import DAMAGE_PATTERNS, scan

VERDICTS = ("ready", "usable with warnings", "needs fixing")
RARE_LABEL_MIN = 8  # fewer examples than this: the model cannot learn the label
IMBALANCE_RATIO = 10.0  # largest class / smallest class above this: a warning
MAX_FIRST_FIX_SHARE = 0.2  # a fix removing more of the rows than this is never recommended first
REMOVING_STEPS = {
    "drop_empty",
    "drop_empty_labels",
    "drop_duplicates",
    "resolve_conflicts",
    "drop_pii",
    "drop_long",
}  # fixes that remove rows (the others change text)


@dataclass
class QualityReport:
    """All findings, the numbers behind the charts and an overall verdict."""

    rows: int = field(metadata={"help": "rows checked"})
    findings: list[Finding] = field(metadata={"help": "one per check, in report order"})
    label_counts: dict = field(default_factory=dict, metadata={"help": "label → rows"})
    token_lengths: np.ndarray = field(
        default_factory=lambda: np.empty(0),
        repr=False,
        metadata={"help": "tokens per row (all rows or a sample)"},
    )
    lengths_estimated: bool = field(
        default=False, metadata={"help": "lengths scaled from a sample"}
    )
    max_length: int = field(default=128, metadata={"help": "the max length checked against"})
    verdict: str = field(default="ready", metadata={"help": "one of VERDICTS"})
    top_fixes: list[str] = field(default_factory=list, metadata={"help": "the most useful fixes"})

    def get(self, key: str) -> Finding:
        """The finding with this key (KeyError if that check did not run)."""
        return next(f for f in self.findings if f.key == key)


def quality_report(
    table: pd.DataFrame,
    mapping: dict,
    tokenizer=None,
    max_length: int = 128,
    validation: pd.DataFrame | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> QualityReport:
    """Check a table for the problems that spoil fine-tuning.

    Args:
        table: the data (training split, or everything).
        mapping: from `suggest_mapping` (task and role → column).
        tokenizer: a Hugging Face tokenizer for token lengths (None: words × 1.3, said so).
        max_length: the training max length in tokens.
        validation: the validation split, to find rows shared with `table` (leakage).
        progress: called with (fraction done, what is running) for a progress bar.

    Returns:
        The QualityReport, verdict included.
    """
    tell = progress or (lambda fraction, text: None)
    texts = mapping_text(table, mapping)
    tell(0.05, "empty rows")
    findings = [_empty(texts)]
    tell(0.15, "duplicates")
    duplicates = find_duplicates(texts)
    findings += _duplicates(texts, duplicates)
    classification = mapping["task"] == "classification" and bool(mapping.get("label"))
    if classification:
        tell(0.5, "labels")
        findings += _labels(texts, table[mapping["label"]], duplicates.same_words)
    tell(0.6, "lengths")
    lengths, estimated = token_lengths(texts, tokenizer)
    findings.append(length_finding(texts, lengths, max_length, estimated, classification))
    tell(0.7, "encoding and PII")
    findings += _patterns(texts)
    if validation is not None:
        findings.append(_leakage(texts, mapping_text(validation, mapping)))
    labels = (
        table[mapping["label"]].astype(str).value_counts().to_dict() if mapping.get("label") else {}
    )
    for finding in findings:
        if finding.fix and finding.fix["step"] in REMOVING_STEPS:
            finding.removes = finding.count
    report = QualityReport(len(table), findings, labels, lengths, estimated, max_length)
    report.verdict, report.top_fixes = verdict(findings, len(table))
    tell(1.0, "done")
    return report


def _examples(texts: pd.Series, rows: np.ndarray, count: int = 3) -> list[str]:
    return [mask_example(texts.iloc[int(i)]) for i in rows[:count]]


def _empty(texts: pd.Series) -> Finding:
    rows = np.flatnonzero(texts.str.strip().str.len().fillna(0).to_numpy() == 0)
    severity = "warning" if len(rows) else "ok"  # nothing learnt from them, but nothing wrong
    return Finding(
        "empty",
        "Empty rows",
        severity,
        len(rows),
        f"{len(rows):,} rows have no text (empty or only spaces): nothing to learn from.",
        [f"row {i}" for i in rows[:3]],
        {"step": "drop_empty", "params": {}},
        rows,
    )


def _duplicates(texts: pd.Series, found: DuplicateResult) -> list[Finding]:
    exact = Finding(
        "duplicates",
        "Exact duplicates",
        "warning" if len(found.exact) else "ok",  # over-weighted, not wrong: never "needs fixing"
        len(found.exact),
        f"{len(found.exact):,} rows repeat an earlier row word for word: they over-weight those "
        "examples and can leak into validation.",
        _examples(texts, found.exact),
        {"step": "drop_duplicates", "params": {"near": False}},
        found.exact,
    )
    near = Finding(
        "near_duplicates",
        "Near-duplicates",
        "warning" if len(found.near) else "ok",
        len(found.near),
        f"{len(found.near):,} rows are almost the same as an earlier row: the same words in "
        "another case, order or punctuation, or a few words changed in a long text (rows under "
        "12 words differ by one added or removed word at most).",
        [
            f"{mask_example(texts.iloc[int(a)], 60)}  ≈  {mask_example(texts.iloc[int(b)], 60)}"
            for a, b in zip(found.near[:3], found.near_of[:3], strict=False)
        ],
        {"step": "drop_duplicates", "params": {"near": True, "threshold": 0.7}},
        found.near,
    )
    return [exact, near]


def _labels(texts: pd.Series, labels: pd.Series, group: np.ndarray) -> list[Finding]:
    """Conflicts: rows whose copies (the same words; near-copies differing in a word are not
    conflicts, that word may be why the label differs) hold several labels."""
    labels = labels.fillna("").astype(str).str.strip()
    codes = pd.factorize(labels.str.casefold())[0]  # " Positive" vs "positive": a spelling
    frame = pd.DataFrame({"group": group, "label": codes})
    per_group = frame.groupby("group")["label"].nunique()
    rows = np.flatnonzero(frame["group"].map(per_group).to_numpy() > 1)
    conflicts = Finding(
        "conflicts",
        "Conflicting labels",
        "ok" if not len(rows) else ("problem" if len(rows) > 0.01 * len(texts) else "warning"),
        len(rows),
        f"{len(rows):,} rows share their text with a row that has a different label: the model "
        "is taught two answers for one input.",
        [f"{mask_example(texts.iloc[i], 80)} → {labels.iloc[i]}" for i in rows[:3]],
        {"step": "resolve_conflicts", "params": {"strategy": "majority"}},
        rows,
    )
    counts = labels[labels != ""].value_counts()
    return [_unlabelled(labels), conflicts, _spellings(labels), _balance(counts, labels)]


def _unlabelled(labels: pd.Series) -> Finding:
    """Rows with no label: training would fail on them or learn an empty class."""
    rows = np.flatnonzero((labels == "").to_numpy())
    return Finding(
        "empty_labels",
        "Rows without a label",
        "problem" if len(rows) else "ok",
        len(rows),
        f"{len(rows):,} rows have an empty label: the model cannot learn from them and training "
        "may stop on them. Remove them, or label them and upload the file again.",
        [f"row {i}" for i in rows[:3]],
        {"step": "drop_empty_labels", "params": {}} if len(rows) else None,
        rows,
    )


def _spellings(labels: pd.Series) -> Finding:
    """Labels that differ only in case or spaces (" Positive" vs "positive") split one class."""
    raw = labels[labels != ""]
    canonical = raw.str.casefold()
    spellings = raw.groupby(canonical).agg(lambda values: sorted(set(values)))
    variants = spellings[spellings.map(len) > 1]
    commonest = raw.groupby(canonical).agg(lambda values: values.value_counts().index[0])
    odd = canonical.isin(variants.index) & (raw != canonical.map(commonest))
    rows = np.flatnonzero(odd.reindex(labels.index, fill_value=False).to_numpy())
    return Finding(
        "label_spellings",
        "Labels spelled several ways",
        "problem" if len(rows) else "ok",
        len(rows),
        f"{len(variants)} label(s) are written in several ways that differ only in case or "
        "spaces, so the model would learn them as different classes."
        if len(rows)
        else "Every label is written one way.",
        [" / ".join(repr(v) for v in values) for values in variants.head(3)],
        {"step": "normalize_labels", "params": {}} if len(rows) else None,
        rows,
    )


def _balance(counts: pd.Series, labels: pd.Series) -> Finding:
    if len(counts) < 2:
        only = f"only {counts.index[0]!r}" if len(counts) else "no values"
        return Finding(
            "labels",
            "Label distribution",
            "problem",
            len(labels),
            f"The label column has {only}: a classifier needs at least two labels. "
            "Pick another label column or add examples of the other classes.",
        )
    rare = counts[counts < RARE_LABEL_MIN]
    ratio = counts.iloc[0] / counts.iloc[-1]
    parts = [f"{len(counts)} labels; the largest has {ratio:.1f}× the examples of the smallest."]
    if len(rare):
        parts.append(
            f"{len(rare)} label(s) have fewer than {RARE_LABEL_MIN} examples, too few to "
            f"learn: {', '.join(map(str, rare.index[:5]))}."
        )
    severity = "problem" if len(rare) else ("warning" if ratio > IMBALANCE_RATIO else "ok")
    rows = np.flatnonzero(labels.isin(rare.index).to_numpy())
    fix = {"step": "merge_rare_labels", "params": {"min_count": RARE_LABEL_MIN, "into": "other"}}
    return Finding(
        "labels",
        "Label distribution",
        severity,
        len(rows),
        " ".join(parts),
        [f"{label}: {n}" for label, n in rare.head(3).items()],
        fix if len(rare) else None,
        rows,
    )


def _patterns(texts: pd.Series) -> list[Finding]:
    found = {**find_pii(texts), **scan(texts, DAMAGE_PATTERNS)}
    pii_rows = np.unique(np.concatenate([found[k] for k in PII_KINDS]))
    kinds = ", ".join(f"{k} {len(found[k]):,}" for k in PII_KINDS if len(found[k]))
    pii = Finding(
        "pii",
        "Possible personal data",
        "warning" if len(pii_rows) else "ok",
        len(pii_rows),
        f"{len(pii_rows):,} row(s) hold personal data ({kinds or 'none'}); the model can memorise "
        "and repeat it.",
        _examples(texts, pii_rows),
        {"step": "mask_pii", "params": {}},
        pii_rows,
    )
    damage_rows = np.unique(np.concatenate([found[k] for k in DAMAGE_PATTERNS]))
    kinds = ", ".join(f"{k} {len(found[k]):,}" for k in DAMAGE_PATTERNS if len(found[k]))
    fix = (
        {"step": "strip_html", "params": {}}
        if len(found["html"]) >= len(damage_rows) / 2
        else {"step": "repair_encoding", "params": {}}
    )
    damage = Finding(
        "damage",
        "Encoding damage and HTML",
        "warning" if len(damage_rows) else "ok",
        len(damage_rows),
        f"{len(damage_rows):,} rows hold broken characters, control characters or HTML ({kinds or 'none'}).",
        [repr(texts.iloc[int(i)][:80]) for i in damage_rows[:3]],
        fix,
        damage_rows,
    )
    return [pii, damage]


def split_overlap(train: pd.Series, validation: pd.Series) -> Finding:
    """Validation texts that also appear (normalised) in the training texts: leakage."""
    return _leakage(train, validation)


def _leakage(train: pd.Series, validation: pd.Series) -> Finding:
    train_keys = set(normalize(train).to_pylist()) - {""}
    val_keys = pd.Series(normalize(validation).to_numpy(zero_copy_only=False))
    rows = np.flatnonzero(val_keys.isin(train_keys).to_numpy())
    share = len(rows) / max(1, len(validation))
    return Finding(
        "leakage",
        "Train / validation overlap",
        "ok" if not len(rows) else ("problem" if share > 0.01 else "warning"),
        len(rows),
        f"{len(rows):,} validation rows ({share:.1%}) also appear in the training data: the "
        "validation score will look better than the model is.",
        _examples(validation, rows),
        {"step": "drop_duplicates", "params": {"near": False}},
        rows,
    )


def verdict(findings: list[Finding], rows: int) -> tuple[str, list[str]]:
    """The overall verdict and up to three fixes, most serious first.

    "needs fixing" only when a finding is a problem (they are the ones that spoil training). A fix
    that removes more than MAX_FIRST_FIX_SHARE of `rows` is never first: it is listed after the
    others, or not at all when there are none (its finding still offers it, with the count).
    """
    rank = {"problem": 0, "warning": 1}
    bad = sorted(
        (f for f in findings if f.severity in rank), key=lambda f: (rank[f.severity], -f.count)
    )
    if any(f.severity == "problem" for f in bad):
        word = "needs fixing"
    else:
        word = "usable with warnings" if bad else "ready"
    small = [f for f in bad if f.fix and f.removes <= MAX_FIRST_FIX_SHARE * rows]
    large = [f for f in bad if f.fix and f.removes > MAX_FIRST_FIX_SHARE * rows]
    # A large removal only follows another fix; alone, it stays in its finding, not recommended.
    with_fix = small + large if small else []
    fixes = [f"{f.title}: {fix_label(f.fix['step'], f.removes, f.count)}" for f in with_fix]
    return word, fixes[:3]


def fix_label(step: str, removed: int, changed: int) -> str:
    """What a fix does, with how many rows ("Remove 12 rows", "Mask personal data in 4 rows"):
    the recommendation's wording and the label of the fix's button."""
    if removed:
        return f"Remove {removed:,} row{'s' * (removed != 1)}"
    verb = STEP_VERBS.get(step, step.replace("_", " ").capitalize())
    return f"{verb} in {changed:,} row{'s' * (changed != 1)}"


STEP_VERBS = {
    "mask_pii": "Mask personal data",
    "strip_html": "Remove HTML",
    "repair_encoding": "Repair characters",
    "normalize_labels": "Spell labels one way",
    "merge_rare_labels": "Merge rare labels",
    "keep_head_tail": "Keep start and end",
    "trim_long": "Shorten text",
}
