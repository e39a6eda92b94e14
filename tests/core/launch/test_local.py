"""What runs here, and the argv that starts it."""

import sys

import pytest

from core.hardware import Hardware
from core.launch.local import (
    NOT_RUNNABLE,
    effective_strategy,
    launch_command,
    trainer_parallel_arguments,
)
from core.settings import ConfigError, RunConfig

CPU = Hardware(cpu_cores=2, ram_gb=24, cpu_bf16=True)
GPUS = Hardware(
    cpu_cores=32, ram_gb=256, cpu_bf16=True, gpus=[{"name": "NVIDIA H100", "memory_gb": 80}] * 4
)


def parallel(**settings) -> RunConfig:
    return RunConfig().replace(parallel=settings)


@pytest.mark.parametrize(
    "settings, hardware, expected, words",
    [
        ({"strategy": "single"}, CPU, "single", "One process"),
        ({"strategy": "ddp", "processes_per_node": 1}, CPU, "single", "at least 2"),
        ({"strategy": "single", "processes_per_node": 2}, CPU, "ddp", "several processes"),
        ({"strategy": "fsdp", "processes_per_node": 2}, CPU, "ddp", "FSDP does not run on CPU"),
        ({"strategy": "deepspeed", "processes_per_node": 2}, CPU, NOT_RUNNABLE, "fails on CPU"),
        (
            {"strategy": "ddp", "processes_per_node": 2, "tensor_parallel": 2},
            CPU,
            NOT_RUNNABLE,
            "GPU",
        ),
        ({"strategy": "fsdp", "processes_per_node": 4}, GPUS, "fsdp", "as requested"),
        ({"strategy": "deepspeed", "processes_per_node": 4}, GPUS, "deepspeed", "as requested"),
        ({"strategy": "ddp", "nodes": 2, "master_addr": "10.0.0.1"}, GPUS, NOT_RUNNABLE, "Slurm"),
    ],
)
def test_effective_strategy(settings, hardware, expected, words):
    strategy, explanation = effective_strategy(parallel(**settings), hardware)
    assert strategy == expected
    assert words in explanation


def test_one_process_runs_the_trainer_directly(tmp_path):
    path = tmp_path / "config.yaml"
    assert launch_command(RunConfig(), path) == [
        sys.executable,
        "-m",
        "core.train",
        "--config",
        str(path),
    ]


def test_several_processes_use_torchrun_that_torch_parses(tmp_path):
    from torch.distributed.run import config_from_args, get_args_parser

    argv = launch_command(parallel(strategy="ddp", processes_per_node=2), tmp_path / "config.yaml")
    assert argv[:3] == [sys.executable, "-m", "torch.distributed.run"]
    args = get_args_parser().parse_args(argv[3:])
    launch, _, entry_args = config_from_args(args)
    assert args.standalone and launch.nproc_per_node == 2
    assert entry_args[-4:] == ["-m", "core.train", "--config", str(tmp_path / "config.yaml")]


def test_accelerate_launcher_uses_multi_gpu_not_multi_cpu(tmp_path):
    from accelerate.commands.launch import launch_command_parser

    config = parallel(strategy="ddp", processes_per_node=2, launcher="accelerate")
    argv = launch_command(config, tmp_path / "config.yaml")
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    args = launch_command_parser().parse_args(argv[3:])
    assert args.multi_gpu and not args.cpu and args.num_processes == 2
    assert args.module and args.training_script == "core.train"


def test_several_nodes_cannot_launch_here(tmp_path):
    with pytest.raises(ConfigError, match="Slurm"):
        launch_command(parallel(nodes=2, master_addr="10.0.0.1"), tmp_path / "config.yaml")


def test_trainer_arguments_follow_what_really_runs():
    fsdp = parallel(strategy="fsdp", processes_per_node=2, fsdp_sharding="shard_grad_op")
    assert trainer_parallel_arguments(fsdp, CPU) == {}  # falls back to DDP: no FSDP arguments
    on_gpus = trainer_parallel_arguments(fsdp, GPUS)
    assert on_gpus["fsdp"] is True and on_gpus["fsdp_config"]["reshard_after_forward"] is False
    zero = parallel(strategy="deepspeed", processes_per_node=4, zero_stage=3)
    assert trainer_parallel_arguments(zero, GPUS)["deepspeed"]["zero_optimization"]["stage"] == 3
