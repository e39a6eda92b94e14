"""The Data page: loading, column mapping, the quality report, one-click fixes, versions, drift."""

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.data.lineage import read_version
from core.settings import RunConfig
from tests.app.conftest import button, go, texts


def test_sample_data_is_previewed_and_mapped(app):
    go(app, "pages/data.py")
    assert button(app, "Next: train").disabled
    button(app, "Use the sample data").click().run()
    assert not app.exception
    assert "2,483 rows" in texts(app.success)
    data = app.session_state["config"].data
    assert (data.text_column, data.label_column) == ("text", "label")
    assert not button(app, "Next: train").disabled


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", b"", "is empty"),
        ("numbers.csv", b"a,b\n1,2\n3,4\n", "No column looks like text"),
        (
            "one-class.csv",
            b"text,label\n" + b"".join(b"a fine sentence number %d,pos\n" % i for i in range(8)),
            "only 'pos'",
        ),
        ("junk.json", b"\x00\x01\x02 not json", "looks like a binary file"),
    ],
)
def test_bad_files_get_a_message_and_block_next(app, name, content, message):
    go(app, "pages/data.py")
    app.file_uploader[0].upload(name, content, "text/csv").run()
    assert not app.exception
    assert message in texts(app.error)
    assert button(app, "Next: train").disabled


def test_uploads_are_stored_once_by_content_and_never_lost(app, data_root):
    go(app, "pages/data.py")
    content = b"text,label\n" + b"".join(
        b"review %d is good,pos\nreview %d is bad,neg\n" % (i, i) for i in range(5)
    )
    app.file_uploader[0].upload("mine.csv", content, "text/csv").run()
    first = app.session_state["config"].data.path
    assert "20 rows" in texts(app.success) or "10 rows" in texts(app.success)
    app.file_uploader[0].upload("empty.csv", b"", "text/csv").run()
    assert "is empty" in texts(app.error)
    stored = sorted(p for p in (data_root / "uploads").rglob("*.csv"))
    assert Path(first) in stored and Path(first).read_bytes() == content


# The page on its own (no router), with a data file set in the config.
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "data.py")


@pytest.fixture(autouse=True)
def studio_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "studio"))


