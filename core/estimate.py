"""Memory, time, cost and energy of a run, estimated before anything runs (pure arithmetic, < 10 ms).

    from core.estimate import estimate
    result = estimate(config, resolve_model(config.model.name_or_path), plan_gpus("A100 80GB"))
    print(result.summary())

Peak memory per device = weights + adapter + gradients + optimizer states (each divided by the
sharding of the parallel strategy) + stored activations + max(logits, one recomputed layer) +
framework overhead. The activation coefficients in `ACTIVATION_BYTES` were counted with
`torch.autograd.graph.saved_tensors_hooks` on transformers 5.24 Llama / BERT / T5 layers (LoRA on
the attention query and value, fp32 and bf16), so they follow what autograd really keeps; the
published GPU figures in tests/core/test_estimate.py and `bench/estimate_accuracy.py` check them.
Time = (training tokens + evaluation work) × seconds per token ÷ devices + start-up (core.timing:
matrix FLOPs at the device's rate × an efficiency, plus measured element-wise work on CPUs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from core.catalog import ModelFacts, embedding_parameters
from core.hardware import HardwarePlan, gpu_has_bf16
from core.lora_shapes import adapter_parameters, lora_roles
from core.models import DTYPE_BYTES, load_dtype
from core.settings import RunConfig
from core.timing import (
    Figure,
    evaluation_tokens,
    flops_per_token,
    seconds_per_token,
    startup_seconds,
    training_tokens,
)

GB = 1e9
VERDICTS = ("fits", "tight", "won't fit")
TIGHT_ABOVE = 0.85  # share of device memory above which a run is "tight" (fragmentation, spikes)

# Tables of measured or published constants, one entry to a line.
# fmt: off
# (architecture, method, 16-bit activations) → saved bytes per token per layer = a·hidden + b·inner.
# Counted with saved_tensors_hooks (LoRA r=8 on query/value; encoders with dropout 0.1).
ACTIVATION_BYTES = {
    ("decoder", "lora", False): (24, 12), ("decoder", "lora", True): (22, 6),
    ("decoder", "full", False): (36, 16), ("decoder", "full", True): (22, 8),
    ("encoder", "lora", False): (68, 4), ("encoder", "lora", True): (60, 2),
    ("encoder", "full", False): (64, 8), ("encoder", "full", True): (50, 4),
    ("encoder-decoder", "lora", False): (85, 28), ("encoder-decoder", "lora", True): (85, 14),
    ("encoder-decoder", "full", False): (82, 32), ("encoder-decoder", "full", True): (71, 16),
}
DECODER_LORA_DROPOUT_BYTES = {False: 12, True: 8}  # per hidden unit: dropout output + mask (counted)
SCORE_BYTES = 12  # per stored attention score (scores, softmax, dropout) when not a fused kernel
LOGIT_BYTES = 12  # per logit at the loss peak: fp32 log-softmax kept + two fp32 gradients
OPTIMIZER_BYTES = {"adamw_torch": 8, "adamw_torch_fused": 8, "adamw_bnb_8bit": 2, "adafactor": 0.1,
                   "sgd": 0}  # per trained parameter (two fp32 moments for Adam)
QUANT_BYTES = {"none": 0, "8bit": 1.02, "4bit": 0.516}  # NF4 + double-quantised block scales
# Assumed cloud on-demand prices, $ per GPU-hour (editable: pass your own to EstimateOptions).
PRICE_PER_GPU_HOUR = {"T4": 0.35, "L4": 0.80, "A10G": 1.00, "RTX 4090": 0.70, "L40S": 1.60,
                      "A100 40GB": 1.30, "A100 80GB": 1.80, "H100": 2.90, "H200": 3.80, "cpu": 0.0}
# fmt: on


@dataclass
class EstimateOptions:
    """What the estimate needs beyond the RunConfig; each field has a safe default."""

    quantization: str = "none"  # QLoRA base weights: "none", "8bit" or "4bit" (GPU, bitsandbytes)
    flash_attention: bool = True  # fused attention (SDPA/flash): no seq × seq scores are stored
    target_length: int = 0  # seq2seq: tokens in the answer (0: the max length)
    dataset_tokens: int = 0  # real tokens in the training split (0: rows × avg_tokens)
    dataset_rows: int = 0  # training rows (0: from max_steps, else 1000 assumed)
    avg_tokens: float = 0.0  # mean tokens per row (0: the max length)
    prices: dict = field(default_factory=lambda: dict(PRICE_PER_GPU_HOUR))  # $ per device-hour
    grid_g_per_kwh: float = 475.0  # grams CO2e per kWh; 475 = world average (IEA 2023), assumed
    efficiency: float = 0.0  # share of peak throughput reached (0: calibrated or assumed)

    def __post_init__(self):
        if self.quantization not in QUANT_BYTES:
            raise ValueError(
                f"quantization should be none, 8bit or 4bit, got {self.quantization!r}"
            )


@dataclass
class MemoryBreakdown:
    """Peak memory of one device in GB, by what holds it."""

    weights: float = 0.0
    adapter: float = 0.0
    gradients: float = 0.0
    optimizer: float = 0.0
    activations: float = 0.0
    logits: float = 0.0
    overhead: float = 0.0
    cpu_offload: float = 0.0  # held in CPU RAM instead (offload), not part of the total

    @property
    def total(self) -> float:
        return sum(v for k, v in asdict(self).items() if k != "cpu_offload")

    def parts(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k != "cpu_offload"}


@dataclass
class Fix:
    """A concrete change that would make the run fit, with its re-estimated peak."""

    change: str  # plain words
    settings: dict  # RunConfig.replace(**settings)
    options: dict  # EstimateOptions changes
    peak_gb: float
    verdict: str
    side_effect: str


@dataclass
class Estimate:
    memory: MemoryBreakdown
    capacity_gb: float
    verdict: str
    device_label: str
    tokens: Figure
    flops_per_token: float
    hours: Figure
    cost_usd: Figure
    energy_kwh: Figure
    co2_kg: Figure
    memory_source: str = "assumed"
    fixes: list[Fix] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The estimate in plain words, e.g. 'About 4 minutes on …; uses 1.1 GB of 24 GB.'"""
        return (
            f"About {format_duration(self.hours.value)} on {self.device_label}; uses "
            f"{self.memory.total:.1f} GB of {self.capacity_gb:.0f} GB ({self.verdict}). "
            f"Cost ≈ ${self.cost_usd.value:.2f}, energy ≈ {self.energy_kwh.value:.2g} kWh "
            f"({self.co2_kg.value:.2g} kg CO2e); all estimates."
        )


