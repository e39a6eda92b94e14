"""The precision that runs is the one shown: weights load in the dtype the run resolved (not the
checkpoint's own), the dtypes read back from the model are recorded, and the estimate counts the
same bytes per weight."""

from __future__ import annotations

import shutil

import pytest

from core import runs
from core.catalog import read_local_model
from core.estimate import GB, estimate_memory
from core.hardware import HardwarePlan, plan_gpus
from core.models import DTYPE_BYTES, load_dtype
from core.settings import RunConfig
from core.train.__main__ import main as train_main
from core.train.generative import load_model
from core.train.precision import parameter_dtypes, precision_text


@pytest.fixture(scope="module", params=["bfloat16", "float32"])
def saved_in(request, tiny_llama, tmp_path_factory):
    """The tiny model saved in bf16 (as Qwen, Llama, SmolLM ship) or fp32: (folder, dtype)."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp(f"tiny-{request.param}") / "model"
    shutil.copytree(tiny_llama, folder)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=getattr(torch, request.param))
    model.save_pretrained(folder)
    return folder, request.param


def config_for(folder, method="lora", precision="auto", **training) -> RunConfig:
    return RunConfig().replace(
        model={"name_or_path": str(folder), "task": "causal_lm"},
        lora={"method": method},
        training={"precision": precision, **training},
    )


@pytest.mark.parametrize(
    "method, precision, weights, trained",
    [
        ("lora", "fp32", "float32", "float32"),  # CPU "auto" resolves to fp32
        ("lora", "bf16", "bfloat16", "float32"),  # frozen base 16-bit, adapter fp32
        ("lora", "fp16", "float16", "float32"),  # a T4: adapter fp32 for the gradient scaler
        ("full", "bf16", "float32", "float32"),  # AdamW keeps fp32 master weights
        ("full", "fp32", "float32", "float32"),
    ],
)
def test_weights_load_in_the_resolved_dtype_whatever_the_checkpoint(
    saved_in, method, precision, weights, trained
):
    folder, _ = saved_in
    model, _ = load_model(config_for(folder, method), str(folder), precision)
    assert parameter_dtypes(model) == {"weights": weights, "trained": trained}
    assert load_dtype(method, precision) == weights


def test_the_estimate_counts_the_bytes_per_weight_that_are_loaded(saved_in):
    """The estimator's weight memory per parameter is the loaded frozen parameters' bytes per
    parameter (its parameter count is its own business), for fp32 and bf16 runs."""
    folder, _ = saved_in
    facts = read_local_model(folder)
    for precision, plan in (("fp32", HardwarePlan()), ("bf16", plan_gpus("A100 80GB"))):
        config = config_for(folder, precision=precision)
        model, _ = load_model(config, str(folder), precision)
        frozen = [p for p in model.parameters() if not p.requires_grad]
        loaded = sum(p.numel() * p.element_size() for p in frozen) / sum(p.numel() for p in frozen)
        estimated = estimate_memory(config, facts, plan).weights * GB / facts.params
        assert estimated == pytest.approx(loaded, rel=1e-6), precision
        assert DTYPE_BYTES[load_dtype("lora", precision)] == loaded


@pytest.mark.parametrize(
    "precision, shown",
    [
        ("auto", "weights in float32, no autocast"),  # CPU: fp32, not the checkpoint's bf16
        ("bf16", "weights in bfloat16, trained parameters in float32, bf16 autocast"),
    ],
)
def test_a_bf16_checkpoint_records_the_precision_it_trained_in(
    saved_in, precision, shown, tmp_path, data_root, capsys
):
    folder, saved = saved_in
    if saved != "bfloat16":
        pytest.skip("the bf16 checkpoint is the case that used to train in bf16 unseen")
    from tests.core.train.conftest import write_pairs

    data = write_pairs(tmp_path / "pairs.jsonl")
    config = config_for(folder, precision=precision, max_steps=2, eval_steps=2).replace(
        data={"path": str(data), "prompt_column": "prompt", "response_column": "response"}
    )
    run_dir = runs.create_run(config, root=tmp_path / "runs")
    assert train_main(["--config", str(run_dir / runs.CONFIG_FILE)]) == 0, runs.tail_log(run_dir)
    status, evaluation = runs.read_status(run_dir), runs.read_eval(run_dir)
    assert precision_text(status) == precision_text(evaluation) == shown
    assert f"Precision: {shown}" in capsys.readouterr().out


def test_precision_text_names_both_dtypes_and_the_autocast():
    record = {"weights_dtype": "bfloat16", "trained_dtype": "float32", "autocast": "bf16"}
    assert precision_text(record) == (
        "weights in bfloat16, trained parameters in float32, bf16 autocast"
    )
    assert precision_text({}) == ""  # runs from before the field existed
