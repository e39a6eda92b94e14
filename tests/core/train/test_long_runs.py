"""Long runs: exact resume from a checkpoint, and out-of-memory advice with the run's numbers."""

from __future__ import annotations

import shutil

import pytest

from core import runs
from core.settings import RunConfig
from core.train.__main__ import main as train_main
from core.train.recipe import explain_failure


def test_resumed_run_ends_exactly_where_an_uninterrupted_one_does(
    tiny_llama, pairs_jsonl, tmp_path, data_root
):
    """Stopped after step 4 of 8 (mid-epoch: 38 rows, batch 8) and resumed: optimizer, scheduler,
    dropout RNG and data position all come back, so steps 5-8 repeat the same losses."""
    config = RunConfig().replace(
        model={"name_or_path": str(tiny_llama), "task": "causal_lm"},
        data={"path": str(pairs_jsonl), "prompt_column": "prompt", "response_column": "response"},
        training={"max_steps": 8, "eval_steps": 4, "per_device_train_batch_size": 8},
        lora={"dropout": 0.3},  # dropout draws random numbers: the RNG state must come back too
    )
    whole = runs.create_run(config, root=tmp_path / "whole")
    assert train_main(["--config", str(whole / runs.CONFIG_FILE)]) == 0, runs.tail_log(whole)
    resumed = runs.create_run(config, root=tmp_path / "resumed")
    shutil.copytree(
        whole / runs.CHECKPOINT_DIR / "checkpoint-4",
        resumed / runs.CHECKPOINT_DIR / "checkpoint-4",
    )
    code = train_main(["--config", str(resumed / runs.CONFIG_FILE), "--resume"])
    assert code == 0, runs.tail_log(resumed)

    def losses(run_dir):
        return {m["step"]: m["loss"] for m in runs.read_metrics(run_dir) if "loss" in m}

    tail = losses(resumed)
    assert sorted(tail) == [5, 6, 7, 8]  # it really started at step 5
    assert tail == pytest.approx({s: v for s, v in losses(whole).items() if s > 4}, rel=1e-5)
    assert runs.read_eval(resumed)["eval_loss"] == pytest.approx(
        runs.read_eval(whole)["eval_loss"], rel=1e-5
    )


def test_resuming_in_the_same_run_keeps_one_record_per_step(
    tiny_llama, pairs_jsonl, tmp_path, data_root
):
    """The run folder already has metrics up to step 8; resuming from checkpoint-4 trains 5-8
    again, and the chart must not run backwards: records after the checkpoint are replaced."""
    config = RunConfig().replace(
        model={"name_or_path": str(tiny_llama), "task": "causal_lm"},
        data={"path": str(pairs_jsonl), "prompt_column": "prompt", "response_column": "response"},
        training={"max_steps": 8, "eval_steps": 4, "per_device_train_batch_size": 8},
    )
    run_dir = runs.create_run(config, root=tmp_path)
    assert train_main(["--config", str(run_dir / runs.CONFIG_FILE)]) == 0
    shutil.rmtree(run_dir / runs.CHECKPOINT_DIR / "checkpoint-8")
    assert train_main(["--config", str(run_dir / runs.CONFIG_FILE), "--resume"]) == 0
    steps = [m["step"] for m in runs.read_metrics(run_dir) if "loss" in m]
    assert steps == sorted(steps) and len(steps) == len(set(steps)) and steps[-1] == 8


def test_resume_without_a_checkpoint_says_so(tiny_llama, pairs_jsonl, tmp_path, data_root):
    config = RunConfig().replace(
        model={"name_or_path": str(tiny_llama), "task": "causal_lm"},
        data={"path": str(pairs_jsonl), "prompt_column": "prompt", "response_column": "response"},
    )
    run_dir = runs.create_run(config, root=tmp_path)
    assert train_main(["--config", str(run_dir / runs.CONFIG_FILE), "--resume"]) == 1
    assert "No checkpoint to resume from" in runs.read_status(run_dir)["message"]


def test_out_of_memory_advice_names_concrete_changes():
    config = RunConfig().replace(
        training={
            "per_device_train_batch_size": 16,
            "max_length": 512,
            "gradient_accumulation_steps": 2,
        }
    )
    message = explain_failure(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), config)
    assert "batch size to 8" in message and "gradient accumulation to 4" in message
    assert "from 512 to 256" in message and "gradient checkpointing" in message
    assert "Traceback" not in message