def format_duration(hours: float) -> str:
    """'40 seconds', '4 minutes', '2.5 hours', '3.1 days'."""
    seconds = hours * 3600
    if seconds < 90:
        return f"{max(seconds, 1):.0f} seconds"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def resolve_precision(config: RunConfig, plan: HardwarePlan) -> str:
    """'auto' → fp32 on CPU, bf16 on GPUs that have it, fp16 on older ones."""
    if config.training.precision != "auto":
        return config.training.precision
    if plan.device == "cpu":
        return "fp32"
    return "bf16" if gpu_has_bf16(plan.device) else "fp16"


def _shards(config: RunConfig, plan: HardwarePlan) -> dict[str, int]:
    """How many ways weights, gradients and optimizer states are split across devices."""
    par, world = config.parallel, plan.devices
    group = plan.gpus_per_node if par.fsdp_sharding == "hybrid_shard" else world
    if par.strategy == "fsdp":
        weights = 1 if par.fsdp_sharding == "shard_grad_op" else group
        return {"weights": weights, "gradients": group, "optimizer": group}
    if par.strategy == "deepspeed":
        stage = par.zero_stage
        return {
            "weights": world if stage >= 3 else 1,
            "gradients": world if stage >= 2 else 1,
            "optimizer": world,
        }
    return {"weights": 1, "gradients": 1, "optimizer": 1}


def _tokens_per_step(config: RunConfig, facts: ModelFacts, options: EstimateOptions) -> tuple:
    """(encoder/decoder tokens, answer tokens) that one device holds in one micro-batch."""
    batch, length = config.training.per_device_train_batch_size, config.training.max_length
    if facts.architecture == "encoder-decoder":
        return batch * length, batch * (options.target_length or length)
    return batch * length, 0


