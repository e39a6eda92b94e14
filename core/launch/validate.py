"""Check a run's parallel and batch settings before anything starts.

Each rule returns `Problem`s that name the setting, show its value and say what to do. DeepSpeed's
and accelerate's own parsers miss several of these (a stage-2 config with parameter offload, nonsense
inside `fsdp_config`), and on CPU the engines silently fall back to DDP or fail late, so the studio
checks its own rules first (see ../shared/ENGINES.md).

    problems = validate_parallel(config, detect_hardware())
    errors = [p for p in problems if p.severity == "error"]
"""

from __future__ import annotations

import importlib.util
import ipaddress

from core.hardware import Hardware, gpu_has_bf16
from core.launch.batch import batch_for_global, data_parallel_size, global_batch_size
from core.launch.deepspeed_rules import deepspeed_problems
from core.launch.problem import (  # noqa: F401 - re-exported: what the checks return
    CONFIG,
    ERROR,
    MACHINE,
    WARNING,
    Problem,
)
from core.settings import RunConfig

RDZV_BACKENDS = ("c10d", "static", "etcd", "etcd-v2")


def _batch_problems(config: RunConfig, target: int | None) -> list[Problem]:
    training, dp = config.training, data_parallel_size(config)
    shown = (
        f"{training.per_device_train_batch_size} per device × {training.gradient_accumulation_steps} "
        f"accumulation × {dp} data-parallel process(es) = {global_batch_size(config)}"
    )
    if target is None or target == global_batch_size(config):
        return []
    if target % dp:
        lower, upper = target - target % dp, target - target % dp + dp
        fix = f"{lower} or {upper}" if lower else str(upper)
        return [
            Problem(
                ERROR,
                "training.per_device_train_batch_size",
                f"A global batch of {target} cannot be split over {dp} processes. Choose a "
                f"multiple of {dp} (e.g. {fix}) or change the number of processes.",
            )
        ]
    micro, accum = batch_for_global(target, config)
    return [
        Problem(
            ERROR,
            "training.gradient_accumulation_steps",
            f"The settings give a global batch of {shown}, not the requested {target}. Set "
            f"batch size {micro} and gradient accumulation {accum}.",
        )
    ]


def _layout_problems(config: RunConfig, hardware: Hardware) -> list[Problem]:
    parallel, problems = config.parallel, []
    gpus = len(hardware.gpus)
    if gpus and parallel.processes_per_node > gpus:
        problems.append(
            Problem(
                ERROR,
                "parallel.processes_per_node",
                f"{parallel.processes_per_node} processes per node but this machine "
                f"has {gpus} GPU(s). Use at most {gpus}, one per GPU.",
                MACHINE,
            )
        )
    if not gpus and parallel.processes_per_node > hardware.cpu_cores:
        problems.append(
            Problem(
                WARNING,
                "parallel.processes_per_node",
                f"{parallel.processes_per_node} processes on {hardware.cpu_cores} CPU "
                f"core(s) compete for the cores and run slower. Use at most "
                f"{hardware.cpu_cores}.",
                MACHINE,
            )
        )
    if parallel.strategy == "ddp" and parallel.world_size == 1:
        problems.append(
            Problem(
                WARNING,
                "parallel.strategy",
                "DDP with 1 process runs as a single process. Raise the processes "
                "per node to use DDP.",
            )
        )
    if parallel.nodes > 1 and _is_loopback(parallel.master_addr):
        problems.append(
            Problem(
                ERROR,
                "parallel.master_addr",
                f"With {parallel.nodes} nodes the rendezvous host cannot be "
                f"'{parallel.master_addr}': the other nodes would look for it on "
                "themselves. Give node 0's hostname or IP address (the Slurm script "
                "fills it in from $SLURM_JOB_NODELIST).",
            )
        )
    if parallel.rdzv_backend not in RDZV_BACKENDS:
        problems.append(
            Problem(
                ERROR,
                "parallel.rdzv_backend",
                f"Unknown rendezvous backend '{parallel.rdzv_backend}'. Use one of "
                f"{', '.join(RDZV_BACKENDS)} (c10d needs nothing else).",
            )
        )
    if not 1024 <= parallel.master_port <= 65535:
        problems.append(
            Problem(
                ERROR,
                "parallel.master_port",
                f"Rendezvous port {parallel.master_port} is outside 1024–65535. "
                "Use a free port such as 29500.",
            )
        )
    return problems