def open_page(path: Path | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if path is not None:
        at.session_state["config"] = RunConfig().replace(data={"path": str(path)})
    return at.run()


def dirty_csv(tmp_path) -> Path:
    rows = [
        (
            f"review number {i} says the product was {'good' if i % 2 else 'bad'} overall",
            "pos" if i % 2 else "neg",
        )
        for i in range(40)
    ]
    rows += [("", "pos"), (rows[0][0], "pos"), ("mail me at jane@example.com please", "pos")]
    path = tmp_path / "dirty.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
    return path


def test_empty_page_offers_the_sample():
    at = open_page()
    assert not at.exception
    assert any("No data yet" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Use the sample data").click().run()
    assert not at.exception
    assert at.session_state["config"].data.label_column
    assert any("Verdict" in m.value for m in [*at.success, *at.warning, *at.error])


def test_report_shows_findings_and_fingerprint(tmp_path):
    at = open_page(dirty_csv(tmp_path))
    assert not at.exception
    assert any("needs fixing" in e.value for e in at.error)
    titles = {e.label: e.proto.icon for e in at.expander}
    assert titles.get("Empty rows: 1") == ":material/warning:"
    assert titles.get("Conflicting labels: 2") == ":material/error:"
    assert titles.get("Possible personal data: 1") == ":material/warning:"
    fingerprint = at.session_state["config"].data.fingerprint
    assert len(fingerprint) == 16 and any(fingerprint in c.value for c in at.caption)


def test_a_fix_makes_a_new_version_and_keeps_the_original(tmp_path):
    source = dirty_csv(tmp_path)
    before = source.read_bytes()
    at = open_page(source)
    at.button(key="fix-empty").click().run()
    assert not at.exception
    config = at.session_state["config"]
    record = read_version(config.data.path)
    assert record.rows_before == 43 and record.rows_after == 42
    assert record.recipe == [{"step": "drop_empty", "params": {}}]
    assert config.data.fingerprint == record.fingerprint
    assert source.read_bytes() == before
    assert any("drop empty" in c.value for c in at.caption)
    empty = next(e for e in at.expander if e.label.startswith("Empty rows"))
    assert empty.label == "Empty rows: 0" and empty.proto.icon == ":material/check_circle:"


def test_broken_file_gives_a_message_not_a_traceback(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 10)
    at = open_page(path)
    assert not at.exception
    assert "binary file" in at.error[0].value


def test_drift_against_another_upload(tmp_path):
    at = open_page(dirty_csv(tmp_path))
    batch = pd.DataFrame({"text": ["a short note"] * 30, "label": ["neg"] * 30}).to_csv(index=False)
    at.file_uploader(key="drift-upload").upload("batch.csv", batch.encode(), "text/csv").run()
    assert not at.exception
    assert any(
        m.value.startswith("**Strong drift") or m.value.startswith("**Some drift")
        for m in at.markdown
    )
    assert any("KS statistic" in m.value and "Drift if p <" in m.value for m in at.markdown)


def test_upload_of_a_tsv_file_is_stored_and_read(tmp_path):
    at = open_page()
    content = "text\tlabel\n" + "".join(
        f"sentence number {i} here\t{'ab'[i % 2]}\n" for i in range(20)
    )
    at.file_uploader[0].upload("data.tsv", content.encode(), "text/tab-separated-values").run()
    assert not at.exception
    assert Path(at.session_state["config"].data.path).name == "data.tsv"
    assert any("20 rows, 2 columns" in s.value for s in at.success)


def test_a_local_path_or_an_offline_hub_id(app, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    big = tmp_path / "big.csv"
    big.write_text("text,label\n" + "".join(f"row {i} is fine,{'ab'[i % 2]}\n" for i in range(30)))
    go(app, "pages/data.py")
    path_box = next(t for t in app.text_input if t.label == "Path or Hub id")
    path_box.set_value("someone/some-dataset").run()
    button(app, "Use this data").click().run()
    assert "offline" in texts(app.error)
    path_box = next(t for t in app.text_input if t.label == "Path or Hub id")
    path_box.set_value(str(big)).run()
    button(app, "Use this data").click().run()
    assert app.session_state["config"].data.path == str(big.resolve())
    assert "30 rows" in texts(app.success)


def test_a_fix_survives_while_a_file_sits_in_the_uploader(tmp_path):
    """Regression: a file left in the uploader used to switch the data back after a fix."""
    at = open_page()
    at.file_uploader[0].upload("dirty.csv", dirty_csv(tmp_path).read_bytes(), "text/csv").run()
    at.button(key="fix-empty").click().run()
    fixed = at.session_state["config"].data.path
    assert read_version(fixed) is not None
    at.run()
    assert at.session_state["config"].data.path == fixed


def test_instruction_data_is_mapped_for_text_generation(tmp_path):
    import json as _json

    rows = [
        {"instruction": f"Name colour {i}", "input": "", "output": f"Colour {i} is blue."}
        for i in range(12)
    ]
    at = open_page()
    at.file_uploader[0].upload(
        "alpaca.jsonl", "\n".join(_json.dumps(r) for r in rows).encode(), "application/json"
    ).run()
    assert not at.exception
    assert at.radio(key="data-task").value == "causal_lm"
    config = at.session_state["config"]
    assert config.model.task == "causal_lm"
    assert (config.data.prompt_column, config.data.response_column) == ("instruction", "output")
    rendered = " ".join(m.value for m in at.markdown)
    assert "<mark>Colour 0 is blue.</mark>" in rendered and "Name colour 0" in rendered


def test_chat_data_maps_the_chat_column_and_the_encoder_default_is_refused(tmp_path):
    import json as _json

    from core.guide import model_ready

    chats = [
        {
            "messages": [
                {"role": "user", "content": f"hi {i}"},
                {"role": "assistant", "content": f"hello {i}"},
            ]
        }
        for i in range(6)
    ]
    at = open_page()
    at.file_uploader[0].upload(
        "chat.jsonl", "\n".join(_json.dumps(c) for c in chats).encode(), "application/json"
    ).run()
    config = at.session_state["config"]
    assert config.model.task == "causal_lm" and config.data.messages_column == "messages"
    assert "<mark>&lt;|assistant|&gt;\nhello 0" in " ".join(m.value for m in at.markdown)
    ready, reason = model_ready(config)
    assert not ready and "is an encoder" in reason


def test_overlap_is_checked_on_the_split_training_will_use():
    at = open_page()
    next(b for b in at.button if b.label == "Use the sample data").click().run()
    overlap = next(e for e in at.expander if e.label.startswith("Train / validation overlap"))
    assert overlap.label == "Train / validation overlap: 2"  # planted exact copies across the split
