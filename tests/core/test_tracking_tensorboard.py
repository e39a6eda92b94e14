"""TensorBoard as a second tracking option: asked for in the run config, written by the trainer's
own report_to into RUN_DIR/tensorboard/, and without the package the run goes on and says why."""

from __future__ import annotations

import os

import pytest

from core import jobs, runs, tracking
from core.settings import RunConfig
from core.tracking import TENSORBOARD_DIR, Tracker, read_tracking, tensorboard_report_to


@pytest.fixture
def run_dir(data_root, monkeypatch):
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", "restored-after-the-test")
    return runs.create_run(RunConfig(name="board").replace(tracking={"tensorboard": True}))


def test_not_asked_for_adds_nothing(run_dir):
    assert tensorboard_report_to(False, run_dir) == []
    assert read_tracking(run_dir) == {}


def test_without_the_package_the_run_goes_on_and_says_why(run_dir, monkeypatch, capsys):
    monkeypatch.setattr(tracking, "tensorboard_available", lambda: False)
    assert tensorboard_report_to(True, run_dir) == []
    reason = read_tracking(run_dir)["tensorboard"]["reason"]
    assert "tensorboard package is not installed" in reason and "pip install" in reason
    assert capsys.readouterr().out.count("TensorBoard is off:") == 1
    tracker = Tracker(run_dir)
    tracker._off("mlflow is not installed")  # MLflow's own state, saved after it
    record = read_tracking(run_dir)
    assert record["reason"] == "mlflow is not installed"
    assert record["tensorboard"]["enabled"] is False


def test_asked_for_with_the_package_reports_to_tensorboard_in_the_run_folder(run_dir, monkeypatch):
    from core.train.recipe import build_training_args

    monkeypatch.setattr(tracking, "tensorboard_available", lambda: True)
    config = runs.read_config(run_dir)
    args = build_training_args(config, run_dir, n_train=64)
    assert args.report_to == ["tensorboard"]
    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(run_dir / TENSORBOARD_DIR)
    assert read_tracking(run_dir)["tensorboard"] == {
        "enabled": True,
        "logdir": str(run_dir / TENSORBOARD_DIR),
        "reason": "",
    }
    plain = build_training_args(config.replace(tracking={"tensorboard": False}), run_dir, 64)
    assert plain.report_to in ([], "none", ["none"])


def test_a_tiny_run_writes_the_logged_loss_for_tensorboards_reader(tiny_bert, tmp_path):
    """With tensorboard installed, its own reader finds every logged loss; without it, the run
    still completes and tracking.json says why there are no logs."""
    from tests.conftest import write_reviews

    config = RunConfig(name="board").replace(
        model={"name_or_path": str(tiny_bert)},
        data={"path": str(write_reviews(tmp_path / "reviews.csv", rows=80))},
        training={"max_steps": 6, "per_device_train_batch_size": 8, "max_length": 24},
        lora={"r": 4, "alpha": 8},
        tracking={"tensorboard": True},
    )
    run_dir = jobs.start_job(config, root=tmp_path / "runs")
    status = jobs.wait_for(run_dir, timeout=300)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    board = read_tracking(run_dir)["tensorboard"]
    if not tracking.tensorboard_available():
        assert board["enabled"] is False and "not installed" in board["reason"]
        assert not (run_dir / TENSORBOARD_DIR).exists()
        return
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert board["enabled"] is True
    events = EventAccumulator(str(run_dir / TENSORBOARD_DIR))
    events.Reload()
    logged = {r["step"]: r["loss"] for r in runs.read_metrics(run_dir) if "loss" in r}
    read_back = {e.step: e.value for e in events.Scalars("train/loss")}
    assert logged and set(read_back) == set(logged)
    for step, loss in logged.items():
        assert read_back[step] == pytest.approx(loss, abs=1e-4)
