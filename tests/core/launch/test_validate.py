"""Validation rules, as a table: each case changes a few settings and names the problem expected."""

import pytest

from core.hardware import Hardware
from core.launch.batch import batch_for_global, global_batch_size
from core.launch.validate import ERROR, MACHINE, WARNING, validate_parallel
from core.settings import RunConfig

CPU = Hardware(cpu_cores=2, ram_gb=24, cpu_bf16=True)
OLD_CPU = Hardware(cpu_cores=2, ram_gb=24, cpu_bf16=False)
GPUS = Hardware(
    cpu_cores=32, ram_gb=256, cpu_bf16=True, gpus=[{"name": "NVIDIA H100", "memory_gb": 80}] * 4
)
V100 = Hardware(
    cpu_cores=32, ram_gb=256, cpu_bf16=True, gpus=[{"name": "Tesla V100", "memory_gb": 32}] * 2
)


def config_with(**sections) -> RunConfig:
    return RunConfig().replace(**sections)


# (case id, settings, hardware, expected (severity, setting, words in the message))
CASES = [
    (
        "ddp on 2 cpu processes is fine",
        {"parallel": {"strategy": "ddp", "processes_per_node": 2}},
        CPU,
        None,
    ),
    (
        "zero-3 cpu offload on gpus is fine",
        {
            "parallel": {
                "strategy": "deepspeed",
                "zero_stage": 3,
                "offload_params": "cpu",
                "offload_optimizer": "cpu",
                "processes_per_node": 4,
            }
        },
        GPUS,
        None,
    ),
    (
        "param offload needs stage 3",
        {"parallel": {"strategy": "deepspeed", "zero_stage": 2, "offload_params": "cpu"}},
        GPUS,
        (ERROR, "parallel.offload_params", "stage 2"),
    ),
    (
        "offload without deepspeed",
        {"parallel": {"strategy": "ddp", "processes_per_node": 2, "offload_optimizer": "cpu"}},
        GPUS,
        (ERROR, "parallel.offload_optimizer", "'ddp'"),
    ),
    (
        "fsdp offload without fsdp",
        {"parallel": {"strategy": "deepspeed", "fsdp_cpu_offload": True}},
        GPUS,
        (ERROR, "parallel.fsdp_cpu_offload", "'deepspeed'"),
    ),
    (
        "nvme without a path",
        {
            "parallel": {
                "strategy": "deepspeed",
                "zero_stage": 3,
                "offload_params": "nvme",
                "nvme_path": "",
            }
        },
        GPUS,
        (ERROR, "parallel.nvme_path", "absolute"),
    ),
    (
        "optimizer offload with sgd",
        {
            "parallel": {"strategy": "deepspeed", "offload_optimizer": "cpu"},
            "training": {"optim": "sgd"},
        },
        GPUS,
        (ERROR, "training.optim", "'sgd'"),
    ),
    (
        "zero-3 with tensor parallel",
        {
            "parallel": {
                "strategy": "deepspeed",
                "zero_stage": 3,
                "tensor_parallel": 2,
                "processes_per_node": 4,
            }
        },
        GPUS,
        (ERROR, "parallel.tensor_parallel", "stages 1 and 2"),
    ),
    (
        "zero-3 with 8-bit adam",
        {
            "parallel": {"strategy": "deepspeed", "zero_stage": 3},
            "training": {"optim": "adamw_bnb_8bit"},
        },
        GPUS,
        (ERROR, "training.optim", "8-bit"),
    ),
    (
        "fsdp on cpu falls back to ddp",
        {"parallel": {"strategy": "fsdp", "processes_per_node": 2}},
        CPU,
        (WARNING, "parallel.strategy", "plain DDP"),
    ),
    (
        "deepspeed on cpu fails",
        {"parallel": {"strategy": "deepspeed", "processes_per_node": 2}},
        CPU,
        (ERROR, "parallel.strategy", "fails on CPU"),
    ),
    (
        "tensor parallel on cpu",
        {"parallel": {"strategy": "fsdp", "tensor_parallel": 2, "processes_per_node": 2}},
        CPU,
        (ERROR, "parallel.tensor_parallel", "GPU clusters only"),
    ),
    (
        "tensor parallel on gpus warns",
        {"parallel": {"strategy": "fsdp", "tensor_parallel": 2, "processes_per_node": 4}},
        GPUS,
        (WARNING, "parallel.tensor_parallel", "GPU clusters only"),
    ),
    (
        "tensor parallel with ddp",
        {"parallel": {"strategy": "ddp", "tensor_parallel": 2, "processes_per_node": 4}},
        GPUS,
        (ERROR, "parallel.strategy", "needs FSDP"),
    ),
    (
        "tensor parallel not dividing the node",
        {"parallel": {"strategy": "fsdp", "tensor_parallel": 3, "processes_per_node": 4}},
        GPUS,
        (ERROR, "parallel.tensor_parallel", "divide"),
    ),
    (
        "more processes than gpus",
        {"parallel": {"strategy": "ddp", "processes_per_node": 8}},
        GPUS,
        (ERROR, "parallel.processes_per_node", "4 GPU"),
    ),
    (
        "more processes than cpu cores",
        {"parallel": {"strategy": "ddp", "processes_per_node": 4}},
        CPU,
        (WARNING, "parallel.processes_per_node", "2 CPU core"),
    ),
    (
        "two nodes on loopback",
        {"parallel": {"strategy": "ddp", "nodes": 2, "processes_per_node": 4}},
        GPUS,
        (ERROR, "parallel.master_addr", "'127.0.0.1'"),
    ),
    (
        "two nodes on localhost",
        {"parallel": {"strategy": "ddp", "nodes": 2, "master_addr": "localhost"}},
        GPUS,
        (ERROR, "parallel.master_addr", "'localhost'"),
    ),
    (
        "unknown rendezvous backend",
        {"parallel": {"rdzv_backend": "zmq"}},
        GPUS,
        (ERROR, "parallel.rdzv_backend", "'zmq'"),
    ),
    ("fp16 on cpu", {"training": {"precision": "fp16"}}, CPU, (ERROR, "training.precision", "GPU")),
    (
        "bf16 on cpu without bf16",
        {"training": {"precision": "bf16"}},
        OLD_CPU,
        (ERROR, "training.precision", "bf16 instructions"),
    ),
    (
        "bf16 on a V100",
        {"training": {"precision": "bf16"}},
        V100,
        (ERROR, "training.precision", "V100"),
    ),
    (
        "hybrid shard on one node",
        {
            "parallel": {
                "strategy": "fsdp",
                "fsdp_sharding": "hybrid_shard",
                "processes_per_node": 4,
            }
        },
        GPUS,
        (WARNING, "parallel.fsdp_sharding", "full_shard"),
    ),
]