def _activation_gb(config, facts, options, plan, precision) -> tuple[float, float]:
    """(stored activations, transient peak of one block in backward) in GB for one device."""
    method = config.lora.method
    sixteen = precision in ("bf16", "fp16")
    per_h, per_i = ACTIVATION_BYTES[(facts.architecture, method, sixteen)]
    if method == "lora" and facts.architecture == "decoder" and config.lora.dropout > 0:
        per_h += DECODER_LORA_DROPOUT_BYTES[sixteen]
    act = 2 if sixteen else 4
    roles = set(lora_roles(config, facts)) if method == "lora" else set()
    extra_inputs = (
        (facts.heads * facts.head_dim if "o" in roles else 0)
        + (facts.intermediate if "down" in roles else 0)
        + (facts.hidden if roles & {"gate", "up"} else 0)
    )  # the adapter keeps its own input
    per_token = per_h * facts.hidden + per_i * facts.intermediate + extra_inputs * act
    length = config.training.max_length
    stores_scores = (
        not options.flash_attention
        or facts.architecture == "encoder-decoder"
        or (facts.architecture == "encoder" and plan.device == "cpu")
    )
    if stores_scores:
        per_token += SCORE_BYTES * facts.heads * length
    tokens, answer = _tokens_per_step(config, facts, options)
    layer_tokens = tokens * facts.layers + answer * facts.decoder_layers * 1.5  # + cross-attention
    one_layer = per_token * tokens  # backward holds one block's activation gradients at a time
    if config.training.gradient_checkpointing:
        stored = facts.hidden * act * layer_tokens  # only each block's input is kept
        # the recomputed block + its gradients; on CPU the allocator also keeps freed buffers of
        # blocks recomputed before (3× fitted on the bench's two checkpointing rows)
        return stored / GB, (3 if plan.device == "cpu" else 2) * one_layer / GB
    return per_token * layer_tokens / GB, one_layer / GB


def estimate_memory(
    config: RunConfig, facts: ModelFacts, plan: HardwarePlan, options: EstimateOptions | None = None
) -> MemoryBreakdown:
    """Peak memory of one device, by component.

    Args:
        config: the run (method, rank, batch, length, precision, checkpointing, parallel layout).
        facts: the model's architecture (core.catalog).
        plan: the device kind and count (core.hardware).
        options: quantization, attention kernel and answer length.

    Returns:
        The breakdown in GB; `total` is the peak.
    """
    options = options or EstimateOptions()
    out = _state_memory(config, facts, plan, options)
    stored, recompute = _activation_gb(
        config, facts, options, plan, resolve_precision(config, plan)
    )
    tokens, answer = _tokens_per_step(config, facts, options)
    logit_tokens = {"decoder": tokens, "encoder-decoder": answer}.get(facts.architecture, 0)
    if config.model.task == "classification":
        logit_tokens = 0
    out.logits = logit_tokens * facts.vocab * LOGIT_BYTES / GB
    # The loss's logits and a block's backward buffers peak at different moments; on GPU the
    # caching allocator reuses one for the other, on CPU glibc keeps both mapped (bench rows)
    overlap = 0.0 if plan.device == "cpu" else min(recompute, out.logits)
    out.activations = stored + recompute - overlap
    dynamic = out.activations + out.logits
    # GPU: CUDA allocator slack and kernels' workspaces; CPU: allocator arenas (bench-calibrated)
    out.overhead = 0.25 + 0.05 * dynamic if plan.device != "cpu" else 0.08 + 0.1 * dynamic
    return out


def _state_memory(config, facts, plan, options) -> MemoryBreakdown:
    """Weights, adapter, gradients and optimizer states per device (after sharding / offload)."""
    shards, par = _shards(config, plan), config.parallel
    n, embeddings = facts.params, embedding_parameters(facts)  # QLoRA keeps embeddings 16-bit
    full = config.lora.method == "full"
    if options.quantization != "none" and not full:
        weights = (n - embeddings) * QUANT_BYTES[options.quantization] + embeddings * 2
    else:  # the dtype training loads (full fine-tuning: fp32 master weights)
        weights = n * DTYPE_BYTES[load_dtype(config.lora.method, resolve_precision(config, plan))]
    trained = n if full else adapter_parameters(config, facts)
    out = MemoryBreakdown(
        weights=weights / shards["weights"] / GB,
        adapter=0.0 if full else trained * 4 / GB,  # PEFT keeps adapters in fp32
        gradients=trained * 4 / shards["gradients"] / GB,
        optimizer=trained
        * OPTIMIZER_BYTES.get(config.training.optim, 8)
        / shards["optimizer"]
        / GB,
    )
    one_block = weights / max(facts.layers + facts.decoder_layers, 1) / GB
    if shards["weights"] > 1:  # FSDP / ZeRO-3 gather one block at a time (two in flight)
        out.weights += 2 * one_block
    offload_opt = par.strategy == "deepspeed" and par.offload_optimizer != "none"
    offload_params = (
        par.strategy == "deepspeed" and par.zero_stage == 3 and par.offload_params != "none"
    ) or (par.strategy == "fsdp" and par.fsdp_cpu_offload)
    if offload_opt or offload_params:
        out.cpu_offload, out.optimizer = out.optimizer, 0.0
    if offload_params:
        out.cpu_offload += out.weights - 2 * one_block
        out.weights = 2 * one_block
    return out


