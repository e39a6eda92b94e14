"""Size caps on a loaded table, so one user's file cannot take the server from everyone else.

Checked right after parsing (core/data/load.py `_finish`); each refusal says what was found, the
cap, and what to do. The caps are generous for fine-tuning data: a LoRA run sees at most a few
million examples, and a model reads a few thousand tokens of each.
"""

from __future__ import annotations

import pandas as pd

from core.data.formats import DataError

MAX_ROWS = 5_000_000
MAX_COLUMNS = 1_000
MAX_CELL_CHARS = 1_000_000  # ~250k tokens: far beyond any model's context


def check_limits(table: pd.DataFrame, name: str) -> None:
    """Refuse a table with too many rows or columns, or a text cell too long to train on.

    Raises:
        DataError: the first cap exceeded, with the numbers and the fix.
    """
    rows, columns = table.shape
    if rows > MAX_ROWS:
        raise DataError(
            f"{name} has {rows:,} rows; the app reads at most {MAX_ROWS:,}. Train on a sample "
            "(a random subset keeps the label mix), or split the file."
        )
    if columns > MAX_COLUMNS:
        raise DataError(
            f"{name} has {columns:,} columns; the app reads at most {MAX_COLUMNS:,}. Keep the "
            "text and label columns (and any you need for chat or instructions)."
        )
    for column in table.select_dtypes(include=["object", "string"]).columns:
        try:
            lengths = table[column].str.len().fillna(0)
        except AttributeError:  # no strings at all (chat turns as lists): nothing to measure
            continue
        if len(lengths) and lengths.max() > MAX_CELL_CHARS:
            row = int(lengths.to_numpy().argmax())
            raise DataError(
                f"{name}: row {row + 1} of column {column!r} holds {int(lengths.max()):,} "
                f"characters; the app reads at most {MAX_CELL_CHARS:,} per cell. Split long "
                "documents into passages, or check that the delimiter was read right."
            )
