from core.settings import EMBEDDED_MODEL
from tests.app.conftest import button, go, texts


def test_embedded_default_is_preselected_and_ready(app):
    go(app, "pages/model.py")
    assert app.session_state["config"].model.name_or_path == EMBEDDED_MODEL
    assert "Ready: all-MiniLM-L6-v2" in texts(app.success)
    assert not button(app, "Next: your data").disabled


def test_folder_without_a_model_is_explained_and_blocks_next(app, tmp_path):
    go(app, "pages/model.py")
    app.radio[0].set_value("A folder on this computer").run()
    app.text_input[0].set_value(str(tmp_path)).run()
    assert not app.exception
    assert "holds no model" in texts(app.error)
    assert button(app, "Next: your data").disabled


def test_hub_id_offline_says_so(app, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    go(app, "pages/model.py")
    app.radio[0].set_value("Hugging Face Hub id").run()
    app.text_input[0].set_value("meta-llama/Llama-3.2-1B").run()
    assert "cannot be reached" in texts(app.error)


def test_choice_survives_moving_between_pages(app, tiny_bert):
    go(app, "pages/model.py")
    app.radio[0].set_value("A folder on this computer").run()
    app.text_input[0].set_value(str(tiny_bert)).run()
    go(app, "pages/data.py")
    go(app, "pages/model.py")
    assert app.text_input[0].value == str(tiny_bert)
    assert "Ready: local bert model" in texts(app.success)
