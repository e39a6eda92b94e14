"""A real 2-process DDP run on CPU (gloo), started the way the app starts it, against one process."""

from __future__ import annotations

import math

import pytest

from core import jobs, runs
from core.settings import RunConfig

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def config_for(data, processes: int, micro_batch: int) -> RunConfig:
    return RunConfig().replace(
        data={"path": str(data)},
        training={
            "max_steps": 16,
            "learning_rate": 2e-3,
            "max_length": 32,
            "per_device_train_batch_size": micro_batch,
            "eval_steps": 8,
        },
        parallel={
            "processes_per_node": processes,
            "strategy": "ddp" if processes > 1 else "single",
        },
        lora={"r": 4, "alpha": 8},
        # A random head starts at ln 2 on balanced labels, the level the scaling check reads
        # (the probe head start begins near 0 on this easy data).
        model={"head_start": "random"},
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from tests.conftest import write_reviews

    root = tmp_path_factory.mktemp("ddp")
    data = write_reviews(root / "reviews.csv", rows=400)
    # Same global batch (8): one process × 8, or two processes × 4.
    single = jobs.start_job(config_for(data, 1, 8), root=root)
    assert jobs.wait_for(single, timeout=300)["state"] == "completed", runs.tail_log(single)
    ddp = jobs.start_job(config_for(data, 2, 4), root=root)
    assert jobs.wait_for(ddp, timeout=400)["state"] == "completed", runs.tail_log(ddp)
    return single, ddp


def test_the_app_launches_two_processes_through_torchrun(two_runs):
    _, ddp = two_runs
    command = runs.read_status(ddp)["command"]
    assert (
        "torch.distributed.run" in command and command[command.index("--nproc_per_node") + 1] == "2"
    )


def test_both_ranks_train_and_rank_zero_alone_writes(two_runs):
    _, ddp = two_runs
    log = (ddp / runs.LOG_FILE).read_text()
    assert "rank 0 of 2 starts training" in log and "rank 1 of 2 starts training" in log
    steps = [m["step"] for m in runs.read_metrics(ddp) if "loss" in m]
    assert steps == sorted(set(steps)), "metrics were written by more than one rank"
    assert (ddp / runs.ADAPTER_DIR / "adapter_model.safetensors").exists()
    assert log.count("starts training") == 2


def test_ddp_loss_matches_one_process_at_the_same_global_batch(two_runs):
    single, ddp = two_runs
    first = {
        name: [m["loss"] for m in runs.read_metrics(run) if "loss" in m][0]
        for name, run in (("single", single), ("ddp", ddp))
    }
    # Balanced labels: both start near ln 2; the loss-scaling trap would show about 1.39 under DDP.
    assert abs(first["single"] - math.log(2)) < 0.1 and abs(first["ddp"] - math.log(2)) < 0.1
    final_single, final_ddp = runs.read_eval(single)["eval_loss"], runs.read_eval(ddp)["eval_loss"]
    assert final_ddp == pytest.approx(final_single, rel=0.25, abs=0.05)
    assert runs.read_status(ddp)["total_steps"] == runs.read_status(single)["total_steps"] == 16