def _is_loopback(host: str) -> bool:
    host = (host or "").strip()
    if host in ("", "localhost") or host.startswith("localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname


def _strategy_problems(config: RunConfig, hardware: Hardware) -> list[Problem]:
    """FSDP, DeepSpeed and tensor parallelism on CPU: what the engines would really do."""
    parallel, problems = config.parallel, []
    if (
        parallel.strategy == "fsdp"
        and parallel.fsdp_sharding == "hybrid_shard"
        and parallel.nodes == 1
    ):
        problems.append(
            Problem(
                WARNING,
                "parallel.fsdp_sharding",
                "Hybrid sharding shards inside a node and copies across nodes; with "
                "1 node it is the same as full_shard.",
            )
        )
    if hardware.gpus:
        return problems
    if parallel.strategy == "fsdp":
        ran = "plain DDP over gloo" if parallel.world_size > 1 else "a single process"
        problems.append(
            Problem(
                WARNING,
                "parallel.strategy",
                f"FSDP on CPU: the Trainer and accelerate silently train as {ran}, "
                "nothing is sharded and CPU offload is ignored. The run here uses "
                "DDP; the exported files keep FSDP for a GPU cluster.",
                MACHINE,
            )
        )
    if parallel.strategy == "deepspeed":
        problems.append(
            Problem(
                ERROR,
                "parallel.strategy",
                "DeepSpeed through the Trainer fails on CPU (its batch-size check "
                "breaks without GPUs). Choose DDP to run here; the exported "
                "DeepSpeed files are for a GPU cluster.",
                MACHINE,
            )
        )
    if parallel.tensor_parallel > 1:
        problems.append(
            Problem(
                ERROR,
                "parallel.tensor_parallel",
                f"Tensor parallelism (degree {parallel.tensor_parallel}) runs on GPU "
                "clusters only. Set it to 1 to run here.",
                MACHINE,
            )
        )
    return problems


def _tensor_parallel_problems(config: RunConfig) -> list[Problem]:
    parallel = config.parallel
    degree = parallel.tensor_parallel
    if degree < 1:
        return [
            Problem(
                ERROR,
                "parallel.tensor_parallel",
                f"Tensor-parallel degree should be at least 1, got {degree}.",
            )
        ]
    if degree == 1:
        return []
    problems = [
        Problem(
            WARNING,
            "parallel.tensor_parallel",
            f"Tensor parallelism (degree {degree}) is for GPU clusters only: it splits "
            "each layer over GPUs linked by NVLink.",
        )
    ]
    if parallel.processes_per_node % degree:
        problems.append(
            Problem(
                ERROR,
                "parallel.tensor_parallel",
                f"Tensor-parallel degree {degree} must divide the "
                f"{parallel.processes_per_node} processes per node (a layer is split "
                "inside one node). Choose a divisor.",
            )
        )
    if parallel.strategy not in ("fsdp", "deepspeed"):
        problems.append(
            Problem(
                ERROR,
                "parallel.strategy",
                f"Tensor parallelism needs FSDP (FSDP2 with accelerate's parallelism "
                f"config) or DeepSpeed (AutoTP); the strategy is "
                f"'{parallel.strategy}'. Choose one of them.",
            )
        )
    return problems


def _optimizer_problems(config: RunConfig) -> list[Problem]:
    optim = config.training.optim
    if optim == "adamw_bnb_8bit" and importlib.util.find_spec("bitsandbytes") is None:
        return [
            Problem(
                ERROR,
                "training.optim",
                "The 8-bit optimizer needs the bitsandbytes package, which is not installed "
                "here. Install it (pip install bitsandbytes) or choose adamw_torch.",
                MACHINE,
            )
        ]
    return []


def _precision_problems(config: RunConfig, hardware: Hardware) -> list[Problem]:
    precision = config.training.precision
    if precision == "bf16":
        if hardware.gpus and not gpu_has_bf16(hardware.gpus[0]["name"]):
            return [
                Problem(
                    ERROR,
                    "training.precision",
                    f"{hardware.gpus[0]['name']} has no bf16 support. Choose fp16 or fp32.",
                    MACHINE,
                )
            ]
        if not hardware.gpus and not hardware.cpu_bf16:
            return [
                Problem(
                    ERROR,
                    "training.precision",
                    "This CPU has no bf16 instructions (AVX-512 BF16 or AMX). Choose fp32.",
                    MACHINE,
                )
            ]
    if precision == "fp16" and not hardware.gpus:
        return [
            Problem(
                ERROR,
                "training.precision",
                "fp16 mixed precision needs a GPU. Choose bf16 (if the CPU has it) or fp32.",
                MACHINE,
            )
        ]
    return []


def validate_parallel(
    config: RunConfig, hardware: Hardware, target_global_batch: int | None = None
) -> list[Problem]:
    """Every problem with the layout, strategy, offload, precision and batch settings.

    Args:
        config: the run's settings.
        hardware: the machine that would run it (`core.hardware.detect_hardware()`); problems that
            only hold there have scope "machine".
        target_global_batch: the examples per update the user asked for, if any.

    Returns:
        Problems, errors first; empty when the run can start as configured.
    """
    problems = (
        _batch_problems(config, target_global_batch)
        + _layout_problems(config, hardware)
        + deepspeed_problems(config)
        + _tensor_parallel_problems(config)
        + _strategy_problems(config, hardware)
        + _precision_problems(config, hardware)
        + _optimizer_problems(config)
    )
    return sorted(problems, key=lambda problem: problem.severity != ERROR)
