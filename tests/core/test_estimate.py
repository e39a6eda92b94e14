"""The estimator against published GPU measurements, its physics, its fixes and its charts."""

import time

import pytest

from core.catalog import facts_from_config, find_in_catalog
from core.estimate import (
    EstimateOptions,
    compare_strategies,
    estimate,
    estimate_memory,
    format_duration,
)
from core.hardware import HardwarePlan, cpu_elementwise, plan_gpus, write_calibration
from core.lora_shapes import adapter_parameters
from core.plots.estimate import memory_breakdown_chart, strategy_comparison_chart
from core.settings import RunConfig
from core.timing import (
    EVAL_TOKEN_COST,
    LENGTH_GROUPED_PADDING,
    elementwise_per_token,
    evaluation_tokens,
    flops_per_token,
    learn_from_run,
    startup_seconds,
    training_tokens,
)


def _run(model, task="causal_lm", lora=None, **training):
    return RunConfig().replace(
        model={"name_or_path": model, "task": task}, lora=lora or {}, training=training
    )


def _peak(config, gpu, **options):
    facts = find_in_catalog(config.model.name_or_path)
    return estimate_memory(config, facts, plan_gpus(gpu), EstimateOptions(**options)).total


def test_llama2_7b_lora_matches_llama_factory():
    """18 GB peak: LLaMA-Factory's comparison, LoRA r=8, 16-bit, batch 4, cutoff 1024, 1×A100.

    Assumed: LLaMA-Factory's default gradient checkpointing (without it, eager attention alone
    would store ~34 GB of scores), eager attention (no FlashAttention: scores are stored while a
    block is recomputed), its default LoRA dropout 0.1 on q_proj/v_proj, rows padded to 1024.
    """
    config = _run(
        "meta-llama/Llama-2-7b-hf",
        lora={"r": 8, "dropout": 0.1},
        per_device_train_batch_size=4,
        max_length=1024,
        precision="fp16",
        gradient_checkpointing=True,
    )
    assert _peak(config, "A100 80GB", flash_attention=False) == pytest.approx(18.0, rel=0.2)


def test_llama32_3b_lora_matches_peft_method_comparison():
    """22.3 GB peak: PEFT's MetaMathQA comparison, Llama-3.2-3B, LoRA r=32 q/v, bf16, batch 4,
    max length 768, no gradient checkpointing, 1×L40S.

    Assumed: PyTorch SDPA (no stored scores), LoRA dropout 0, the longest batch padded to 768
    tokens (the peak is reached on it), the loss computed on fp32 logits as transformers does.
    """
    config = _run(
        "meta-llama/Llama-3.2-3B",
        lora={"r": 32, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
        per_device_train_batch_size=4,
        max_length=768,
        precision="bf16",
    )
    assert _peak(config, "L40S") == pytest.approx(22.3, rel=0.2)


def test_t0_3b_lora_matches_peft_readme():
    """14.4 GB: PEFT README, T0_3B LoRA on 1×A100 80 GB (peak allocated during training).

    Assumed from PEFT's seq2seq example of that table: fp32 weights (no dtype given), batch 8,
    inputs padded to 64 tokens, answers of about 4 tokens (twitter_complaints labels), LoRA r=8
    on q/v with dropout 0.1, eager T5 attention (position bias).
    """
    config = _run(
        "bigscience/T0_3B",
        task="seq2seq",
        lora={"r": 8, "dropout": 0.1},
        per_device_train_batch_size=8,
        max_length=64,
        precision="fp32",
    )
    assert _peak(config, "A100 80GB", target_length=4) == pytest.approx(14.4, rel=0.2)


def test_adapter_size_matches_peft():
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=172,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=100,
    )
    for targets in (["q_proj", "v_proj"], ["all-linear"]):
        model = get_peft_model(
            AutoModelForCausalLM.from_config(config),
            LoraConfig(r=4, target_modules=targets[0] if targets == ["all-linear"] else targets),
        )
        real = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
        run = RunConfig().replace(lora={"r": 4, "target_modules": targets})
        facts = facts_from_config(config.to_dict(), "tiny", "test")
        assert adapter_parameters(run, facts) == real, targets


