"""The training process end to end on the embedded MiniLM: metrics, status, adapter, stop, crash, CLI.

A tiny randomly initialised BERT learns nothing in a few steps, so these runs use the real
pretrained default (22.7 M parameters, ~0.1 s a step here) on short synthetic reviews.
"""

from __future__ import annotations

import json
import math
import time

import pytest

from core import jobs, runs
from core.evaluate import load_classifier, predict
from core.export import adapter_zip
from core.settings import RunConfig
from core.train.__main__ import main as train_main


def tiny_config(data, **training) -> RunConfig:
    settings = {
        "num_train_epochs": 2.0,
        "learning_rate": 2e-3,
        "per_device_train_batch_size": 8,
        "max_length": 32,
        **training,
    }
    return RunConfig().replace(
        data={"path": str(data)},
        training=settings,
        lora={"r": 4, "alpha": 8},
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tests.conftest import write_reviews

    root = tmp_path_factory.mktemp("runs")
    data = write_reviews(root / "reviews.csv", rows=240)
    run_dir = jobs.start_job(tiny_config(data), root=root)
    status = jobs.wait_for(run_dir, timeout=240)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    return run_dir


def test_run_writes_metrics_status_and_adapter(finished_run):
    metrics = runs.read_metrics(finished_run)
    losses = [m["loss"] for m in metrics if "loss" in m]
    # The head starts from a probe of the frozen features, which already reads the sentiment
    # word: the first loss is far below a random head's ln 2 = 0.69. (The loss-scaling trap of
    # transformers 5 is checked against ln 2 with a random head in test_distributed.py.)
    assert losses[0] < 0.5 * math.log(2), losses[:3]
    assert losses[-1] < losses[0]
    assert any("eval_loss" in m for m in metrics)
    assert all(m["tokens_per_s"] > 0 for m in metrics if "tokens_per_s" in m)
    status = runs.read_status(finished_run)
    assert status["step"] == status["total_steps"] > 0
    assert (finished_run / runs.ADAPTER_DIR / "adapter_model.safetensors").exists()
    # The run tried to teach the estimator this machine's speed (core.timing.learn_from_run).
    assert "speed calibration: " in (finished_run / runs.LOG_FILE).read_text()


def test_each_evaluation_logs_precision_recall_and_f1_per_class(finished_run):
    from core.plots.training import loss_figure, signals_figure

    metrics = runs.read_metrics(finished_run)
    evals = [m for m in metrics if "eval_loss" in m]
    assert len(evals) >= 2
    for record in evals:
        per_class = record["eval_per_class"]
        assert set(per_class) == {"negative", "positive"}
        assert sum(scores["support"] for scores in per_class.values()) == 48
        assert all(0 <= scores["recall"] <= 1 for scores in per_class.values())
        f1s = [scores["f1"] for scores in per_class.values()]
        assert record["eval_macro_f1"] == pytest.approx(sum(f1s) / len(f1s), abs=1e-3)
    # The nested record leaves the live charts' readers working.
    assert len(loss_figure(metrics).data) >= 2 and signals_figure(metrics).data


def test_final_evaluation_beats_chance(finished_run):
    evaluation = runs.read_eval(finished_run)
    assert evaluation["labels"] == ["negative", "positive"]
    assert sum(map(sum, evaluation["confusion"])) == evaluation["n_validation"] == 48
    assert evaluation["accuracy"] > evaluation["chance_accuracy"] + 0.2


def test_trained_adapter_predicts_from_its_run_directory(finished_run):
    classifier = load_classifier(finished_run)
    results = predict(classifier, ["wonderful excellent amazing", "terrible awful broken"])
    assert [r["label"] for r in results] == ["positive", "negative"]
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-5 for r in results)


def test_adapter_zip_holds_adapter_config_and_card(finished_run):
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(adapter_zip(finished_run)))
    names = set(archive.namelist())
    assert {
        "adapter/adapter_model.safetensors",
        "adapter/labels.json",
        "config.yaml",
        "README.md",
        "eval.json",
    } <= names
    assert "adapter/training_args.bin" not in names  # a pickle: never shipped
    card = archive.read("README.md").decode()
    assert "Validation accuracy" in card and "rank 4" in card


def test_command_line_replays_the_same_result(finished_run, tmp_path):
    """The config the UI wrote, run headless, trains to the same numbers (same seed)."""
    replay = tmp_path / "replay"
    replay.mkdir()
    (replay / runs.CONFIG_FILE).write_text((finished_run / runs.CONFIG_FILE).read_text())
    assert train_main(["--config", str(replay / runs.CONFIG_FILE)]) == 0
    first, second = runs.read_eval(finished_run), runs.read_eval(replay)
    assert second["confusion"] == first["confusion"]
    assert second["eval_loss"] == pytest.approx(first["eval_loss"], rel=1e-4)


def test_stop_saves_the_adapter_as_of_the_current_step(reviews_csv, tmp_path):
    run_dir = jobs.start_job(tiny_config(reviews_csv, num_train_epochs=200.0), root=tmp_path)
    deadline = time.time() + 120
    while runs.read_status(run_dir).get("step", 0) < 3:
        assert time.time() < deadline, runs.tail_log(run_dir)
        assert jobs.refresh_status(run_dir)["state"] != "failed", runs.tail_log(run_dir)
        time.sleep(0.3)
    assert jobs.stop_job(run_dir)
    status = jobs.wait_for(run_dir, timeout=120)
    assert status["state"] == "stopped"
    assert "adapter was saved as of step" in status["message"]
    assert status["step"] < status["total_steps"]
    assert (run_dir / runs.ADAPTER_DIR / "adapter_model.safetensors").exists()
    saved = list((run_dir / runs.CHECKPOINT_DIR).glob("checkpoint-*"))
    assert saved, "a stopped run keeps a checkpoint to resume from"
    assert not jobs.stop_job(run_dir)  # nothing left to stop


