"""Guess what a table is for (the task) and which columns play which role."""

from __future__ import annotations

import pandas as pd

from core.data.load import DataError

TEXT_NAMES = ("text", "sentence", "review", "content", "body", "comment", "message", "document")
LABEL_NAMES = ("label", "labels", "sentiment", "class", "category", "target", "rating", "y")


def _text_score(series: pd.Series) -> float:
    """Mean length of the values that are strings; 0 for a column that is not text-like."""
    values = series.dropna()
    strings = values[values.map(lambda v: isinstance(v, str))]
    if len(strings) < max(1, 0.5 * len(values)):
        return 0.0
    return float(strings.str.len().mean() or 0.0)


def suggest_columns(table: pd.DataFrame) -> dict:
    """Suggest the text and label columns of a classification table.

    Returns:
        {"task": "classification", "text": column, "label": column or ""}.

    Raises:
        DataError: no column holds text.
    """
    lower = {c.lower(): c for c in table.columns}
    text = next((lower[n] for n in TEXT_NAMES if n in lower), None)
    scores = {c: _text_score(table[c]) for c in table.columns}
    if text is None or scores.get(text, 0) == 0:
        text = max(scores, key=scores.get) if scores and max(scores.values()) >= 15 else None
    if text is None:
        raise DataError(
            "No column looks like text (sentences or documents): found "
            f"{', '.join(map(str, table.columns))}. Add a column with the text to learn from."
        )
    label = next((lower[n] for n in LABEL_NAMES if n in lower and lower[n] != text), "")
    if not label:
        candidates = [c for c in table.columns if c != text and 2 <= table[c].nunique() <= 50]
        label = min(candidates, key=lambda c: table[c].nunique()) if candidates else ""
    return {"task": "classification", "text": text, "label": label}


def check_labels(table: pd.DataFrame, label_column: str) -> None:
    """Raise DataError if the label column cannot train a classifier."""
    if label_column not in table.columns:
        raise DataError(
            f"There is no column '{label_column}'. Pick the label column from the list."
        )
    labels = table[label_column].map(lambda v: "" if v is None else str(v).strip())
    classes = labels[labels != ""].unique()
    if len(classes) < 2:
        found = f"only '{classes[0]}'" if len(classes) == 1 else "no values"
        raise DataError(
            f"The label column '{label_column}' has {found}: a classifier needs at least two "
            "different labels. Pick another column or add examples of the other classes."
        )
