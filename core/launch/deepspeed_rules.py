"""DeepSpeed's own rules (offload, ZeRO-3), which its config parser does not check.

DeepSpeed accepts parameter offload below stage 3 and an optimizer it cannot offload, and fails
later or silently ignores them (see ../shared/ENGINES.md); core.launch.validate runs these with
the other launch checks.
"""

from __future__ import annotations

from core.launch.problem import ERROR, WARNING, Problem
from core.settings import RunConfig

DEEPSPEED_OFFLOAD_OPTIMIZERS = ("adamw_torch", "adamw_torch_fused")


def _offload_problems(config: RunConfig) -> list[Problem]:
    parallel, problems = config.parallel, []
    deepspeed = parallel.strategy == "deepspeed"
    for name in ("offload_optimizer", "offload_params"):
        value = getattr(parallel, name)
        if value != "none" and not deepspeed:
            fsdp_fix = (
                " For FSDP, turn on its CPU offload instead." if parallel.strategy == "fsdp" else ""
            )
            problems.append(
                Problem(
                    ERROR,
                    f"parallel.{name}",
                    f"{name} = '{value}' is a DeepSpeed setting but the strategy is "
                    f"'{parallel.strategy}', so nothing would offload. Choose the "
                    f"DeepSpeed strategy or set it to 'none'.{fsdp_fix}",
                )
            )
    if parallel.fsdp_cpu_offload and parallel.strategy != "fsdp":
        problems.append(
            Problem(
                ERROR,
                "parallel.fsdp_cpu_offload",
                f"FSDP CPU offload is on but the strategy is '{parallel.strategy}'. "
                "Choose FSDP, or use DeepSpeed's offload settings.",
            )
        )
    if deepspeed and parallel.offload_params != "none" and parallel.zero_stage < 3:
        problems.append(
            Problem(
                ERROR,
                "parallel.offload_params",
                f"Parameter offload needs ZeRO stage 3 (got stage "
                f"{parallel.zero_stage}); DeepSpeed would ignore it silently. Choose "
                "stage 3 or set parameter offload to 'none'.",
            )
        )
    uses_nvme = deepspeed and "nvme" in (parallel.offload_optimizer, parallel.offload_params)
    if uses_nvme and not parallel.nvme_path.strip().startswith("/"):
        problems.append(
            Problem(
                ERROR,
                "parallel.nvme_path",
                f"NVMe offload needs an absolute folder on a fast local disk (got "
                f"'{parallel.nvme_path}'). Give one, e.g. /local_nvme.",
            )
        )
    if (
        deepspeed
        and parallel.offload_optimizer != "none"
        and (config.training.optim not in DEEPSPEED_OFFLOAD_OPTIMIZERS)
    ):
        problems.append(
            Problem(
                ERROR,
                "training.optim",
                f"Optimizer offload runs DeepSpeed's own CPU Adam, so the optimizer "
                f"'{config.training.optim}' cannot be offloaded. Choose adamw_torch "
                "or turn optimizer offload off.",
            )
        )
    return problems


def _zero3_problems(config: RunConfig) -> list[Problem]:
    parallel, training = config.parallel, config.training
    if parallel.strategy != "deepspeed" or parallel.zero_stage != 3:
        return []
    problems = []
    if parallel.tensor_parallel > 1:
        problems.append(
            Problem(
                ERROR,
                "parallel.tensor_parallel",
                f"DeepSpeed's tensor parallelism (AutoTP) works with ZeRO stages 1 "
                f"and 2, not 3 (tensor-parallel degree {parallel.tensor_parallel}). "
                "Choose stage 1 or 2, or tensor-parallel degree 1.",
            )
        )
    if training.optim == "adamw_bnb_8bit":
        problems.append(
            Problem(
                ERROR,
                "training.optim",
                "The 8-bit optimizer keeps whole parameters, which ZeRO-3 shards "
                "away. Choose adamw_torch with ZeRO-3, or ZeRO stage 2.",
            )
        )
    if training.torch_compile:
        problems.append(
            Problem(
                WARNING,
                "training.torch_compile",
                "torch.compile with ZeRO-3 breaks the graph at every parameter "
                "gather and rarely speeds up. Consider turning it off.",
            )
        )
    return problems


def deepspeed_problems(config: RunConfig) -> list[Problem]:
    """Offload and ZeRO-3 problems of a run (none unless it asks for offload or DeepSpeed)."""
    return _offload_problems(config) + _zero3_problems(config)
