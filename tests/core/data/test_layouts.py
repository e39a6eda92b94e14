"""Real-world file layouts: header or not, labelled lines, trailing columns, quoted newlines, CRLF,
stray bytes, lines that do not parse, and bad input that must get a message (nothing lost)."""

import json

import pandas as pd
import pytest

from core.data.detect import check_labels, check_text, suggest_columns, suggest_mapping
from core.data.load import DataError, load_table

SENTENCES = [
    "the film is a quiet triumph of patient storytelling",
    "a thief steals a painting and hides it in the attic",
    "every scene drags on long after its point is made",
    "the town council votes to close the old harbour bridge",
    "i laughed more than i have in years at this one",
    "two sisters inherit a farm and must run it together",
]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def headerless_tsv(tmp_path):
    lines = [f"{s}\t{i % 2}" for i, s in enumerate(SENTENCES)]
    return write(tmp_path, "subj.tsv", "\n".join(lines))  # no final newline, as SUBJ


def test_headerless_tsv_keeps_the_first_row_and_names_the_columns(tmp_path):
    table = load_table(headerless_tsv(tmp_path))
    assert list(table.columns) == ["text", "label"]
    assert len(table) == len(SENTENCES) and table["text"].iloc[0] == SENTENCES[0]
    assert table.attrs["header"] == {"first_row_is_header": False, "guessed": True}
    assert any(
        n.startswith("No header row found") and "text, label" in n for n in table.attrs["notes"]
    )
    assert suggest_mapping(table)[("text")] == "text"


def test_the_header_correction_rereads_the_file_without_losing_a_row(tmp_path):
    path = headerless_tsv(tmp_path)
    as_header = load_table(path, header=True)
    assert list(as_header.columns) == [SENTENCES[0], "0"] and len(as_header) == len(SENTENCES) - 1
    assert as_header.attrs["header"] == {"first_row_is_header": True, "guessed": False}
    headed = write(
        tmp_path,
        "h.csv",
        "text,label\n" + "".join(f"{s},x{i % 2}\n" for i, s in enumerate(SENTENCES)),
    )
    as_data = load_table(headed, header=False)
    assert len(as_data) == len(SENTENCES) + 1 and as_data.iloc[0].tolist() == ["text", "label"]
    assert any("as you chose" in n for n in as_data.attrs["notes"])


@pytest.mark.parametrize(
    "content, header",
    [
        ("review_body,stars\nloved it,5\nhated it,1\nfine,3\n", True),  # a word above numbers
        ("comment,kind\n" + "".join(f"{s},{'ab'[i % 2]}\n" for i, s in enumerate(SENTENCES)), True),
        ("".join(f"{'ab'[i % 2]},{s}\n" for i, s in enumerate(SENTENCES)), False),  # 'a' recurs
        ("1,2\n3,4\n5,6\n", False),  # numbers under numbers
    ],
)
def test_header_guess(tmp_path, content, header):
    table = load_table(write(tmp_path, "g.csv", content))
    assert table.attrs["header"]["first_row_is_header"] is header


def test_headerless_quoted_csv_with_label_title_description(tmp_path):
    rows = [
        (str(1 + i % 4), f"Headline number {i} here", f"{s}, said the report on day {i}.")
        for i, s in enumerate(SENTENCES * 3)
    ]
    content = "".join('"' + '","'.join(r) + '"\n' for r in rows)
    table = load_table(write(tmp_path, "ag.csv", content))
    assert list(table.columns) == ["label", "title", "text"] and len(table) == len(rows)
    mapping = suggest_mapping(table)
    assert (mapping["task"], mapping["text"], mapping["text_pair"], mapping["label"]) == (
        "classification",
        "text",
        "title",
        "label",
    )


def test_headerless_columns_without_a_clear_role_are_numbered(tmp_path):
    content = "".join(f"{s},{s[::-1]},{s.upper()}\n" for s in SENTENCES)
    table = load_table(write(tmp_path, "n.csv", content))
    assert list(table.columns) == ["col1", "col2", "col3"] and len(table) == len(SENTENCES)


