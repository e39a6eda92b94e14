"""Train and Results pages with a real (short) training job behind them."""

import json
from pathlib import Path

import pytest

from core import jobs, runs
from tests.app.conftest import button, go, texts


def test_start_is_blocked_with_the_reason_until_data_is_chosen(app):
    go(app, "pages/train.py")
    assert "Upload a data file" in texts(app.warning)
    assert button(app, "Start training").disabled


def test_presets_explain_what_they_set(app):
    go(app, "pages/train.py")
    radio = app.radio[0]
    assert list(radio.options) == ["Auto", "Quick", "Balanced", "Thorough"]
    assert radio.value == "Auto"  # the guided default
    radio.set_value("Balanced").run()
    config = app.session_state["config"]
    assert (config.training.learning_rate, config.lora.r) == (2e-3, 16)


def test_a_preset_is_fitted_to_the_data_and_shows_its_numbers(app, reviews_csv):
    app.session_state["config"] = app.session_state["config"].replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"}
    )
    app.session_state["preset"] = "Quick"
    go(app, "pages/train.py")
    config = app.session_state["config"]
    assert config.training.max_steps >= 150 and config.training.per_device_train_batch_size == 8
    assert f"about {config.training.max_steps} steps" in texts(app.caption)
    # the embedded default is a sentence-transformers model: the page says how it is read
    assert "reads the mean of its token vectors (how this base model" in texts(app.caption)


def test_auto_from_the_results_page_opens_with_its_budget(app, reviews_csv):
    app.session_state["config"] = app.session_state["config"].replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"}
    )
    app.session_state["preset"], app.session_state["auto_budget_minutes"] = "Auto", 7.0
    go(app, "pages/train.py")
    assert app.radio[0].value == "Auto"
    budget = [w for w in app.number_input if w.label.startswith("Time budget")][0]
    assert budget.value == 7.0
    assert not button(app, "Start training").disabled
    budget.set_value(0.1).run()
    assert "smallest that works" in texts(app.warning)
    assert button(app, "Start training").disabled


def test_an_adapter_to_start_from_that_cannot_fit_blocks_start_with_the_fix(
    app, reviews_csv, tmp_path
):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 16, "peft_type": "LORA"}))
    (adapter / "labels.json").write_text(json.dumps({"labels": ["sports", "world"]}))
    app.session_state["config"] = app.session_state["config"].replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"},
        lora={"init_from": str(adapter), "r": 16},
    )
    app.session_state["preset"] = "Quick"
    go(app, "pages/train.py")
    assert "learned 2 labels (sports, world)" in texts(app.warning)
    assert button(app, "Start training").disabled


def test_expert_mode_shows_every_training_setting(app):
    app.session_state["mode"] = "Expert"
    go(app, "pages/train.py")
    labels = {w.label for w in list(app.number_input) + list(app.text_input)}
    assert {
        "Learning rate",
        "Epochs",
        "Batch size",
        "Max length",
        "LoRA rank",
        "LoRA alpha",
        "LoRA dropout",
        "Target modules",
    } <= labels
    [w for w in app.number_input if w.label == "LoRA rank"][0].set_value(4).run()
    assert app.session_state["config"].lora.r == 4


def test_results_wait_for_a_finished_run(app):
    go(app, "pages/results.py")
    assert "Start a training run first" in texts(app.info)


@pytest.mark.slow
def test_train_then_results_try_it_and_download(app, reviews_csv):
    config = app.session_state["config"]
    app.session_state["config"] = config.replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"}
    )
    app.session_state["preset"] = "Quick"
    go(app, "pages/train.py")  # fits Quick to the data; then an expert shortens it
    app.session_state["config"] = app.session_state["config"].replace(
        training={"max_steps": 12, "learning_rate": 2e-3, "per_device_train_batch_size": 8},
    )
    app.run()
    button(app, "Start training").click().run()
    run_dir = Path(app.session_state["run_dir"])
    assert runs.read_config(run_dir).training.max_steps == 12
    status = jobs.wait_for(run_dir, timeout=240)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    app.run()
    assert "Training finished" in texts(app.success)
    assert any("python -m core.train --config" in c.value for c in app.code)
    assert "Precision: weights in float32" in texts(app.caption)  # read back from the model

    button(app, "Next: see the results").click().run()
    assert not app.exception
    assert [h.value for h in app.header] == ["How good is your model?"]
    go(app, "pages/results.py")  # AppTest's later runs go back to its own page otherwise
    labels = [m.label for m in app.metric]
    assert "Validation accuracy" in labels and "Macro-F1" in labels
    assert "Trained with weights in float32" in texts(app.caption)
    app.text_input[0].set_value("wonderful amazing perfect").run()
    assert not app.exception
    assert "Predicted label:" in texts(app.markdown)
    assert app.get("download_button")[0].label == "Download the adapter (.zip)"


def test_a_second_session_reattaches_to_the_running_job(app, data_root):
    from core.settings import RunConfig

    run_dir = runs.create_run(RunConfig(name="elsewhere"))
    import os

    runs.write_status(run_dir, state="running", pid=os.getpid(), step=3, total_steps=10)
    go(app, "pages/train.py")
    assert app.session_state["run_dir"] == str(run_dir)
    assert "One job runs at a time" in button(app, "Queue this run").help
    assert any("Running · step 3 of 10" in str(p.text) for p in app.get("progress"))


def test_a_preset_changes_the_expert_widgets_too(app):
    app.session_state["mode"] = "Expert"
    go(app, "pages/train.py")
    app.radio[0].set_value("Thorough").run()
    rank = [w for w in app.number_input if w.label == "LoRA rank"][0]
    assert rank.value == 32 and app.session_state["config"].lora.r == 32
    assert app.session_state["config"].training.learning_rate == 1e-3


