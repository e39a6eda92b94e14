"""Loading every supported format, and a clear DataError for each kind of bad input."""

import codecs
import gzip
import io
import json
import zipfile

import pandas as pd
import pytest

from core.data.load import DataError, load_source, load_table, store_upload

ROWS = [{"text": "good film", "label": "pos"}, {"text": "bad film", "label": "neg"}]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def xlsx_bytes():
    buffer = io.BytesIO()
    pd.DataFrame(ROWS).to_excel(buffer, index=False)
    return buffer.getvalue()


def parquet_bytes():
    buffer = io.BytesIO()
    pd.DataFrame(ROWS).to_parquet(buffer)
    return buffer.getvalue()


CASES = {
    "a.csv": "text,label\ngood film,pos\nbad film,neg\n",
    "a.tsv": "text\tlabel\ngood film\tpos\nbad film\tneg\n",
    "semi.csv": "text;label\ngood film;pos\nbad film;neg\n",
    "a.json": json.dumps(ROWS),
    "cols.json": json.dumps({"text": ["good film", "bad film"], "label": ["pos", "neg"]}),
    "a.jsonl": "\n".join(json.dumps(r) for r in ROWS) + "\n",
    "a.parquet": parquet_bytes(),
    "a.xlsx": xlsx_bytes(),
    "bom.csv": codecs.BOM_UTF8 + b"text,label\ngood film,pos\nbad film,neg\n",
    "u16.csv": "text,label\ngood film,pos\nbad film,neg\n".encode("utf-16"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_format_gives_the_same_table(tmp_path, name):
    table = load_table(write(tmp_path, name, CASES[name]))
    assert list(table.columns) == ["text", "label"]
    assert table["text"].tolist() == ["good film", "bad film"]
    assert table["label"].tolist() == ["pos", "neg"]


def test_latin1_is_detected_and_noted(tmp_path):
    table = load_table(
        write(tmp_path, "l.csv", "text,label\ncafé crème,pos\nnaïve,neg\n".encode("latin-1"))
    )
    assert table["text"].tolist() == ["café crème", "naïve"]
    assert any("latin-1" in n for n in table.attrs["notes"])


def test_gzip_and_zip_are_unwrapped(tmp_path):
    gz = load_table(write(tmp_path, "a.csv.gz", gzip.compress(CASES["a.csv"].encode())))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("__MACOSX/._a.jsonl", b"junk")
        archive.writestr("data/a.jsonl", CASES["a.jsonl"])
    zipped = load_table(write(tmp_path, "a.zip", buffer.getvalue()))
    assert gz["text"].tolist() == zipped["text"].tolist() == ["good film", "bad film"]


def test_plain_text_lines_and_blocks(tmp_path):
    lines = load_table(write(tmp_path, "l.txt", "first line\nsecond line\n\nthird line\n"))
    assert lines["text"].tolist() == ["first line", "second line", "third line"]
    blocks = load_table(write(tmp_path, "b.txt", "para one\nstill one\n\npara two\nmore two\n"))
    assert blocks["text"].tolist() == ["para one\nstill one", "para two\nmore two"]


def test_save_to_disk_folder(tmp_path):
    import datasets

    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(ROWS), "test": datasets.Dataset.from_list(ROWS[:1])}
    ).save_to_disk(tmp_path / "ds")
    table = load_table(tmp_path / "ds")
    assert table["text"].tolist() == ["good film", "bad film"]


def test_mixed_json_schemas_load_the_union_and_say_what_differs(tmp_path):
    rows = [{"text": "a", "label": "x"}, {"text": "b", "label": "y", "source": "web"}]
    table = load_table(write(tmp_path, "m.jsonl", "\n".join(json.dumps(r) for r in rows)))
    assert set(table.columns) == {"text", "label", "source"}
    assert "source (1 rows)" in table.attrs["notes"][0]


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("empty.csv", b"", "empty (0 bytes)"),
        ("blank.csv", b"  \n\n", "only blank space"),
        ("junk.csv", bytes(range(256)) * 40, "binary file"),
        ("quote.csv", 'text,label\n"unclosed,pos\nok,neg\n', "quote"),
        ("fields.csv", "text,label\na,b,c,d\n", "extra separators"),
        ("bad.json", '[{"text": "a"', "not valid JSON"),
        ("bad.jsonl", "{oops}\n[1,\n", "none of its 2 lines is valid JSON"),
        ("x.docx", b"hello", "not supported"),
        ("len.json", json.dumps({"text": ["a", "b"], "label": ["x"]}), "different lengths"),
        ("bad.parquet", b"PAR1 not really", "Parquet"),
        ("bad.zip", b"PK\x03\x04broken", ".zip"),
    ],
)
def test_bad_input_gives_a_clear_message(tmp_path, name, data, expected):
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")) as info:
        load_table(write(tmp_path, name, data))
    assert name in str(info.value) or "No file" in str(info.value)


def test_a_50_mb_single_line_is_read_then_refused_by_the_cell_cap(tmp_path):
    path = write(tmp_path, "big.txt", "word " * 10_000_000)
    with pytest.raises(DataError, match="50,000,000 characters; the app reads at most"):
        load_table(path)  # core/data/limits.py: a cell this long cannot be trained on


def test_a_50_mb_single_line_csv_is_a_header_without_rows(tmp_path):
    with pytest.raises(DataError, match="no rows"):
        load_table(write(tmp_path, "big.csv", "x" * 50_000_000))


def test_hub_id_offline_fails_fast_with_a_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="offline"):
        load_source("stanfordnlp/imdb")


def test_local_path_source(tmp_path):
    path = write(tmp_path, "a.csv", CASES["a.csv"])
    assert len(load_source(str(path))) == 2
    with pytest.raises(DataError, match="No file or folder"):
        load_source(str(tmp_path / "missing.csv"))


def test_store_upload_is_content_addressed_and_never_rewritten(tmp_path):
    first = store_upload(b"text\nhello\n", "a.csv", tmp_path)
    again = store_upload(b"text\nhello\n", "a.csv", tmp_path)
    other = store_upload(b"text\nbye\n", "a.csv", tmp_path)
    assert first == again != other
    assert first.read_bytes() == b"text\nhello\n"


@pytest.mark.parametrize(
    "suffix", [".csv", ".tsv", ".json", ".jsonl", ".txt", ".parquet", ".xlsx", ".gz", ".zip"]
)
def test_fuzzed_bytes_give_a_table_or_a_data_error(tmp_path, suffix):
    import random

    rng = random.Random(suffix)
    seeds = [
        b'text,label\n"a",b\n',
        b'[{"text": 1}]',
        b"PK\x03\x04",
        b"\x1f\x8b\x08",
        b"PAR1",
        b"\xff\xfe",
    ]
    for case in range(60):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(0, 40)):
            data.insert(rng.randint(0, len(data)), rng.randint(0, 255))
        path = write(tmp_path, f"f{case}{suffix}", bytes(data))
        try:
            table = load_table(path)
        except DataError as err:
            assert path.name in str(err) or path.stem in str(err)
        else:
            assert isinstance(table, pd.DataFrame) and len(table) > 0