def test_fasttext_lines_and_a_line_that_does_not_parse(tmp_path):
    lines = [f"__label__{'pos' if i % 2 else 'neg'} {s}" for i, s in enumerate(SENTENCES)]
    lines.insert(3, "this line has no label at all")
    lines.append("__label__pos __label__funny a double labelled line")
    table = load_table(write(tmp_path, "ft.txt", "\n".join(lines) + "\n"))
    assert len(table) == len(SENTENCES) + 1
    assert table.loc[len(table) - 1, ["label", "labels"]].tolist() == ["pos", "pos,funny"]
    assert table.attrs["bad_lines"]["count"] == 1
    assert table.attrs["bad_lines"]["listed"][0]["lines"] == "4"
    assert any("could not be read: 1 (line 4)" in n for n in table.attrs["notes"])
    assert suggest_mapping(table)["label"] == "label"


def test_coarse_fine_lines_give_both_labels(tmp_path):
    content = "NUM:dist How far is it ?\nHUM:ind Who wrote it ?\nNUM:date When was it ?\n"
    table = load_table(write(tmp_path, "q.label", content))
    assert table.to_dict("list") == {
        "text": ["How far is it ?", "Who wrote it ?", "When was it ?"],
        "label": ["NUM", "HUM", "NUM"],
        "fine_label": ["NUM:dist", "HUM:ind", "NUM:date"],
    }
    assert "fine_label" in table.attrs["notes"][0]


def test_empty_trailing_columns_are_left_out_and_said(tmp_path):
    content = "text,label,,\n" + "".join(f"{s},p{i % 2},,\n" for i, s in enumerate(SENTENCES))
    table = load_table(write(tmp_path, "excel.csv", content))
    assert list(table.columns) == ["text", "label"] and len(table) == len(SENTENCES)
    assert any("empty column" in n for n in table.attrs["notes"])


def test_multiline_quoted_fields_and_crlf(tmp_path):
    # Layout of banking77_train.csv (CC BY 4.0, PolyAI): CRLF rows, a quoted text with bare LFs.
    content = 'text,category\r\n"\nI can\'t seem to\nfind it\n\n",card_arrival\r\nWhere is my card?,card_arrival\r\n'
    table = load_table(write(tmp_path, "b.csv", content))
    assert table["text"].tolist() == ["\nI can't seem to\nfind it\n\n", "Where is my card?"]
    assert table["category"].tolist() == ["card_arrival"] * 2


def test_one_invalid_byte_in_utf8_is_decoded_and_its_line_reported(tmp_path):
    data = "text,label\ncafé au lait,a\nthe tea,b\n".encode() + b"sister\xf0city,a\n"
    table = load_table(write(tmp_path, "mixed.csv", data))
    assert table["text"].tolist() == ["café au lait", "the tea", "sister\u00f0city"]
    assert any("latin-1" in n and "line 4" in n for n in table.attrs["notes"])


def test_rows_with_extra_or_missing_fields_are_counted_with_their_lines(tmp_path):
    lines = ["text,label"] + [f"{s},p{i % 2}" for i, s in enumerate(SENTENCES)]
    lines[2] += ",surprise"  # line 3: an extra field
    lines[4] = "only text here"  # line 5: a missing field
    table = load_table(write(tmp_path, "ragged.csv", "\n".join(lines)))
    assert len(table) == len(SENTENCES) - 1
    assert table.attrs["bad_lines"] == {
        "count": 1,
        "listed": [
            {
                "lines": "3",
                "problem": "3 fields where the others have 2",
                "content": f"{SENTENCES[1]}|p1|surprise",
            }
        ],
    }
    assert table.loc[table["text"] == "only text here", "label"].tolist() == [""]
    notes = " ".join(table.attrs["notes"])
    assert "could not be read: 1 (line 3)" in notes
    assert "fewer fields than the others: 1 (line 5)" in notes


def test_jsonl_keeps_the_good_lines_and_lists_the_bad_one(tmp_path):
    content = '{"text": "a b c", "label": "x"}\n{oops}\n{"text": "d e f", "label": "y"}\n'
    table = load_table(write(tmp_path, "part.jsonl", content))
    assert table["text"].tolist() == ["a b c", "d e f"]
    assert table.attrs["bad_lines"]["listed"][0]["lines"] == "2"


