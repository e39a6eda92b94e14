"""The Data page's path box and the Model page's folder box read only inside the allowed roots,
with one message for a refused path whether it exists or not."""

from __future__ import annotations

from tests.app.conftest import button, go, texts


def _use_path(app, value):
    box = next(t for t in app.text_input if t.label == "Path or Hub id")
    box.set_value(value).run()
    button(app, "Use this data").click().run()
    assert not app.exception
    return texts(app.error)


def test_the_data_path_box_refuses_files_outside_the_roots_alike(app, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_ALLOWED_ROOTS", str(tmp_path / "allowed"))
    go(app, "pages/data.py")
    before = app.session_state["config"].data.path
    existing = _use_path(app, "/etc/passwd").replace("/etc/passwd", "PATH")
    missing = _use_path(app, "/etc/no-such-file").replace("/etc/no-such-file", "PATH")
    assert existing == missing and "not a file or folder this app can read" in existing
    assert app.session_state["config"].data.path == before
    assert "root:" not in texts(app.markdown) + texts(app.dataframe)


def test_the_model_folder_box_refuses_folders_outside_the_roots(app, monkeypatch, tiny_bert):
    monkeypatch.setenv("STUDIO_ALLOWED_ROOTS", "/nowhere")
    go(app, "pages/model.py")
    radio = next(r for r in app.radio if r.label == "Where is the model?")
    radio.set_value("A folder on this computer").run()
    app.text_input(key="model_folder").set_value(str(tiny_bert)).run()
    assert not app.exception
    assert "not a file or folder this app can read" in texts(app.error)