def verdict_for(peak_gb: float, capacity_gb: float) -> str:
    """'fits', 'tight' (above 85% of the device) or "won't fit"."""
    if peak_gb > capacity_gb:
        return "won't fit"
    return "tight" if peak_gb > TIGHT_ABOVE * capacity_gb else "fits"


def estimate(
    config: RunConfig,
    facts: ModelFacts,
    plan: HardwarePlan,
    options: EstimateOptions | None = None,
    with_fixes: bool = True,
) -> Estimate:
    """Memory, verdict, time, cost and energy of one run.

    Args:
        config: the run's settings.
        facts: the model (core.catalog.resolve_model).
        plan: the hardware (core.hardware.plan_gpus / plan_from_hardware).
        options: QLoRA, attention kernel, data size, prices, grid intensity.
        with_fixes: also search the changes that would make a tight or failing run fit.

    Returns:
        An Estimate; every figure carries its source.
    """
    options = options or EstimateOptions()
    precision = resolve_precision(config, plan)
    memory = estimate_memory(config, facts, plan, options)
    capacity = plan.memory_gb
    verdict = verdict_for(memory.total, capacity)
    tokens = training_tokens(config, options)
    per_token = flops_per_token(config, facts)
    per_token_s, speed_source, speed_note = seconds_per_token(
        config, facts, plan, options, precision
    )
    evaluation = evaluation_tokens(config, options, tokens.value)
    startup = startup_seconds(facts)
    hours = ((tokens.value + evaluation) * per_token_s / plan.devices + startup) / 3600
    speed_note += (
        f"; evaluation adds {evaluation / max(tokens.value, 1):.0%}; start-up about {startup:.0f} s"
    )
    price = options.prices.get(plan.device, 0.0)
    kwh = plan.devices * plan.power_w * hours / 1000
    result = Estimate(
        memory=memory,
        capacity_gb=capacity,
        verdict=verdict,
        device_label=plan.label,
        tokens=tokens,
        flops_per_token=per_token,
        hours=Figure(hours, "hours", speed_source, speed_note),
        cost_usd=Figure(
            hours * plan.devices * price, "$", "assumed", f"${price:.2f} per device-hour (editable)"
        ),
        energy_kwh=Figure(kwh, "kWh", "assumed", f"{plan.power_w:.0f} W per device at full load"),
        co2_kg=Figure(
            kwh * options.grid_g_per_kwh / 1000,
            "kg CO2e",
            "assumed",
            f"grid at {options.grid_g_per_kwh:.0f} g CO2e/kWh (editable)",
        ),
        memory_source="calibrated" if plan.device == "cpu" else "assumed",
    )
    if with_fixes and verdict != "fits":
        result.fixes = suggest_fixes(config, facts, plan, options)
    return result