@pytest.mark.parametrize(
    "settings, hardware, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validation_rule(settings, hardware, expected):
    problems = validate_parallel(config_with(**settings), hardware)
    if expected is None:
        assert problems == []
        return
    severity, setting, words = expected
    matching = [p for p in problems if p.setting == setting and p.severity == severity]
    assert matching, f"no {severity} on {setting}; got {problems}"
    assert any(words in p.message for p in matching), [p.message for p in matching]


def test_errors_come_first_and_machine_problems_are_marked():
    config = config_with(
        parallel={"strategy": "deepspeed", "processes_per_node": 2, "tensor_parallel": 2}
    )
    problems = validate_parallel(config, CPU)
    severities = [p.severity for p in problems]
    assert severities == sorted(severities, key=lambda s: s != ERROR)
    assert {p.scope for p in problems if "CPU" in p.message} == {MACHINE}


def test_global_batch_counts_data_parallel_processes_only():
    config = config_with(
        training={"per_device_train_batch_size": 4, "gradient_accumulation_steps": 2},
        parallel={"nodes": 2, "processes_per_node": 4, "tensor_parallel": 2},
    )
    assert global_batch_size(config) == 4 * 2 * (8 // 2)


@pytest.mark.parametrize(
    "target, processes, micro, expected",
    [
        (64, 2, 16, (16, 2)),
        (48, 2, 16, (12, 2)),
        (30, 3, 16, (10, 1)),
        (32, 3, 16, None),
        (0, 1, 8, None),
    ],
)
def test_batch_for_global(target, processes, micro, expected):
    config = config_with(
        parallel={"processes_per_node": processes}, training={"per_device_train_batch_size": micro}
    )
    assert batch_for_global(target, config) == expected


def test_requested_global_batch_not_divisible_by_processes():
    config = config_with(parallel={"strategy": "ddp", "processes_per_node": 3})
    problems = validate_parallel(config, GPUS, target_global_batch=32)
    assert problems[0].severity == ERROR
    assert "32" in problems[0].message and "30 or 33" in problems[0].message


def test_requested_global_batch_gives_the_fix():
    config = config_with(parallel={"strategy": "ddp", "processes_per_node": 2})
    problems = validate_parallel(config, GPUS, target_global_batch=64)
    assert "batch size 16 and gradient accumulation 2" in problems[0].message
    assert validate_parallel(config, GPUS, target_global_batch=32) == []