def test_a_strategy_that_cannot_run_here_blocks_start(app, reviews_csv):
    app.session_state["config"] = app.session_state["config"].replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"},
        parallel={"processes_per_node": 2, "strategy": "deepspeed"},
    )
    go(app, "pages/train.py")
    assert button(app, "Start training").disabled
    assert "Parallel settings" in texts(app.warning)


def test_the_estimate_uses_the_chosen_data(app):
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "assets" / "sample_reviews.csv"
    app.session_state["config"] = app.session_state["config"].replace(
        data={"path": str(sample), "text_column": "text", "label_column": "label"}
    )
    go(app, "pages/train.py")
    summary = " ".join(i.value for i in app.info)
    assert "on this computer's CPU" in summary and "GB of" in summary and "kWh" in summary


def test_experts_can_narrow_autos_search_space(app):
    app.session_state["mode"] = "Expert"
    go(app, "pages/train.py")
    ranks = [w for w in app.multiselect if w.label == "LoRA ranks"][0]
    assert ranks.value == [8, 16, 32]
    methods = [w for w in app.multiselect if w.label == "Methods"][0]
    assert methods.value == ["lora"] and "Every weight (full fine-tuning)" in methods.options
    ranks.set_value([]).run()
    assert "search space is empty" in texts(app.warning)


def auto_parent(reviews_csv, budget_minutes: float):
    """(an Auto search's parent run on the reviews, its search.json as written at the start)."""
    from core.search import create_search, read_search
    from core.settings import RunConfig

    config = RunConfig().replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"},
        name="auto",
    )
    parent = runs.create_run(config)
    create_search(parent, budget_minutes=budget_minutes)
    return parent, read_search(parent)


def test_a_finished_auto_search_shows_its_trials_ranked_by_macro_f1_and_why_it_won(
    app, reviews_csv
):
    from core.search import write_search

    parent, search = auto_parent(reviews_csv, budget_minutes=5)
    params = {"learning_rate": 3e-3, "lora_r": 16, "batch_size": 16}
    search.update(
        started=1.0,
        metric="validation macro-F1",
        trials=[
            {"number": 0, "state": "complete", "value": 0.91, "params": params,
             "values": [[30, 0.8, 40], [60, 0.91, 80]], "duration_s": 60, "run_dir": "t0"},
            {"number": 1, "state": "pruned", "value": 0.4, "params": {**params, "lora_r": 8},
             "values": [[90, 0.4, 40]], "duration_s": 30, "run_dir": "t1"},
            {"number": 2, "state": "running", "params": params, "values": [[120, 0.75, 40]],
             "run_dir": "t2"},
            {"number": 3, "state": "running", "values": [], "run_dir": "t3",
             "params": {"method": "full", "learning_rate": 5e-5, "batch_size": 16}},
        ],
    )  # fmt: skip
    write_search(parent, search)
    runs.write_status(parent, state="completed", message="Auto tried 2 settings; trial 1 won.")
    app.session_state["run_dir"] = str(parent)
    go(app, "pages/train.py")
    assert "Auto tried 2 settings; trial 1 won." in texts(app.success)
    table = app.dataframe[0].value
    assert table["state"].tolist() == ["complete", "pruned", "running", "running"]
    assert table["score"].tolist() == ["0.910", "0.400", "0.750 so far", "—"]
    assert table["seconds"].tolist() == ["60", "30", "—", "—"]  # never "None" on the page
    assert table["trains"].tolist() == ["LoRA"] * 3 + ["every weight"]
    assert table["LoRA rank"].tolist() == ["16", "8", "16", "—"]
    chart = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert chart["layout"]["yaxis"]["title"]["text"] == "validation macro-F1"


def test_a_search_that_ran_past_its_budget_says_by_how_much_and_why(app, reviews_csv):
    import time

    from core.search import write_search

    parent, search = auto_parent(reviews_csv, budget_minutes=1.5)
    search.update(started=time.time() - 102, metric="validation macro-F1", trials=[])
    write_search(parent, search)
    runs.write_status(parent, state="completed", message="Auto tried 1 setting.")
    runs.write_status(parent, finished=search["started"] + 88)
    app.session_state["run_dir"] = str(parent)
    go(app, "pages/train.py")
    assert "past its" not in texts(app.caption)  # within its budget: nothing to explain
    runs.write_status(parent, finished=search["started"] + 102)
    go(app, "pages/train.py")
    assert "Auto ran 12 s past its 1.5-minute budget: it never stops a trial before 80 steps" in (
        texts(app.caption)
    )


def test_a_budget_short_of_autos_plan_says_so_and_offers_the_budget_it_needs(app, reviews_csv):
    import math

    from core.hardware import detect_hardware
    from core.search import minimum_budget_s, suggested_budget_s

    app.session_state["config"] = app.session_state["config"].replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"}
    )
    app.session_state["preset"] = "Auto"
    go(app, "pages/train.py")
    config = app.session_state["config"]  # resolved for Auto: the Balanced plan
    smallest = minimum_budget_s(config, detect_hardware()) / 60
    needed = suggested_budget_s(config, detect_hardware()) / 60
    assert needed > smallest
    budget = [w for w in app.number_input if w.label.startswith("Time budget")][0]
    budget.set_value(round((smallest + needed) / 2, 3)).run()  # one trial fits, the plan does not
    assert "the winner trains for fewer steps" in texts(app.info)
    assert not button(app, "Start training").disabled
    suggested = math.ceil(needed)
    button(app, f"Use {suggested:g} minute{'s' if suggested != 1 else ''}").click().run()
    budget = [w for w in app.number_input if w.label.startswith("Time budget")][0]
    assert budget.value == suggested
    assert "the winner trains for fewer steps" not in texts(app.info)