@pytest.mark.parametrize(
    "change, part, direction",
    [
        ({"training": {"per_device_train_batch_size": 8}}, "activations", "up"),
        ({"training": {"max_length": 1024}}, "activations", "up"),
        ({"training": {"gradient_checkpointing": True}}, "activations", "down"),
        ({"lora": {"r": 64}}, "adapter", "up"),
        ({"lora": {"method": "full"}}, "optimizer", "up"),
        ({"training": {"optim": "sgd"}}, "optimizer", "down"),
    ],
)
def test_each_setting_moves_the_right_part(change, part, direction):
    base = _run(
        "Qwen/Qwen2.5-1.5B", per_device_train_batch_size=4, max_length=512, precision="bf16"
    )
    before = getattr(
        estimate_memory(base, find_in_catalog("Qwen/Qwen2.5-1.5B"), plan_gpus("L4")), part
    )
    after = getattr(
        estimate_memory(
            base.replace(**change), find_in_catalog("Qwen/Qwen2.5-1.5B"), plan_gpus("L4")
        ),
        part,
    )
    assert (after > before) if direction == "up" else (after < before)


def test_qlora_shrinks_the_base_weights():
    config = _run("meta-llama/Llama-3.1-8B", precision="bf16")
    weights = {
        q: estimate_memory(
            config,
            find_in_catalog("meta-llama/Llama-3.1-8B"),
            plan_gpus("L4"),
            EstimateOptions(quantization=q),
        ).weights
        for q in ("none", "8bit", "4bit")
    }
    assert weights["none"] == pytest.approx(16.06, rel=0.01)  # 8.03B × 2 bytes
    # The embeddings and the untied head (2 × 128,256 × 4,096) stay unquantised, and peft's
    # prepare_model_for_kbit_training casts them to fp32: 4.2 GB of the 4-bit model's 7.8 GB.
    outside = 2 * 128_256 * 4_096
    assert weights["4bit"] == pytest.approx(
        ((8.03e9 - outside) * 0.516 + outside * 4) / 1e9, rel=0.01
    )
    assert weights["4bit"] < weights["8bit"] < weights["none"]


def test_sharding_divides_what_it_shards():
    facts = find_in_catalog("Qwen/Qwen2.5-7B")
    full = _run("Qwen/Qwen2.5-7B", lora={"method": "full"}, precision="bf16")
    by = compare_strategies(full, facts, plan_gpus("A100 80GB", gpus_per_node=4))
    assert by["DDP"].optimizer == pytest.approx(by["single"].optimizer)
    assert by["ZeRO-1"].optimizer == pytest.approx(by["DDP"].optimizer / 4)
    assert by["ZeRO-2"].gradients == pytest.approx(by["DDP"].gradients / 4)
    assert by["ZeRO-3"].weights < by["DDP"].weights / 3
    assert by["ZeRO-3 + offload"].optimizer == 0 and by["ZeRO-3 + offload"].cpu_offload > 0
    assert by["FSDP"].total < by["DDP"].total


def test_a_run_that_does_not_fit_gets_ranked_re_estimated_fixes():
    config = _run(
        "meta-llama/Llama-3.1-8B", per_device_train_batch_size=8, max_length=1024, precision="bf16"
    )
    facts, plan = find_in_catalog("meta-llama/Llama-3.1-8B"), plan_gpus("A100 40GB")
    result = estimate(config, facts, plan)
    assert result.verdict == "won't fit" and result.fixes
    assert result.fixes[0].change == "Turn on gradient checkpointing"
    for fix in result.fixes:
        again = estimate_memory(
            config.replace(**fix.settings), facts, plan, EstimateOptions(**fix.options)
        ).total
        assert again == pytest.approx(fix.peak_gb) and again <= plan.memory_gb


def test_a_huge_model_on_a_small_card_gets_a_combined_fix():
    config = _run(
        "meta-llama/Llama-3.1-70B", per_device_train_batch_size=8, max_length=2048, precision="bf16"
    )
    result = estimate(config, find_in_catalog("meta-llama/Llama-3.1-70B"), plan_gpus("A100 80GB"))
    assert len(result.fixes) == 1 and "4-bit" in result.fixes[0].change
    assert result.fixes[0].peak_gb <= 80


def test_flops_per_token_follow_4n_for_lora_and_6n_for_full():
    facts = find_in_catalog("meta-llama/Llama-3.1-8B")
    lora = _run("meta-llama/Llama-3.1-8B", max_length=8)  # tiny length: attention negligible
    n = 8.03e9 - facts.vocab * facts.hidden  # the input embedding is a look-up
    assert flops_per_token(lora, facts) == pytest.approx(4 * n, rel=0.01)
    assert flops_per_token(lora.replace(lora={"method": "full"}), facts) == pytest.approx(
        6 * n, rel=0.01
    )
    checkpointed = lora.replace(training={"gradient_checkpointing": True})
    assert flops_per_token(checkpointed, facts) == pytest.approx(6 * n, rel=0.01)
    long = lora.replace(training={"max_length": 8192})
    assert flops_per_token(long, facts) > 1.1 * flops_per_token(lora, facts)


