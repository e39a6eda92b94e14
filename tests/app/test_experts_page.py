"""The experts' page: edits the shared config, shows checks and the generated files, saves and opens."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.settings import RunConfig

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "experts.py")


def open_page(config: RunConfig | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if config is not None:
        at.session_state["config"] = config
    return at.run()


def widget(at: AppTest, kind: str, key: str):
    return getattr(at, kind)(key=key)


@pytest.fixture(scope="module")
def page() -> AppTest:
    return open_page()


def test_page_renders_with_the_default_config(page):
    assert not page.exception
    assert page.session_state["config"] == RunConfig()
    assert page.metric[0].value == "16"
    targets = widget(page, "multiselect", "expert.lora.target_modules")
    assert {"query", "key", "value", "dense", "all-linear"} <= set(targets.options)
    assert "GB per device of" in " ".join(c.value for c in page.caption)
    assert len(page.get("plotly_chart")) == 2  # breakdown and what-if per strategy


def test_fsdp_on_cpu_says_ddp_runs_and_writes_back_to_the_config():
    config = RunConfig().replace(parallel={"processes_per_node": 2})
    at = open_page(config)
    widget(at, "selectbox", "expert.parallel.strategy").select("fsdp").run()
    assert not at.exception
    assert at.session_state["config"].parallel.strategy == "fsdp"
    assert any("silently train as plain DDP" in w.value for w in at.warning)
    assert any("runs as **ddp**" in i.value for i in at.info)
    assert at.metric[0].value == "32"  # 16 per device × 2 processes


def test_parameter_offload_below_stage_3_is_an_error_and_exports_deepspeed_json():
    config = RunConfig().replace(
        parallel={
            "strategy": "deepspeed",
            "zero_stage": 2,
            "offload_params": "cpu",
            "processes_per_node": 2,
        }
    )
    at = open_page(config)
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "parallel.offload_params" in errors and "stage 2" in errors
    assert any('"train_batch_size": 32' in c.value for c in at.code)
    assert any(c.value.startswith("deepspeed --num_nodes 1 --num_gpus 2") for c in at.code)


def test_training_knob_changes_the_shared_config_and_global_batch():
    at = open_page()
    widget(at, "number_input", "expert.training.gradient_accumulation_steps").set_value(4).run()
    assert at.session_state["config"].training.gradient_accumulation_steps == 4
    assert at.metric[0].value == "64"
    widget(at, "number_input", "expert.target_global_batch").set_value(48).run()
    assert any("batch size 16 and gradient accumulation 3" in e.value for e in at.error)


def test_target_modules_pick_from_the_models_layers():
    at = open_page()
    widget(at, "multiselect", "expert.lora.target_modules").set_value(
        ["query", "value", "dense"]
    ).run()
    assert at.session_state["config"].lora.target_modules == ["query", "value", "dense"]


def test_classifier_head_settings_are_offered_for_classifiers_only():
    at = open_page()
    widget(at, "selectbox", "expert.model.pooling").select("cls").run()
    widget(at, "selectbox", "expert.model.head_start").select("random").run()
    widget(at, "number_input", "expert.training.head_lr_scale").set_value(0.25).run()
    assert not at.exception
    model = at.session_state["config"].model
    assert (model.pooling, model.head_start) == ("cls", "random")
    assert at.session_state["config"].training.head_lr_scale == 0.25
    text = open_page(RunConfig().replace(model={"task": "causal_lm", "name_or_path": "gpt2"}))
    assert "Classifier head" not in [s.value for s in text.subheader]


def test_opened_config_replaces_every_setting(tmp_path):
    wanted = RunConfig().replace(
        parallel={
            "strategy": "deepspeed",
            "zero_stage": 3,
            "offload_params": "cpu",
            "nodes": 2,
            "processes_per_node": 4,
            "master_addr": "10.0.0.5",
        },
        training={"learning_rate": 2e-4, "optim": "adamw_torch_fused", "seed": 7},
        lora={"target_modules": ["query", "value"], "r": 4},
    )
    text = wanted.save(tmp_path / "expert.yaml").read_text().encode()
    at = open_page()
    at.file_uploader(key="expert.open").set_value(("expert.yaml", text, "application/x-yaml")).run()
    assert not at.exception
    assert at.session_state["config"] == wanted
    assert widget(at, "selectbox", "expert.parallel.strategy").value == "deepspeed"
    assert widget(at, "number_input", "expert.training.seed").value == 7


@pytest.mark.parametrize(
    "bad, lines",
    [
        (b"parallel:\n  strategy: ddp\n  gpus: 3\n", ["parallel.gpus: unknown setting"]),
        (
            b"lora:\n  r: 8.5\n  target_modules: q_proj\ntraining:\n  group_by_length: 'no'\n",
            ["lora.r: got 8.5", "lora.target_modules: got 'q_proj'", "training.group_by_length"],
        ),
        (b"training: 5\n", ["training: got 5"]),
        (b"", ["the file is empty"]),
        (b"training: [unclosed", ["not valid YAML"]),
    ],
)
def test_a_bad_config_file_shows_each_problem_next_to_the_upload(bad, lines):
    at = open_page()
    at.file_uploader(key="expert.open").set_value(("bad.yaml", bad, "application/x-yaml")).run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "bad.yaml" in shown and "nothing was changed" in shown
    assert all(line in shown for line in lines), shown
    assert at.session_state["config"] == RunConfig()


def test_run_here_waits_for_data_and_says_why():
    at = open_page(RunConfig().replace(parallel={"processes_per_node": 2, "strategy": "ddp"}))
    run = at.button(key="expert.run")
    assert run.disabled
    assert "upload a data file" in " ".join(c.value for c in at.caption).lower()


def test_run_here_launches_ddp_through_torchrun(data_root, reviews_csv):
    from core import jobs, runs

    config = RunConfig().replace(
        data={"path": str(reviews_csv)},
        parallel={"processes_per_node": 2, "strategy": "ddp"},
        training={"max_steps": 2},
    )
    at = open_page(config)
    at.button(key="expert.run").click().run()
    run_dir = Path(at.session_state["run_dir"])
    try:
        command = runs.read_status(run_dir)["command"]
        assert "torch.distributed.run" in command
        assert command[command.index("--nproc_per_node") + 1] == "2"
        assert runs.read_config(run_dir).parallel.strategy == "ddp"
    finally:
        jobs.stop_job(run_dir)
        jobs.wait_for(run_dir, timeout=120)


def test_tensorboard_is_offered_and_a_missing_package_is_said(monkeypatch):
    from core import tracking

    monkeypatch.setattr(tracking, "tensorboard_available", lambda: False)
    at = open_page()
    widget(at, "toggle", "expert.tracking.tensorboard").set_value(True).run()
    assert not at.exception
    assert at.session_state["config"].tracking.tensorboard is True
    assert any("tensorboard package is not installed" in w.value for w in at.warning)


def test_an_adapter_to_start_from_is_taken_from_allowed_folders_only(data_root):
    adapter = data_root / "runs" / "20261127-earlier" / "adapter"
    adapter.mkdir(parents=True)
    at = open_page()
    widget(at, "text_input", "expert.lora.init_from").input("/etc").run()
    assert "not a file or folder this app can read" in " ".join(e.value for e in at.error)
    assert at.session_state["config"].lora.init_from == ""
    widget(at, "text_input", "expert.lora.init_from").input(str(adapter)).run()
    assert at.session_state["config"].lora.init_from == str(adapter.resolve())
    # Kept, and checked before Start: an empty folder holds no adapter, so the run waits.
    assert "holds no adapter" in " ".join(e.value for e in at.error)
    assert widget(at, "button", "expert.run").disabled
    rank = at.session_state["config"].lora.r
    (adapter / "adapter_config.json").write_text(json.dumps({"r": rank, "peft_type": "LORA"}))
    at.run()
    assert not at.exception and not at.error


def test_an_adapter_of_another_rank_is_refused_before_start(data_root):
    adapter = data_root / "runs" / "20261127-earlier" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 64, "peft_type": "LORA"}))
    at = open_page()
    widget(at, "text_input", "expert.lora.init_from").input(str(adapter)).run()
    assert "trained with rank 64" in " ".join(e.value for e in at.error)
    assert "set lora.r to 64" in " ".join(e.value for e in at.error)
    assert widget(at, "button", "expert.run").disabled