def test_instances_are_flattened_into_input_and_output(tmp_path):
    # Shape of self_instruct_seed_tasks.jsonl (Apache-2.0, yizhongw/self-instruct).
    rows = [
        {"id": "t1", "instruction": "Add.", "instances": [{"input": "2+2", "output": "4"}]},
        {
            "id": "t2",
            "instruction": "Greet.",
            "instances": [{"input": "", "output": "Hi"}, {"input": "", "output": "Hello"}],
        },
    ]
    table = load_table(write(tmp_path, "seed.jsonl", "\n".join(map(json.dumps, rows))))
    assert table[["id", "input", "output"]].values.tolist() == [
        ["t1", "2+2", "4"],
        ["t2", "", "Hi"],
        ["t2", "", "Hello"],
    ]
    assert "1 extra rows" in table.attrs["notes"][-1]
    assert suggest_mapping(table)["task"] == "instruction"


# --- Bad input: a message that says what is wrong, and nothing lost ---------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("none.jsonl", "{a}\n{b}\n", "none of its 2 lines is valid JSON"),
        ("none.label", "just prose\nmore prose\n", "neither `COARSE:fine text`"),
        ("wide.csv", "text,label\na,b,c\nd,e,f,g\n", "extra separators"),
    ],
)
def test_a_file_whose_every_line_fails(tmp_path, name, content, message):
    with pytest.raises(DataError, match=message) as info:
        load_table(write(tmp_path, name, content))
    assert name in str(info.value)


def test_a_label_with_a_different_value_on_every_row_is_an_id():
    table = pd.DataFrame(
        {
            "text": [f"example sentence {i}" for i in range(2000)],
            "label": [f"id-{i}" for i in range(2000)],
        }
    )
    with pytest.raises(DataError, match="2,000 different values in 2,000 rows.*ID"):
        check_labels(table, "label")
    check_labels(table.assign(label=[f"c{i % 77}" for i in range(2000)]), "label")


def test_a_text_column_of_numbers():
    table = pd.DataFrame({"text": [str(10**15 + i) for i in range(50)], "label": ["a", "b"] * 25})
    with pytest.raises(DataError, match="'text' holds only numbers"):
        suggest_columns(table)
    with pytest.raises(DataError, match="only numbers"):
        check_text(table, "text")
    check_text(table.assign(text="a few words"), "text")


@pytest.mark.parametrize(
    "content",
    [
        "text,label,,\r\n"
        + "".join(f'"{s}\nmore",p{i % 2},,\r\n' for i, s in enumerate(SENTENCES)),
        "".join(f"{s}\t{i % 2}\n" for i, s in enumerate(SENTENCES)) + "\n\t\n",
        'a,b\n"x ""quoted"" y",1\n  spaced  ,2\n',
    ],
)
def test_the_fast_reader_gives_what_the_exact_reader_gives(tmp_path, monkeypatch, content):
    import core.data.delimited as delimited

    path = write(tmp_path, "same.tsv" if "\t" in content else "same.csv", content)
    results = []
    real = delimited.fast_read
    monkeypatch.setattr(delimited, "fast_read", lambda *a: results.append(real(*a)) or results[-1])
    fast = load_table(path)
    assert results[0] is not None  # the fast reader did read it
    monkeypatch.setattr(delimited, "fast_read", lambda *args: None)
    exact = load_table(path)
    pd.testing.assert_frame_equal(fast, exact)
    assert fast.attrs["notes"] == exact.attrs["notes"]


def test_a_tsv_without_quoting_keeps_a_stray_quote_on_its_line(tmp_path):
    lines = [f"{s}\t{i % 2}" for i, s in enumerate(SENTENCES)]
    lines[1] = '" the best film ever , he said\t1'  # SentEval text: a quote mark, never closed
    table = load_table(write(tmp_path, "stray.tsv", "\n".join(lines)))
    assert len(table) == len(SENTENCES) and table["text"].iloc[1] == lines[1].split("\t")[0]
    assert table.attrs["bad_lines"]["count"] == 0


def test_a_row_of_empty_cells_is_kept_for_the_quality_report_and_blank_lines_are_not_rows(
    tmp_path,
):
    content = "text,label\nfirst sentence here,a\n\n,\nsecond sentence here,b\n   \n"
    table = load_table(write(tmp_path, "gaps.csv", content))
    assert table.values.tolist() == [
        ["first sentence here", "a"],
        ["", ""],
        ["second sentence here", "b"],
    ]
