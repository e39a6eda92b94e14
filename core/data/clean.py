"""One-click fixes, their previews, and recipes (ordered fixes with parameters, saved as a file).

    recipe = Recipe([Step("drop_empty"), Step("drop_duplicates", {"near": True})])
    cleaned = apply_recipe(table, mapping, recipe)      # the original table is not modified
    recipe.save("recipe.yaml"); Recipe.load("recipe.yaml")  # re-apply to new data

Every step takes (table, mapping, **params) and returns a new table; text steps change the mapped
text columns only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from core.data.dedup import find_duplicates
from core.data.detect import mapping_text
from core.data.formats import DataError
from core.data.lengths import WORDS_TO_TOKENS, token_lengths
from core.data.pii import KINDS as PII_KINDS
from core.data.pii import find_pii, mask_pii
from core.data.scan import repair_text, strip_html

TEXT_ROLES = ("text", "text_pair", "instruction", "input", "output", "prompt", "chosen", "rejected")


@dataclass
class Step:
    """One fix: the name of a function in STEPS and its parameters."""

    step: str = field(metadata={"help": "name of the fix, one of STEPS"})
    params: dict = field(default_factory=dict, metadata={"help": "the fix's parameters"})

    def __post_init__(self):
        if self.step not in STEPS:
            raise DataError(
                f"Unknown cleaning step {self.step!r}; known steps: {', '.join(STEPS)}."
            )


@dataclass
class Recipe:
    """Ordered cleaning steps; saved as JSON or YAML and re-appliable to new data."""

    steps: list[Step] = field(default_factory=list, metadata={"help": "applied in this order"})

    def to_list(self) -> list[dict]:
        return [asdict(s) for s in self.steps]

    def then(self, step: Step) -> Recipe:
        """A new recipe with one more step."""
        return Recipe([*self.steps, step])

    def save(self, path: str | Path) -> Path:
        """Write as YAML (.yaml/.yml) or JSON (anything else)."""
        path = Path(path)
        data = {"recipe": self.to_list()}
        text = (
            yaml.safe_dump(data, sort_keys=False)
            if path.suffix in (".yaml", ".yml")
            else json.dumps(data, indent=2)
        )
        path.write_text(text)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        """Read a recipe file.

        Raises:
            DataError: not a recipe file, or an unknown step.
        """
        try:
            raw = yaml.safe_load(Path(path).read_text())  # YAML also reads JSON
        except (OSError, yaml.YAMLError) as err:
            raise DataError(f"{path} is not a readable recipe file: {err}") from err
        return cls.from_list((raw or {}).get("recipe") if isinstance(raw, dict) else raw)

    @classmethod
    def from_list(cls, items) -> Recipe:
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and "step" in i for i in items
        ):
            raise DataError(
                "A recipe is a list of {step, params} entries; this file holds something else."
            )
        return cls([Step(i["step"], dict(i.get("params") or {})) for i in items])


def _text_columns(table: pd.DataFrame, mapping: dict) -> list[str]:
    return [mapping[r] for r in TEXT_ROLES if mapping.get(r) and mapping[r] in table.columns]


def _map_text(table: pd.DataFrame, mapping: dict, change) -> pd.DataFrame:
    """A copy with `change` (Series of str → Series of str) applied to every mapped text field,
    chat turns included."""
    out = table.copy()
    if mapping["task"] == "chat":
        column = mapping["messages"]
        key = "value" if mapping.get("chat_format") == "sharegpt" else "content"
        turns = [list(v) if v is not None else [] for v in table[column]]
        flat = pd.Series([str(t.get(key, "")) for row in turns for t in row], dtype=object)
        changed = iter(change(flat).tolist() if len(flat) else [])
        out[column] = [[{**t, key: next(changed)} for t in row] for row in turns]
        return out
    for column in _text_columns(table, mapping):
        out[column] = change(table[column].fillna("").astype(str))
    return out


def drop_empty(table: pd.DataFrame, mapping: dict) -> pd.DataFrame:
    """Drop rows whose text is empty or only spaces."""
    return table[mapping_text(table, mapping).str.strip().str.len().to_numpy() > 0]


def drop_empty_labels(table: pd.DataFrame, mapping: dict) -> pd.DataFrame:
    """Drop rows whose label is missing or only spaces."""
    labels = table[mapping["label"]].fillna("").astype(str).str.strip()
    return table[(labels != "").to_numpy()]


def drop_duplicates(
    table: pd.DataFrame, mapping: dict, near: bool = False, threshold: float = 0.7
) -> pd.DataFrame:
    """Keep the first of each group of identical (or, with near=True, nearly identical) rows."""
    found = find_duplicates(mapping_text(table, mapping), threshold=threshold)
    drop = np.concatenate([found.exact, found.near]) if near else found.exact
    return table.drop(table.index[drop])


def resolve_conflicts(
    table: pd.DataFrame, mapping: dict, strategy: str = "majority"
) -> pd.DataFrame:
    """Copies (the same words) with different labels: keep the most common label's rows
    ("majority", ties keep all) or drop every conflicting row ("drop")."""
    found = find_duplicates(mapping_text(table, mapping))
    group = pd.Series(found.same_words, index=table.index)
    labels = table[mapping["label"]].astype(str)
    conflicted = labels.groupby(group).transform("nunique") > 1
    if strategy == "drop":
        return table[~conflicted.to_numpy()]
    counts = labels.groupby([group, labels]).transform("size")
    keep = ~conflicted | (counts == counts.groupby(group).transform("max"))
    return table[keep.to_numpy()]


def mask_pii_step(table: pd.DataFrame, mapping: dict, kinds: list | None = None) -> pd.DataFrame:
    """Replace e-mails, phone, card numbers and IP addresses by tags such as [EMAIL]."""
    chosen = tuple(kinds or PII_KINDS)
    return _map_text(table, mapping, lambda s: mask_pii(s, chosen))


def drop_pii(table: pd.DataFrame, mapping: dict) -> pd.DataFrame:
    """Drop every row that may hold personal data."""
    found = find_pii(mapping_text(table, mapping))
    rows = np.unique(np.concatenate(list(found.values())))
    return table.drop(table.index[rows])


def drop_long(
    table: pd.DataFrame, mapping: dict, max_tokens: int = 128, tokenizer=None
) -> pd.DataFrame:
    """Drop rows longer than max_tokens (words × 1.3 without a tokenizer)."""
    lengths, _ = token_lengths(mapping_text(table, mapping), tokenizer)
    return table[lengths <= max_tokens]


def keep_head_tail(
    table: pd.DataFrame, mapping: dict, max_tokens: int = 128, head_share: float = 0.25
) -> pd.DataFrame:
    """Shorten texts over max_tokens to their first and last words (head + tail), so both the
    start and the conclusion of a long text survive the cut. A quarter head, three quarters tail
    was the best split for long reviews in Sun et al. 2019 (How to fine-tune BERT for text
    classification). Lengths in words (tokens / 1.3); shorter texts are unchanged."""
    max_words = max(2, int(max_tokens / WORDS_TO_TOKENS))
    head = max(1, int(max_words * head_share))

    def shorten(text: str) -> str:
        words = text.split()
        if len(words) <= max_words:
            return text
        return " ".join(words[:head] + ["…"] + words[len(words) - (max_words - head) :])

    return _map_text(table, mapping, lambda s: s.map(shorten))


def trim_long(table: pd.DataFrame, mapping: dict, max_words: int = 100) -> pd.DataFrame:
    """Cut each text field after max_words words."""
    return _map_text(table, mapping, lambda s: s.str.split().str[:max_words].str.join(" "))


def repair_encoding(table: pd.DataFrame, mapping: dict) -> pd.DataFrame:
    """Undo mojibake (UTF-8 read as Latin-1) and remove control characters."""
    return _map_text(table, mapping, lambda s: s.map(repair_text))


def strip_html_step(table: pd.DataFrame, mapping: dict) -> pd.DataFrame:
    """Remove HTML tags and decode common entities (&amp; → &)."""
    return _map_text(table, mapping, strip_html)


def merge_rare_labels(
    table: pd.DataFrame, mapping: dict, min_count: int = 8, into: str = "other"
) -> pd.DataFrame:
    """Rename labels with fewer than min_count rows to `into`."""
    out = table.copy()
    labels = out[mapping["label"]].astype(str)
    counts = labels.map(labels.value_counts())
    out[mapping["label"]] = labels.where(counts >= min_count, into)
    return out


def normalize_labels(table: pd.DataFrame, mapping: dict) -> pd.DataFrame:
    """Spell each label one way: variants that differ in case or spaces take the commonest form."""
    out = table.copy()
    labels = out[mapping["label"]].astype(str).str.strip()
    key = labels.str.casefold()
    commonest = labels.groupby(key).agg(lambda values: values.value_counts().index[0])
    out[mapping["label"]] = key.map(commonest).where(labels != "", labels)
    return out


STEPS = {
    "drop_empty": drop_empty,
    "drop_empty_labels": drop_empty_labels,
    "drop_duplicates": drop_duplicates,
    "resolve_conflicts": resolve_conflicts,
    "mask_pii": mask_pii_step,
    "drop_pii": drop_pii,
    "drop_long": drop_long,
    "trim_long": trim_long,
    "keep_head_tail": keep_head_tail,
    "repair_encoding": repair_encoding,
    "strip_html": strip_html_step,
    "merge_rare_labels": merge_rare_labels,
    "normalize_labels": normalize_labels,
}


def apply_step(table: pd.DataFrame, mapping: dict, step: Step) -> pd.DataFrame:
    """Run one step on a copy of the table.

    Raises:
        DataError: bad parameters, or no rows left (the message names the step).
    """
    try:
        result = STEPS[step.step](table, mapping, **step.params)
    except TypeError as err:
        raise DataError(
            f"Step {step.step!r} got parameters it does not take: {step.params}"
        ) from err
    if len(result) == 0:
        raise DataError(
            f"No rows are left after '{step.step}' ({len(table):,} before). Undo that step or "
            "loosen its parameters; the original data is unchanged."
        )
    return result


def apply_recipe(table: pd.DataFrame, mapping: dict, recipe: Recipe) -> pd.DataFrame:
    """Apply each step in order; the input table is left as it was.

    Raises:
        DataError: a step leaves no rows or has bad parameters.
    """
    for step in recipe.steps:
        table = apply_step(table, mapping, step)
    return table


@dataclass
class Preview:
    """What a step would change, before it is applied."""

    dropped: pd.DataFrame = field(metadata={"help": "rows the step removes"})
    before: pd.DataFrame = field(metadata={"help": "changed rows as they are"})
    after: pd.DataFrame = field(metadata={"help": "the same rows after the step"})
    removed_count: int = field(default=0, metadata={"help": "all rows removed (not only shown)"})
    changed_count: int = field(default=0, metadata={"help": "all rows changed (not only shown)"})

    @property
    def summary(self) -> str:
        return f"{self.removed_count:,} rows removed, {self.changed_count:,} rows changed"


def preview_step(table: pd.DataFrame, mapping: dict, step: Step, limit: int = 20) -> Preview:
    """The rows a step would remove or change (up to `limit` of each shown), without applying it.

    Raises:
        DataError: the step would leave no rows.
    """
    result = apply_step(table, mapping, step)
    dropped = table.loc[table.index.difference(result.index)]
    common = result.index.intersection(table.index)
    old, new = table.loc[common], result.loc[common]
    changed = (old.astype(str) != new.astype(str)).any(axis=1).to_numpy()
    return Preview(
        dropped.head(limit),
        old[changed].head(limit),
        new[changed].head(limit),
        len(dropped),
        int(changed.sum()),
    )
