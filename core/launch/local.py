"""Run a job on this machine, and say honestly which strategy will run.

On CPU the engines do not do what was asked: FSDP through the Trainer/accelerate silently trains
as plain DDP, and DeepSpeed fails (../shared/ENGINES.md). `effective_strategy` says what will
really run, so the app never reports a strategy that did not run; `launch_command` gives the argv
that `core.jobs` starts.

    argv = launch_command(config, run_dir / "config.yaml")
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.hardware import Hardware
from core.launch.files import TRAIN_MODULE
from core.settings import ConfigError, RunConfig

NOT_RUNNABLE = "none"


def effective_strategy(config: RunConfig, hardware: Hardware) -> tuple[str, str]:
    """The strategy that will really run here, and why it differs from the request (if it does).

    Args:
        config: the run's settings.
        hardware: this machine (`core.hardware.detect_hardware()`).

    Returns:
        (strategy, explanation): strategy is one of "single", "ddp", "fsdp", "deepspeed", or
        "none" when the job cannot run here at all (then the explanation says what to change).
    """
    parallel = config.parallel
    requested, world = parallel.strategy, parallel.world_size
    if parallel.nodes > 1:
        return NOT_RUNNABLE, (
            f"{parallel.nodes} nodes cannot start from this machine; submit the "
            "Slurm script (or run the torchrun command on every node)."
        )
    if hardware.gpus:
        if requested in ("single", "ddp"):
            return _by_world(world, requested)
        return requested, f"{requested} over {world} GPU process(es), as requested."
    if parallel.tensor_parallel > 1:
        return NOT_RUNNABLE, "Tensor parallelism runs on GPU clusters only; set its degree to 1."
    if requested == "deepspeed":
        return NOT_RUNNABLE, (
            "DeepSpeed through the Trainer fails on CPU; choose DDP to run here "
            "(the exported DeepSpeed files are for a GPU cluster)."
        )
    if requested == "fsdp":
        strategy, how = _by_world(world, "ddp")
        return strategy, (
            f"FSDP does not run on CPU: the engines silently fall back, so this runs "
            f"as {how[0].lower() + how[1:]}"
        )
    return _by_world(world, requested)


def _by_world(world: int, requested: str) -> tuple[str, str]:
    if world == 1:
        note = "" if requested == "single" else " (DDP needs at least 2 processes)"
        return "single", f"One process{note}."
    note = "" if requested == "ddp" else " (several processes always means DDP)"
    return "ddp", f"DDP over {world} processes, each with a full copy of the model{note}."


def launch_command(config: RunConfig, config_path: str | Path) -> list[str]:
    """The argv that runs this job on this machine.

    One process runs `python -m core.train` directly. Several use torchrun (standalone rendezvous)
    or `accelerate launch --multi_gpu`, the forms measured to start real gloo processes on CPU.
    The deepspeed launcher choice runs through torchrun: the trainer builds the DeepSpeed config
    from the run config itself, and the deepspeed launcher adds nothing on one node.

    Args:
        config: the run's settings.
        config_path: the run's saved config.yaml.

    Returns:
        argv for `subprocess.Popen`, starting with this interpreter.

    Raises:
        ConfigError: the job spans several nodes (use the Slurm script instead).
    """
    parallel = config.parallel
    if parallel.nodes > 1:
        raise ConfigError(
            f"{parallel.nodes} nodes cannot be launched from this machine; submit the "
            "generated Slurm script instead."
        )
    train = ["-m", TRAIN_MODULE, "--config", str(config_path)]
    world = parallel.world_size
    if world == 1:
        return [sys.executable, *train]
    if parallel.launcher == "accelerate":
        # MULTI_GPU, not MULTI_CPU: on CPU the latter silently runs one process (needs mpirun).
        # Precision "no" here: TrainingArguments sets ACCELERATE_MIXED_PRECISION from the config.
        return [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            str(world),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            *train,
        ]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(world),
        *train,
    ]


def trainer_parallel_arguments(config: RunConfig, hardware: Hardware) -> dict:
    """Extra `TrainingArguments` keywords for the strategy that will really run here.

    Built from `effective_strategy`, so FSDP is never requested where it would silently fall back
    and the DeepSpeed dict is the same one the exported ds_config.json holds.

    Returns:
        {} for single/DDP; {"fsdp": True, "fsdp_config": {...}} for FSDP2;
        {"deepspeed": {...}} for DeepSpeed.
    """
    from core.launch.files import FSDP_RESHARD, deepspeed_config, resolved_precision

    strategy, _ = effective_strategy(config, hardware)
    parallel = config.parallel
    if strategy == "fsdp":
        return {
            "fsdp": True,
            "fsdp_config": {
                "version": 2,
                "reshard_after_forward": FSDP_RESHARD[parallel.fsdp_sharding],
                "cpu_offload": parallel.fsdp_cpu_offload,
                "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                "state_dict_type": "FULL_STATE_DICT",
                "activation_checkpointing": config.training.gradient_checkpointing,
            },
        }
    if strategy == "deepspeed":
        gpu_name = hardware.gpus[0]["name"] if hardware.gpus else ""
        precision = resolved_precision(config, not hardware.gpus, gpu_name)
        return {"deepspeed": deepspeed_config(config, precision)}
    return {}
