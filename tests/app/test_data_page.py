import pytest

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
        ("junk.json", b"\x00\x01\x02 not json", "could not be read as JSON"),
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
    from pathlib import Path

    stored = sorted(p for p in (data_root / "uploads").rglob("*.csv"))
    assert Path(first) in stored and Path(first).read_bytes() == content