def test_time_cost_and_energy_scale_as_they_should():
    config = _run("Qwen/Qwen2.5-7B", precision="bf16")
    facts = find_in_catalog("Qwen/Qwen2.5-7B")
    options = EstimateOptions(dataset_tokens=10_000_000, grid_g_per_kwh=100)
    one = estimate(config, facts, plan_gpus("H100"), options)
    four = estimate(
        config.replace(parallel={"strategy": "ddp"}),
        facts,
        plan_gpus("H100", gpus_per_node=4),
        options,
    )
    startup = startup_seconds(facts) / 3600  # every device loads the model at the same time
    assert four.hours.value - startup == pytest.approx((one.hours.value - startup) / 4 / 0.9)
    assert one.cost_usd.value == pytest.approx(one.hours.value * 2.90)
    assert one.energy_kwh.value == pytest.approx(one.hours.value * 0.7)
    assert one.co2_kg.value == pytest.approx(one.energy_kwh.value * 0.1)
    assert one.tokens.value == pytest.approx(10_500_000) and one.tokens.source == "measured here"
    cheaper = estimate(
        config,
        facts,
        plan_gpus("H100"),
        EstimateOptions(dataset_tokens=10_000_000, prices={"H100": 1.0}),
    )
    assert cheaper.cost_usd.value == pytest.approx(one.hours.value)


def test_tokens_from_rows_and_length_or_from_steps():
    config = _run("x", max_length=128, per_device_train_batch_size=4, num_train_epochs=2)
    tokens = training_tokens(config, EstimateOptions(dataset_rows=1000, avg_tokens=500))
    assert tokens.value == pytest.approx(1000 * 128 * 2)  # every row cut to 128 tokens
    by_steps = training_tokens(config.replace(training={"max_steps": 10}), EstimateOptions())
    assert by_steps.value == 10 * 4 * 128 and by_steps.source == "assumed"


def test_cpu_time_uses_the_calibration_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path))
    config = _run("embedded:all-minilm-l6-v2", task="classification")
    facts, cpu = find_in_catalog(config.model.name_or_path), HardwarePlan("cpu", memory_gb=24)
    assumed = estimate(config, facts, cpu)
    assert assumed.hours.source == "assumed" and assumed.memory_source == "calibrated"
    write_calibration(
        fp32=0.43, matmul_efficiency_fp32=0.15, elementwise_gelems=0.8, elementwise_factor=1.5
    )
    calibrated = estimate(config, facts, cpu)
    assert calibrated.hours.source == "calibrated"
    tokens = calibrated.tokens.value
    tokens += evaluation_tokens(config, EstimateOptions(), tokens)
    matmul = tokens * flops_per_token(config, facts) / (0.43e12 * 0.15)
    elementwise = tokens * 1.5 * elementwise_per_token(config, facts) / 0.8e9
    startup = startup_seconds(facts)
    assert calibrated.hours.value * 3600 == pytest.approx(matmul + elementwise + startup)
    assert 5 < startup < 6  # 22.7M parameters load in a blink; the imports take the time
    assert "element-wise" in calibrated.hours.note and "15%" in calibrated.hours.note
    assert "GB of 24 GB" in calibrated.summary()


def test_evaluations_add_forward_passes_over_the_validation_rows():
    config = _run("x", num_train_epochs=2, per_device_train_batch_size=10)
    config.data.validation_fraction = 0.2
    # 2 epochs of 800 tokens: 200 validation tokens, evaluated ~6 times at a forward's cost
    assert evaluation_tokens(config, EstimateOptions(), 1600) == pytest.approx(
        200 * 6 * EVAL_TOKEN_COST
    )
    every = config.replace(training={"eval_steps": 10})  # 100 rows x 2 epochs / 10 = 20 steps
    assert evaluation_tokens(every, EstimateOptions(dataset_rows=100), 1600) == pytest.approx(
        200 * 3 * EVAL_TOKEN_COST
    )


