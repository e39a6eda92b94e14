from tests.app.conftest import button, texts


def test_home_shows_what_the_app_does_and_the_hardware(app):
    assert "LoRA adapter" in texts(app.markdown)
    labels = [m.label for m in app.metric]
    assert {"CPU cores", "Memory (RAM)", "GPUs"} <= set(labels)


def test_mode_choice_is_kept_and_start_goes_to_the_model_step(app):
    app.radio[0].set_value("Expert").run()
    assert app.session_state["mode"] == "Expert"
    button(app, "Start").click().run()
    assert not app.exception
    assert any("Choose a model" in h.value for h in app.header)