def _candidate_changes(config: RunConfig, facts: ModelFacts, plan: HardwarePlan) -> list[tuple]:
    """(words, settings, options, side effect) in the order we would recommend them."""
    train, par = config.training, config.parallel
    out = []
    if not train.gradient_checkpointing:
        out.append(
            (
                "Turn on gradient checkpointing",
                {"training": {"gradient_checkpointing": True}},
                {},
                "about 30% slower, same result",
            )
        )
    batch = train.per_device_train_batch_size
    while batch > 1:
        batch //= 2
        accumulation = (
            train.gradient_accumulation_steps * train.per_device_train_batch_size // batch
        )
        out.append(
            (
                f"Batch size {batch} with gradient accumulation {accumulation}",
                {
                    "training": {
                        "per_device_train_batch_size": batch,
                        "gradient_accumulation_steps": accumulation,
                    }
                },
                {},
                "same effective batch, a little slower",
            )
        )
    if resolve_precision(config, plan) == "fp32" and plan.device != "cpu":
        out.append(
            ("Train in bf16", {"training": {"precision": "bf16"}}, {}, "faster, same quality")
        )
    if config.lora.method == "full":
        out.append(
            (
                "Train a LoRA adapter instead of every weight",
                {"lora": {"method": "lora"}},
                {},
                "far less memory, usually close in quality",
            )
        )
    elif plan.device != "cpu":
        for bits in ("8bit", "4bit"):
            out.append(
                (
                    f"QLoRA: load the base model in {bits[0]}-bit",
                    {},
                    {"quantization": bits},
                    "slower steps, a little quality loss",
                )
            )
    if plan.devices > 1 and not (par.strategy == "deepspeed" and par.zero_stage == 3):
        out.append(
            (
                "Shard across devices with DeepSpeed ZeRO-3",
                {"parallel": {"strategy": "deepspeed", "zero_stage": 3}},
                {},
                "more communication between devices",
            )
        )
    if plan.device != "cpu":
        out.append(
            (
                "Offload optimizer states and weights to CPU RAM (ZeRO-3)",
                {
                    "parallel": {
                        "strategy": "deepspeed",
                        "zero_stage": 3,
                        "offload_optimizer": "cpu",
                        "offload_params": "cpu",
                    }
                },
                {},
                "about 2× slower, needs CPU RAM",
            )
        )
    if train.max_length > 128:
        out.append(
            (
                f"Max length {train.max_length // 2}",
                {"training": {"max_length": train.max_length // 2}},
                {},
                "longer inputs are cut",
            )
        )
    return out


def suggest_fixes(
    config: RunConfig,
    facts: ModelFacts,
    plan: HardwarePlan,
    options: EstimateOptions | None = None,
    limit: int = 5,
) -> list[Fix]:
    """Changes that make the run fit, best first, each re-estimated.

    Single changes that fit come first (in the order of `_candidate_changes`: cheapest side effect
    first); if none fits alone, the changes are combined in that order until the run fits.
    """
    options = options or EstimateOptions()
    fixes = []
    for change, settings, opts, side in _candidate_changes(config, facts, plan):
        trial_opts = replace(options, **opts)
        peak = estimate_memory(config.replace(**settings), facts, plan, trial_opts).total
        if peak <= TIGHT_ABOVE * plan.memory_gb:
            fixes.append(Fix(change, settings, opts, peak, verdict_for(peak, plan.memory_gb), side))
    if not fixes:  # no single change is enough: stack them (a later batch size replaces an earlier)
        chained, chained_opts, words = {}, {}, {}
        for change, settings, opts, _side in _candidate_changes(config, facts, plan):
            for key, values in settings.items():
                chained.setdefault(key, {}).update(values)
            chained_opts.update(opts)
            words[change.split()[0] if change.startswith(("Batch", "QLoRA")) else change] = change
            peak = estimate_memory(
                config.replace(**chained), facts, plan, replace(options, **chained_opts)
            ).total
            if peak <= plan.memory_gb:
                fixes.append(
                    Fix(
                        "; ".join(words.values()),
                        chained,
                        chained_opts,
                        peak,
                        verdict_for(peak, plan.memory_gb),
                        "several changes at once",
                    )
                )
                break
    batch_fixes = [f for f in fixes if f.change.startswith("Batch size")]
    fixes = [f for f in fixes if f not in batch_fixes[1:]]  # only the largest batch that fits
    return fixes[:limit]


def compare_strategies(
    config: RunConfig, facts: ModelFacts, plan: HardwarePlan, options: EstimateOptions | None = None
) -> dict[str, MemoryBreakdown]:
    """What-if: the peak per device under each parallel strategy on `plan` (≥ 2 devices to shard)."""
    layouts = {
        "single": {"strategy": "single"},
        "DDP": {"strategy": "ddp"},
        "FSDP": {"strategy": "fsdp", "fsdp_sharding": "full_shard", "fsdp_cpu_offload": False},
        "ZeRO-1": {
            "strategy": "deepspeed",
            "zero_stage": 1,
            "offload_optimizer": "none",
            "offload_params": "none",
        },
        "ZeRO-2": {
            "strategy": "deepspeed",
            "zero_stage": 2,
            "offload_optimizer": "none",
            "offload_params": "none",
        },
        "ZeRO-3": {
            "strategy": "deepspeed",
            "zero_stage": 3,
            "offload_optimizer": "none",
            "offload_params": "none",
        },
        "ZeRO-3 + offload": {
            "strategy": "deepspeed",
            "zero_stage": 3,
            "offload_optimizer": "cpu",
            "offload_params": "cpu",
        },
    }
    out = {}
    for name, parallel in layouts.items():
        layout_plan = replace(plan, nodes=1, gpus_per_node=1) if name == "single" else plan
        out[name] = estimate_memory(config.replace(parallel=parallel), facts, layout_plan, options)
    return out
