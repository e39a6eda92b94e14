"""Memory, time, cost and energy of a run, estimated before anything runs (pure arithmetic, < 10 ms).

    from core.estimate import estimate
    result = estimate(config, resolve_model(config.model.name_or_path), plan_gpus("A100 80GB"))
    print(result.summary())

Peak memory per device comes from core.memory (its components and where each coefficient was
measured); the options beyond the config from core.estimate_options; both are re-exported here.
Time = (training tokens + evaluation work) × seconds per token ÷ devices + start-up (core.timing:
matrix FLOPs at the device's rate × an efficiency, plus measured element-wise work on CPUs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.catalog import ModelFacts
from core.estimate_options import PRICE_PER_GPU_HOUR, EstimateOptions  # noqa: F401 - re-exported
from core.hardware import HardwarePlan
from core.memory import (  # noqa: F401 - re-exported: the memory half of the estimate
    GB,
    TIGHT_ABOVE,
    VERDICTS,
    MemoryBreakdown,
    estimate_memory,
    resolve_precision,
    verdict_for,
)
from core.settings import RunConfig
from core.timing import (
    Figure,
    evaluation_tokens,
    flops_per_token,
    seconds_per_token,
    startup_seconds,
    training_tokens,
)


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
