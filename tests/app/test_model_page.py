"""The Model page: sources, the catalog with filters, hardware, the estimate and recommendations."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.settings import EMBEDDED_MODEL, RunConfig

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "model.py")


@pytest.fixture(autouse=True)
def _offline_and_private(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


def open_page(config: RunConfig | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if config is not None:
        at.session_state["config"] = config
    return at.run()


def texts(at: AppTest) -> str:
    parts = [*at.success, *at.warning, *at.error, *at.info, *at.markdown, *at.caption]
    return " ".join(str(p.value) for p in parts)


def radio(at: AppTest, label: str):
    return next(r for r in at.radio if r.label == label)


def test_embedded_default_is_ready_and_estimated_on_this_computer():
    at = open_page()
    assert not at.exception
    assert radio(at, "Where is the model?").value.startswith("Embedded default")
    assert at.session_state["config"].model.name_or_path == EMBEDDED_MODEL
    words = texts(at)
    assert "Ready:" in words and "this computer's CPU" in words and "GB of" in words
    assert not at.button(key="next-Model").disabled


def test_catalog_filters_and_choice_update_the_config():
    at = open_page()
    radio(at, "Where is the model?").set_value("From the catalog").run()
    task = next(s for s in at.selectbox if s.label == "Task")
    task.set_value("causal_lm").run()
    size = next(s for s in at.selectbox if s.label == "Size")
    size.set_value("small (200M – 1B)").run()
    model = at.selectbox(key="catalog-model")
    assert set(model.options) >= {"Qwen2.5 0.5B · 494M · apache-2.0"}
    assert all(option.split(" · ")[1].endswith("M") for option in model.options)  # 200M – 1B
    model.set_value("Qwen/Qwen2.5-0.5B").run()
    assert not at.exception
    config = at.session_state["config"]
    assert (config.model.name_or_path, config.model.task) == ("Qwen/Qwen2.5-0.5B", "causal_lm")
    assert "GB of" in texts(at)  # estimated even though the files are not here (offline)


def test_planned_gpus_show_their_estimate_and_the_strategy_chart():
    config = RunConfig().replace(
        model={"name_or_path": "Qwen/Qwen2.5-7B", "task": "causal_lm"},
        training={"max_length": 1024},
    )
    at = open_page(config)
    radio(at, "Hardware").set_value("Plan for GPUs I don't have here").run()
    next(s for s in at.selectbox if s.label == "GPU").set_value("L4").run()
    next(n for n in at.number_input if n.label == "GPUs per node").set_value(2).run()
    assert not at.exception
    assert "2 × L4" in texts(at)
    assert len(at.get("plotly_chart")) == 2  # breakdown and what-if


def test_a_run_that_does_not_fit_offers_a_fix_that_applies():
    config = RunConfig().replace(
        model={"name_or_path": "meta-llama/Llama-3.1-8B", "task": "causal_lm"},
        training={"max_length": 2048, "per_device_train_batch_size": 8},
    )
    at = open_page(config)
    radio(at, "Hardware").set_value("Plan for GPUs I don't have here").run()
    assert at.error and "won't fit" in at.error[0].value
    apply = next(b for b in at.button if b.label.startswith("Apply:"))
    apply.click().run()
    assert at.session_state["config"].training.gradient_checkpointing


def test_hub_id_offline_says_so_without_a_traceback():
    at = open_page()
    radio(at, "Where is the model?").set_value("Hugging Face Hub id").run()
    at.text_input[0].set_value("someone/unknown-model").run()
    assert not at.exception
    assert at.error and "cannot be reached" in at.error[0].value
    assert at.button(key="next-Model").disabled


def test_local_folder_is_estimated_from_its_config(tiny_bert):
    at = open_page(RunConfig().replace(model={"name_or_path": str(tiny_bert)}))
    assert not at.exception
    assert radio(at, "Where is the model?").value == "A folder on this computer"
    assert "Ready:" in texts(at) and "GB of" in texts(at)


def test_recommend_for_me_lists_models_and_uses_one():
    at = open_page()
    next(b for b in at.button if b.label == "Recommend").click().run()
    assert not at.exception
    use = [b for b in at.button if b.label.startswith("Use ")]
    assert use and "budget" in texts(at)
    use[-1].click().run()
    assert at.session_state["config"].model.task == "classification"


def test_folder_without_a_model_is_explained_and_the_choice_is_kept(tmp_path):
    at = open_page()
    radio(at, "Where is the model?").set_value("A folder on this computer").run()
    assert radio(at, "Where is the model?").value == "A folder on this computer"
    at.text_input(key="model_folder").set_value(str(tmp_path)).run()
    assert not at.exception
    assert radio(at, "Where is the model?").value == "A folder on this computer"
    assert at.text_input(key="model_folder").value == str(tmp_path)
    assert "holds no model" in " ".join(e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Next: your data").disabled


def test_choice_survives_moving_between_pages(data_root, tiny_bert):
    from tests.app.conftest import ROOT, go

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    go(at, "pages/model.py")
    radio(at, "Where is the model?").set_value("A folder on this computer").run()
    at.text_input(key="model_folder").set_value(str(tiny_bert)).run()
    go(at, "pages/data.py")
    go(at, "pages/model.py")
    assert at.text_input(key="model_folder").value == str(tiny_bert)
    assert at.session_state["config"].model.name_or_path == str(tiny_bert)
