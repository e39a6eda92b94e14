"""The Data page shows how a file was read: the header guess with its one-click correction (which
re-reads the file, nothing lost), the lines that could not be read, and messages for bad columns."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.settings import RunConfig

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "data.py")
SENTENCES = [
    f"sentence number {i} tells a {'plain fact' if i % 2 else 'personal opinion'} at length"
    for i in range(30)
]


@pytest.fixture(autouse=True)
def studio_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "studio"))


def open_page(path: Path) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["config"] = RunConfig().replace(data={"path": str(path)})
    return at.run()


def captions(at: AppTest) -> str:
    return " | ".join(c.value for c in at.caption)


def click(at: AppTest, label: str) -> AppTest:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}: {[b.label for b in at.button]}"
    return matches[0].click().run()


def test_header_guess_and_its_correction_keep_every_row(tmp_path):
    source = tmp_path / "subj.tsv"
    source.write_text("\n".join(f"{s}\t{i % 2}" for i, s in enumerate(SENTENCES)))
    before = source.read_bytes()
    at = open_page(source)
    assert not at.exception
    assert "No header row found" in captions(at) and "30 rows, 2 columns" in at.success[0].value
    data = at.session_state["config"].data
    assert (data.text_column, data.label_column) == ("text", "label")

    click(at, "The first row is a header")
    assert not at.exception
    data = at.session_state["config"].data
    assert Path(data.path) != source and "29 rows" in at.success[0].value
    assert "as you chose" in captions(at) and source.read_bytes() == before

    click(at, "Back to the automatic reading")
    assert not at.exception
    assert at.session_state["config"].data.path == str(source)
    assert "30 rows" in at.success[0].value


def test_a_headed_file_offers_the_other_way(tmp_path):
    source = tmp_path / "headed.csv"
    source.write_text("text,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(SENTENCES)))
    at = open_page(source)
    assert "The first row is the header" in captions(at)
    click(at, "The first row is data")
    assert not at.exception and "31 rows" in at.success[0].value


def test_lines_that_cannot_be_read_are_listed(tmp_path):
    lines = [f"__label__{'ab'[i % 2]} {s}" for i, s in enumerate(SENTENCES)]
    lines[4] = "no label on this line"
    source = tmp_path / "ft.txt"
    source.write_text("\n".join(lines))
    at = open_page(source)
    assert not at.exception
    expander = next(e for e in at.expander if e.label == "Lines that could not be read: 1")
    listed = expander.dataframe[0].value
    assert listed.to_dict("records")[0]["lines"] == "5"
    assert "29 rows" in at.success[0].value


def test_an_id_column_as_label_gets_a_message_and_blocks_training(tmp_path):
    source = tmp_path / "ids.csv"
    source.write_text("text,label\n" + "".join(f"{s},row-{i}\n" for i, s in enumerate(SENTENCES)))
    at = open_page(source)
    assert not at.exception
    assert any("looks like an ID" in e.value for e in at.error)
    assert at.session_state["config"].data.label_column == ""


def test_a_headerless_label_title_text_file_suggests_the_title_as_second_text(tmp_path):
    source = tmp_path / "news.csv"
    source.write_text(
        "".join(f'"{1 + i % 4}","Title {i} here","{s}"\n' for i, s in enumerate(SENTENCES))
    )
    at = open_page(source)
    assert not at.exception
    data = at.session_state["config"].data
    assert (data.text_column, data.text_pair_column, data.label_column) == (
        "text",
        "title",
        "label",
    )
    second = next(s for s in at.selectbox if s.label.startswith("Second text"))
    second.set_value("").run()
    assert at.session_state["config"].data.text_pair_column == ""  # "(none)" stays chosen
    at.run()
    assert at.session_state["config"].data.text_pair_column == ""


def test_self_instruct_instances_show_their_input_as_training_reads_it(tmp_path):
    # Shape of self_instruct_seed_tasks.jsonl (Apache-2.0, yizhongw/self-instruct).
    import json

    rows = [
        {
            "id": f"t{i}",
            "instruction": "Add the numbers.",
            "instances": [{"input": f"{i} + {i}", "output": str(2 * i)}],
        }
        for i in range(12)
    ]
    source = tmp_path / "seed.jsonl"
    source.write_text("\n".join(map(json.dumps, rows)))
    at = open_page(source)
    assert not at.exception
    assert at.session_state["config"].model.task == "causal_lm"
    shown = " ".join(m.value for m in at.markdown)
    assert "### Input:\n0 + 0" in shown and "<mark>0</mark>" in shown
