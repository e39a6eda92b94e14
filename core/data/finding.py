"""One finding of the quality report: a problem (or its absence), the rows, and the fix."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Finding:
    """One problem (or its absence) found in the data."""

    key: str = field(metadata={"help": "stable id: empty, duplicates, near_duplicates, ..."})
    title: str = field(metadata={"help": "short plain-words name"})
    severity: str = field(metadata={"help": "ok, warning or problem"})
    count: int = field(metadata={"help": "rows affected"})
    message: str = field(metadata={"help": "what was found and why it matters"})
    examples: list[str] = field(default_factory=list, metadata={"help": "a few rows (PII masked)"})
    fix: dict | None = field(default=None, metadata={"help": "the clean step that fixes it"})
    rows: np.ndarray = field(
        default_factory=lambda: np.empty(0, np.int64),
        repr=False,
        metadata={"help": "positions of the affected rows"},
    )
    removes: int = field(default=0, metadata={"help": "rows the fix removes (at most)"})
