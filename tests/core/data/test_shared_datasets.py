"""Every real file in ../shared/datasets/ loads with the right rows, and the Data page's
suggestion (core.data.detect.suggest_mapping) is the right task and columns for it.
Counts are the ones its README states."""

import re

import pytest

from core.data.detect import suggest_mapping
from core.data.load import load_table

CASES = {
    # file: (rows, expected mapping entries)
    "banking77_train.csv": (
        10_003,
        {"task": "classification", "text": "text", "label": "category"},
    ),
    "banking77_test.csv": (3_080, {"task": "classification", "text": "text", "label": "category"}),
    "trec_train_5500.label": (5_452, {"task": "classification", "text": "text", "label": "label"}),
    "trec_test_10.label": (500, {"task": "classification", "text": "text", "label": "label"}),
    "subj_train.tsv": (8_000, {"task": "classification", "text": "text", "label": "label"}),
    "subj_test.tsv": (1_000, {"task": "classification", "text": "text", "label": "label"}),
    "ag_news_test.csv": (
        7_600,
        {"task": "classification", "text": "text", "text_pair": "title", "label": "label"},
    ),
    "self_instruct_seed_tasks.jsonl": (
        175,
        {"task": "instruction", "instruction": "instruction", "input": "input", "output": "output"},
    ),
    "numina_cot_sharegpt_1k.jsonl": (
        1_000,
        {"task": "chat", "messages": "conversations", "chat_format": "sharegpt"},
    ),
    "tinyshakespeare_input.txt": (None, {"task": "text", "text": "text"}),
}


@pytest.fixture(scope="module")
def tables(shared_datasets):
    return {}


def load(shared_datasets, tables, name):
    if name not in tables:
        tables[name] = load_table(shared_datasets / name)
    return tables[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_suggestion_and_rows(shared_datasets, tables, name):
    rows, expected = CASES[name]
    table = load(shared_datasets, tables, name)
    mapping = suggest_mapping(table)
    assert {k: mapping.get(k) for k in expected} == expected
    if rows is not None:
        assert len(table) == rows
    assert table.attrs.get("bad_lines", {"count": 0})["count"] == 0


def test_banking77_keeps_quoted_newlines_and_no_carriage_returns(shared_datasets, tables):
    table = load(shared_datasets, tables, "banking77_train.csv")
    assert table["text"].str.contains("\n").sum() == 10  # the README's 10 quoted texts
    assert not table["text"].str.contains("\r").any()
    assert table["category"].nunique() == 77


def test_trec_offers_the_fine_label_and_reports_the_latin1_byte(shared_datasets, tables):
    table = load(shared_datasets, tables, "trec_train_5500.label")
    assert table["label"].value_counts().to_dict() == {
        "ENTY": 1250,
        "HUM": 1223,
        "DESC": 1162,
        "NUM": 896,
        "LOC": 835,
        "ABBR": 86,
    }
    assert table["fine_label"].nunique() == 50
    assert "sister\u00f0city" in table["text"].iloc[65]
    assert any("line(s) 66" in n for n in table.attrs["notes"])


def test_subj_is_headerless_with_its_label_counts(shared_datasets, tables):
    table = load(shared_datasets, tables, "subj_train.tsv")
    assert table.attrs["header"] == {"first_row_is_header": False, "guessed": True}
    assert table["label"].value_counts().to_dict() == {"1": 4012, "0": 3988}


def test_ag_news_is_headerless_with_four_balanced_classes(shared_datasets, tables):
    table = load(shared_datasets, tables, "ag_news_test.csv")
    assert list(table.columns) == ["label", "title", "text"]
    assert table["label"].value_counts().to_dict() == {c: 1900 for c in "1234"}


def test_self_instruct_instances_are_flattened(shared_datasets, tables):
    table = load(shared_datasets, tables, "self_instruct_seed_tasks.jsonl")
    assert int((table["input"] == "").sum()) == 50  # the README's 50 empty inputs
    assert "instances" not in table.columns


def test_shakespeare_keeps_every_character_of_text(shared_datasets, tables):
    table = load(shared_datasets, tables, "tinyshakespeare_input.txt")
    source = (shared_datasets / "tinyshakespeare_input.txt").read_text()
    # One row per speech (blank-line-separated block); joined again they give back the file.
    assert "\n\n".join(table["text"]) == re.sub(r"\n\n+", "\n\n", source).strip()
    assert table["text"].iloc[0].startswith("First Citizen:\nBefore we proceed")


@pytest.mark.parametrize("name", ["banking77_test.csv", "subj_test.tsv", "ag_news_test.csv"])
def test_fast_and_exact_readers_agree(shared_datasets, tables, monkeypatch, name):
    import pandas as pd

    import core.data.delimited as delimited

    monkeypatch.setattr(delimited, "fast_read", lambda *args: None)
    exact = load_table(shared_datasets / name)
    pd.testing.assert_frame_equal(load(shared_datasets, tables, name), exact)
