"""Row, column and cell caps on a loaded table, each with a message that says what to do."""

from __future__ import annotations

import pandas as pd
import pytest

from core.data import limits
from core.data.formats import DataError
from core.data.load import load_table


def test_a_normal_table_passes():
    limits.check_limits(pd.DataFrame({"text": ["a", None, 3], "label": [1, 2, 3]}), "ok.csv")
    limits.check_limits(pd.DataFrame({"messages": [[{"role": "user"}]]}), "chat.jsonl")


@pytest.mark.parametrize(
    "cap, table, expected",
    [
        ("MAX_ROWS", pd.DataFrame({"text": ["x"] * 11}), "11 rows; the app reads at most 10"),
        ("MAX_COLUMNS", pd.DataFrame([[0] * 11]), "11 columns; the app reads at most 10"),
        ("MAX_CELL_CHARS", pd.DataFrame({"text": ["ok", "y" * 11]}), "row 2 of column 'text'"),
    ],
)
def test_each_cap_refuses_with_the_numbers_and_a_fix(monkeypatch, cap, table, expected):
    monkeypatch.setattr(limits, cap, 10)
    with pytest.raises(DataError, match=expected):
        limits.check_limits(table, "big.csv")


def test_loading_a_file_applies_the_caps(monkeypatch, tmp_path):
    monkeypatch.setattr(limits, "MAX_ROWS", 5)
    path = tmp_path / "rows.csv"
    path.write_text("text,label\n" + "fine,a\n" * 6)
    with pytest.raises(DataError, match="rows.csv has 6 rows"):
        load_table(path)