def test_element_work_grows_with_width_vocabulary_adapters_and_checkpointing():
    facts = find_in_catalog("Qwen/Qwen2.5-0.5B")
    base = _run("Qwen/Qwen2.5-0.5B")
    small = elementwise_per_token(base, facts)
    assert (
        elementwise_per_token(base.replace(lora={"target_modules": ["all-linear"]}), facts) > small
    )
    assert elementwise_per_token(
        base.replace(training={"gradient_checkpointing": True}), facts
    ) == (pytest.approx(small * 4 / 3))
    classifier = elementwise_per_token(base.replace(model={"task": "classification"}), facts)
    assert small - classifier == pytest.approx(5 * facts.vocab)  # the LM head's softmax
    # LoRA's dropout masks (2 passes over each adapted layer's input) only when dropout > 0.
    kept = elementwise_per_token(base.replace(lora={"dropout": 0.1}), facts)
    skipped = elementwise_per_token(base.replace(lora={"dropout": 0.0}), facts)
    q, v = facts.hidden, facts.hidden  # q_proj and v_proj both read the hidden vector
    assert kept - skipped == pytest.approx(2 * facts.layers * (q + v))
    bert = find_in_catalog("google-bert/bert-base-uncased")
    short, long = (
        elementwise_per_token(
            _run("google-bert/bert-base-uncased", "classification", max_length=n), bert
        )
        for n in (128, 512)
    )
    assert long > short  # unfused attention probabilities grow with the sequence


def test_the_estimate_is_instant():
    config = _run("meta-llama/Llama-3.1-70B", per_device_train_batch_size=8, max_length=4096)
    start = time.perf_counter()
    estimate(config, find_in_catalog("meta-llama/Llama-3.1-70B"), plan_gpus("L4"))
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    "hours, words", [(0.005, "18 seconds"), (0.5, "30 minutes"), (3, "3.0 hours"), (72, "3.0 days")]
)
def test_durations_in_plain_words(hours, words):
    assert format_duration(hours) == words


def test_charts_show_every_part_and_the_device_line():
    config = _run("Qwen/Qwen2.5-0.5B", precision="bf16")
    facts, plan = find_in_catalog("Qwen/Qwen2.5-0.5B"), plan_gpus("T4", gpus_per_node=2)
    memory = estimate_memory(config, facts, plan)
    figure = memory_breakdown_chart(memory, 16).to_dict()
    assert len(figure["data"]) == 7 and figure["layout"]["barmode"] == "stack"
    assert sum(trace["y"][0] for trace in figure["data"]) == pytest.approx(memory.total, abs=0.01)
    assert figure["layout"]["shapes"][0]["y0"] == 16
    what_if = strategy_comparison_chart(compare_strategies(config, facts, plan), 16).to_dict()
    assert list(what_if["data"][0]["x"]) == [
        "single",
        "DDP",
        "FSDP",
        "ZeRO-1",
        "ZeRO-2",
        "ZeRO-3",
        "ZeRO-3 + offload",
    ]


def test_finished_runs_teach_this_machine_its_element_factor(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path))
    write_calibration(fp32=0.4, elementwise_gelems=4.0, threads=2)
    config = _run("embedded:all-minilm-l6-v2", task="classification")
    facts = find_in_catalog(config.model.name_or_path)
    tokens = 50_000

    def run_seconds(factor):  # what a run whose element work costs `factor` takes
        per_token = (
            flops_per_token(config, facts) / 0.4e12
            + factor * elementwise_per_token(config, facts) / 4e9
        )
        return tokens * LENGTH_GROUPED_PADDING * per_token

    assert learn_from_run(config, facts, run_seconds(2.0), tokens) == pytest.approx(2.0)
    assert learn_from_run(config, facts, run_seconds(4.0), tokens) == pytest.approx(3.0)  # mean
    assert learn_from_run(config, facts, run_seconds(200.0), tokens) is None  # implausible
    assert learn_from_run(config, facts, 1.0, 10) is None  # too short to say anything
    # With a calibrated matmul efficiency the run is read with the efficiency the estimate uses.
    write_calibration(matmul_efficiency_fp32=0.5, elementwise_factor_runs=0)
    slower = (
        run_seconds(2.0) + tokens * LENGTH_GROUPED_PADDING * flops_per_token(config, facts) / 0.4e12
    )
    assert learn_from_run(config, facts, slower, tokens) == pytest.approx(2.0)
    write_calibration(elementwise_factor=3.0)
    cpu = HardwarePlan("cpu", memory_gb=24)
    learned = estimate(config, facts, cpu)
    assert learned.hours.source == "calibrated"
    assert cpu_elementwise() == (4.0, 3.0, "calibrated")