def test_bad_data_fails_with_a_plain_reason(tmp_path):
    data = tmp_path / "one-label.csv"
    data.write_text("text,label\n" + "".join(f"row number {i},same\n" for i in range(20)))
    run_dir = jobs.start_job(tiny_config(data), root=tmp_path)
    status = jobs.wait_for(run_dir, timeout=120)
    assert status["state"] == "failed"
    assert "only 'same'" in status["message"] and "at least two" in status["message"]
    assert "Traceback" not in status["message"]


def test_diverging_loss_stops_the_run_with_advice(reviews_csv, tmp_path):
    config = tiny_config(reviews_csv, learning_rate=1e12, max_grad_norm=0.0)
    run_dir = jobs.start_job(config, root=tmp_path)
    status = jobs.wait_for(run_dir, timeout=120)
    assert status["state"] == "failed", runs.tail_log(run_dir)
    assert "Lower the learning rate" in status["message"]


def test_a_killed_process_is_reported_as_failed(tmp_path):
    run_dir = runs.create_run(RunConfig(), root=tmp_path)
    runs.write_status(run_dir, state="running", pid=2**22 + 12345)  # no such process
    status = jobs.refresh_status(run_dir)
    assert status["state"] == "failed" and "ended without finishing" in status["message"]
    assert jobs.active_run(tmp_path) is None


def test_status_file_is_always_valid_json_while_training(finished_run):
    json.loads((finished_run / runs.STATUS_FILE).read_text())


@pytest.mark.slow
def test_early_stopping_keeps_the_checkpoint_with_the_best_macro_f1(reviews_csv, tmp_path):
    config = tiny_config(reviews_csv, early_stopping_patience=10, eval_steps=4)
    run_dir = jobs.start_job(config, root=tmp_path)
    status = jobs.wait_for(run_dir, timeout=240)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    evals = [m for m in runs.read_metrics(run_dir) if "eval_macro_f1" in m]
    scores = [m["eval_macro_f1"] for m in evals]
    best = evals[scores.index(max(scores))]  # the first of equal scores: a tie is no improvement
    newest = max(
        (run_dir / runs.CHECKPOINT_DIR).glob("checkpoint-*"), key=lambda p: p.stat().st_mtime
    )
    state = json.loads((newest / "trainer_state.json").read_text())
    assert state["best_metric"] == pytest.approx(best["eval_macro_f1"])
    assert state["best_global_step"] == best["step"]
    # The saved adapter is that checkpoint: the final evaluation scores what it scored.
    assert runs.read_eval(run_dir)["macro_f1"] == pytest.approx(best["eval_macro_f1"], abs=1e-4)


def test_a_resumed_classifier_skips_the_head_start_and_repeats_the_uninterrupted_losses(
    reviews_csv, tmp_path, capsys
):
    import shutil

    config = tiny_config(
        reviews_csv, max_steps=10, eval_steps=5, logging_steps=1, save_total_limit=10
    )
    whole = runs.create_run(config, root=tmp_path / "whole")
    assert train_main(["--config", str(whole / runs.CONFIG_FILE)]) == 0, runs.tail_log(whole)
    whole_log = capsys.readouterr().out
    resumed = runs.create_run(config, root=tmp_path / "resumed")
    folder = runs.CHECKPOINT_DIR + "/checkpoint-5"
    shutil.copytree(whole / folder, resumed / folder)
    assert train_main(["--config", str(resumed / runs.CONFIG_FILE), "--resume"]) == 0
    resumed_log = capsys.readouterr().out

    def losses(run_dir):
        return {m["step"]: m["loss"] for m in runs.read_metrics(run_dir) if "loss" in m}

    reference = {s: v for s, v in losses(whole).items() if s > 5}
    assert losses(resumed) == pytest.approx(reference, rel=1e-5) and len(reference) == 5
    assert "head start: fitted" in whole_log
    assert (
        "head start: skipped (resuming" in resumed_log and "head start: fitted" not in resumed_log
    )


def test_a_run_that_trains_every_weight_predicts_and_ships_the_whole_model(tmp_path):
    """Auto may pick full fine-tuning for a classifier: the run saves the whole model, which
    predicts from its run directory, and the zip and its card say so (no PeftModel to load)."""
    import io
    import zipfile

    from tests.conftest import write_reviews

    data = write_reviews(tmp_path / "reviews.csv", rows=120)
    config = tiny_config(data, learning_rate=5e-5, num_train_epochs=1.0)
    run_dir = jobs.start_job(config.replace(lora={"method": "full"}), root=tmp_path / "runs")
    status = jobs.wait_for(run_dir, timeout=240)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    saved = run_dir / runs.ADAPTER_DIR
    assert (saved / "model.safetensors").exists() and not (saved / "adapter_config.json").exists()
    results = predict(load_classifier(run_dir), ["wonderful excellent amazing", "terrible awful"])
    assert [r["label"] for r in results] == ["positive", "negative"]
    archive = zipfile.ZipFile(io.BytesIO(adapter_zip(run_dir)))
    assert "adapter/model.safetensors" in archive.namelist()
    card = archive.read("README.md").decode()
    assert card.startswith("# Fine-tuned model") and "Every weight trained" in card
    assert "PeftModel" not in card and 'from_pretrained("adapter")' in card
