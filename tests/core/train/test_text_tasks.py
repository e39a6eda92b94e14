"""Causal-LM instruction tuning, plain-text pre-training, seq2seq and decoder classification, end to
end through `python -m core.train` on tiny models built from a config."""

from __future__ import annotations

import json
import math

import pytest
import torch

from core import runs
from core.settings import RunConfig
from core.train.__main__ import main as train_main
from tests.conftest import write_reviews


@pytest.fixture(scope="module", autouse=True)
def module_data_root(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_DATA", str(tmp_path_factory.mktemp("studio-data")))
        yield


def run(tmp_path, model, task, data, lora=None, **training):
    settings = {"max_steps": 30, "per_device_train_batch_size": 8, "learning_rate": 2e-2}
    config = RunConfig().replace(
        model={"name_or_path": str(model), "task": task},
        data=data,
        training={**settings, **training},
        lora={
            "r": 8,
            "alpha": 16,
            "dropout": 0.0,
            "target_modules": ["all-linear"],
            **(lora or {}),
        },
    )
    run_dir = runs.create_run(config, root=tmp_path)
    code = train_main(["--config", str(run_dir / runs.CONFIG_FILE)])
    return code, run_dir


@pytest.fixture(scope="module")
def instruction_run(tiny_llama, tmp_path_factory):
    from tests.core.train.conftest import write_pairs

    root = tmp_path_factory.mktemp("sft")
    data = {"path": str(write_pairs(root / "pairs.jsonl")), "prompt_column": "prompt"}
    # The random output layer trains too (modules_to_save), so 30 steps learn the format.
    lora = {"modules_to_save": ["lm_head"]}
    code, run_dir = run(
        root, tiny_llama, "causal_lm", {**data, "response_column": "response"}, lora=lora
    )
    assert code == 0, runs.tail_log(run_dir)
    return run_dir


def test_instruction_tuning_learns_and_writes_text_eval(instruction_run):
    losses = [m["loss"] for m in runs.read_metrics(instruction_run) if "loss" in m]
    # From ln(vocabulary) ≈ 5.9 towards the colour choice (ln 3 ≈ 1.1 on one token of three).
    assert losses[0] > 5 and losses[-1] < 3.0, losses
    evaluation = runs.read_eval(instruction_run)
    assert evaluation["task"] == "causal_lm"
    assert evaluation["perplexity"] == pytest.approx(math.exp(evaluation["eval_loss"]), rel=1e-6)
    assert evaluation["n_validation"] == 10  # 20% of 48 rows
    assert 3 <= len(evaluation["samples"]) <= 5
    assert {"prompt", "reference", "generated"} == set(evaluation["samples"][0])
    assert evaluation["samples"][0]["prompt"].endswith("### Response:\n")


def test_adapter_tokenizer_and_generative_label_file_are_saved(instruction_run):
    adapter = instruction_run / runs.ADAPTER_DIR
    assert (adapter / "adapter_model.safetensors").exists()
    labels = json.loads((adapter / "labels.json").read_text())
    assert labels["labels"] == [] and labels["task"] == "causal_lm" and labels["method"] == "lora"
    saved = json.loads((adapter / "tokenizer_config.json").read_text())
    chat_template = saved.get("chat_template") or (adapter / "chat_template.jinja").read_text()
    assert "### Response" in chat_template  # inference formats prompts as training did


def test_live_view_records_speed_memory_and_the_sample_batch(instruction_run):
    logged = [m for m in runs.read_metrics(instruction_run) if "loss" in m]
    for key in ("learning_rate", "grad_norm", "step_time_s", "tokens_per_s", "memory_mb"):
        assert all(m[key] > 0 for m in logged[:-1] if key != "learning_rate"), key
    status = runs.read_status(instruction_run)
    assert any("dynamic padding" in f for f in status["speed_features"])
    assert status["task"] == "causal_lm" and status["first_step_s"] > 0
    sample = json.loads((instruction_run / "sample_batch.json").read_text())
    segments = sample["examples"][0]["segments"]
    assert [s["trained"] for s in segments] == [False, True, False]  # the last: the newline
    assert segments[1]["text"].endswith("</s>") and "### Response" in segments[0]["text"]


def test_plain_text_pretraining_runs_on_a_text_column(tiny_llama, tmp_path):
    data = tmp_path / "notes.csv"
    data.write_text(
        "text\n" + "".join(f"red cat {i % 3} runs fast and blue dog sleeps\n" for i in range(30))
    )
    code, run_dir = run(tmp_path, tiny_llama, "causal_lm", {"path": str(data)}, max_steps=6)
    assert code == 0, runs.tail_log(run_dir)
    sample = json.loads((run_dir / "sample_batch.json").read_text())
    assert all(s["trained"] for s in sample["examples"][0]["segments"])
    assert math.isfinite(runs.read_eval(run_dir)["eval_loss"])


def test_seq2seq_trains_a_t5_adapter(tiny_t5, tmp_path):
    from tests.core.train.conftest import write_pairs

    data = {
        "path": str(write_pairs(tmp_path / "pairs.jsonl")),
        "prompt_column": "prompt",
        "response_column": "response",
    }
    code, run_dir = run(tmp_path, tiny_t5, "seq2seq", data)
    assert code == 0, runs.tail_log(run_dir)
    losses = [m["loss"] for m in runs.read_metrics(run_dir) if "loss" in m]
    assert losses[-1] < losses[0]
    evaluation = runs.read_eval(run_dir)
    assert evaluation["task"] == "seq2seq" and len(evaluation["samples"]) >= 3
    peft_config = json.loads((run_dir / runs.ADAPTER_DIR / "adapter_config.json").read_text())
    assert peft_config["task_type"] == "SEQ_2_SEQ_LM"


def test_decoder_model_classifies(tiny_llama, tmp_path):
    data = write_reviews(tmp_path / "reviews.csv", rows=60)
    code, run_dir = run(tmp_path, tiny_llama, "classification", {"path": str(data)}, max_steps=4)
    assert code == 0, runs.tail_log(run_dir)
    evaluation = runs.read_eval(run_dir)
    assert evaluation["labels"] == ["negative", "positive"]
    assert sum(map(sum, evaluation["confusion"])) == evaluation["n_validation"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the message is for machines without CUDA")
def test_qlora_without_cuda_fails_with_the_reason(tiny_llama, tmp_path, pairs_jsonl):
    config = RunConfig().replace(
        model={"name_or_path": str(tiny_llama), "task": "causal_lm"},
        data={"path": str(pairs_jsonl), "prompt_column": "prompt", "response_column": "response"},
        lora={"quantization": "4bit"},
    )
    run_dir = runs.create_run(config, root=tmp_path)
    assert train_main(["--config", str(run_dir / runs.CONFIG_FILE)]) == 1
    message = runs.read_status(run_dir)["message"]
    assert "needs a CUDA GPU" in message and "quantization to none" in message


def test_results_page_model_loads_from_the_run_and_answers(instruction_run):
    """core.evaluate rebuilds base + adapter from the run directory alone (the "try it" box)."""
    from core.evaluate import generate, load_generator
    from core.export import model_card

    generator = load_generator(instruction_run)
    assert generator.task == "causal_lm"
    answer = generate(generator, "Name a colour.", max_new_tokens=8)
    assert isinstance(answer, str) and answer  # a tiny model: some words, not a traceback
    card = model_card(instruction_run)
    assert "AutoModelForCausalLM" in card and "perplexity" in card
