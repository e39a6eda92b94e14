"""Every generated file and command, read back by the engine that will use it."""

import json

import pytest
import yaml

from core.launch.batch import global_batch_size
from core.launch.files import (
    ACCELERATE_FILE,
    DEEPSPEED_FILE,
    SBATCH_FILE,
    accelerate_command,
    accelerate_config_yaml,
    deepspeed_command,
    deepspeed_config,
    deepspeed_config_json,
    generated_files,
    shell_line,
    torchrun_command,
)
from core.settings import RunConfig

LAYOUTS = {
    "one node": {"nodes": 1, "processes_per_node": 2},
    "two nodes": {
        "nodes": 2,
        "processes_per_node": 4,
        "master_addr": "10.1.2.3",
        "master_port": 29600,
    },
}
STRATEGIES = {
    "ddp": {"strategy": "ddp"},
    "fsdp full": {"strategy": "fsdp", "fsdp_sharding": "full_shard", "fsdp_cpu_offload": True},
    "fsdp grad-op": {"strategy": "fsdp", "fsdp_sharding": "shard_grad_op"},
    "fsdp hybrid": {"strategy": "fsdp", "fsdp_sharding": "hybrid_shard"},
    "zero-1": {"strategy": "deepspeed", "zero_stage": 1},
    "zero-2 cpu": {"strategy": "deepspeed", "zero_stage": 2, "offload_optimizer": "cpu"},
    "zero-3 nvme": {
        "strategy": "deepspeed",
        "zero_stage": 3,
        "offload_optimizer": "nvme",
        "offload_params": "nvme",
        "nvme_path": "/scratch/nvme",
    },
}
TRAINING = {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 3, "precision": "bf16"}


def make_config(layout: str, strategy: str) -> RunConfig:
    return RunConfig().replace(
        parallel={**LAYOUTS[layout], **STRATEGIES[strategy]}, training=TRAINING
    )


ALL = [(layout, strategy) for layout in LAYOUTS for strategy in STRATEGIES]


@pytest.mark.parametrize("layout, strategy", ALL)
def test_accelerate_config_loads_in_accelerate(tmp_path, layout, strategy):
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
    from accelerate.utils import DistributedType

    config = make_config(layout, strategy)
    path = tmp_path / ACCELERATE_FILE
    path.write_text(accelerate_config_yaml(config))
    loaded = load_config_from_file(str(path))
    assert isinstance(loaded, ClusterConfig)
    expected = {
        "ddp": DistributedType.MULTI_GPU,
        "fsdp": DistributedType.FSDP,
        "deepspeed": DistributedType.DEEPSPEED,
    }[config.parallel.strategy]
    assert loaded.distributed_type == expected
    assert loaded.num_processes == config.parallel.world_size
    assert loaded.num_machines == config.parallel.nodes
    if config.parallel.nodes > 1:
        assert loaded.main_process_ip == "10.1.2.3" and loaded.main_process_port == 29600


@pytest.mark.parametrize("layout, strategy", ALL)
def test_accelerate_launch_reads_config_and_command(tmp_path, monkeypatch, layout, strategy):
    """accelerate's own launch parser merges our file and command into the env its workers see."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    config = make_config(layout, strategy)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NODE_RANK", "1")
    (tmp_path / ACCELERATE_FILE).write_text(accelerate_config_yaml(config))
    argv = accelerate_command(config)
    argv = [arg.replace("$NODE_RANK", "1") for arg in argv]
    args = launch_command_parser().parse_args(argv[2:])
    args, defaults, _ = _validate_launch_command(args)
    assert args.module and args.training_script == "core.train"
    assert args.training_script_args == ["--config", "config.yaml"]
    if config.parallel.strategy == "deepspeed":
        assert (
            args.use_deepspeed
            and defaults.deepspeed_config["deepspeed_config_file"] == DEEPSPEED_FILE
        )
        return
    env = prepare_multi_gpu_env(args)
    assert int(args.nproc_per_node) == config.parallel.processes_per_node
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    if config.parallel.strategy == "fsdp":
        assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_VERSION"] == "2"
        assert env["FSDP_OFFLOAD_PARAMS"] == str(config.parallel.fsdp_cpu_offload).lower()
        reshard = config.parallel.fsdp_sharding != "shard_grad_op"
        assert env["FSDP_RESHARD_AFTER_FORWARD"] == str(reshard).lower()
    if config.parallel.fsdp_sharding == "hybrid_shard" and config.parallel.strategy == "fsdp":
        replicate = int(env["PARALLELISM_CONFIG_DP_REPLICATE_SIZE"])
        shard = int(env["PARALLELISM_CONFIG_DP_SHARD_SIZE"])
        assert (replicate, replicate * shard) == (config.parallel.nodes, config.parallel.world_size)


def test_cpu_recipe_is_multi_gpu_without_use_cpu(tmp_path):
    """MULTI_CPU + use_cpu silently runs one process; the CPU recipe must avoid it."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = make_config("one node", "fsdp full")
    path = tmp_path / ACCELERATE_FILE
    path.write_text(accelerate_config_yaml(config, cpu=True))
    loaded = load_config_from_file(str(path))
    assert loaded.distributed_type.value == "MULTI_GPU"
    assert loaded.use_cpu is False and loaded.num_processes == 2
    assert not loaded.fsdp_config


def _dict_values(raw):
    if isinstance(raw, dict):
        for value in raw.values():
            yield from _dict_values(value)
    else:
        yield raw


def _device(offload) -> str:
    return str(getattr(offload.device, "value", offload.device))


@pytest.mark.parametrize("layout, strategy", [c for c in ALL if c[1].startswith("zero")])
def test_deepspeed_json_passes_deepspeeds_config_class(monkeypatch, layout, strategy):
    deepspeed_runtime = pytest.importorskip("deepspeed.runtime.config")
    config = make_config(layout, strategy)
    raw = json.loads(deepspeed_config_json(config))
    assert "auto" not in list(_dict_values(raw))
    assert (
        raw["train_batch_size"] == 4 * 3 * config.parallel.world_size == global_batch_size(config)
    )
    # DeepSpeed reads the world size from torch.distributed; pretend the job's world is up.
    monkeypatch.setattr(deepspeed_runtime.dist, "get_rank", lambda *a, **k: 0)
    monkeypatch.setattr(
        deepspeed_runtime.dist, "get_world_size", lambda *a, **k: config.parallel.world_size
    )
    parsed = deepspeed_runtime.DeepSpeedConfig(raw)
    parallel = config.parallel
    assert parsed.zero_optimization_stage == parallel.zero_stage
    assert parsed.train_batch_size == global_batch_size(config)
    assert parsed.gradient_accumulation_steps == 3 and parsed.bfloat16_config.enabled
    if parallel.offload_optimizer != "none":
        assert _device(parsed.zero_config.offload_optimizer) == parallel.offload_optimizer
    if parallel.offload_params != "none":
        assert _device(parsed.zero_config.offload_param) == "nvme"
        assert str(parsed.zero_config.offload_param.nvme_path) == "/scratch/nvme"


def test_deepspeed_json_has_no_param_offload_below_stage_3():
    config = make_config("one node", "zero-2 cpu").replace(parallel={"offload_params": "cpu"})
    assert "offload_param" not in deepspeed_config(config)["zero_optimization"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_torchrun_command_parses(layout):
    from torch.distributed.run import config_from_args, get_args_parser

    config = make_config(layout, "ddp")
    argv = torchrun_command(config)
    assert argv[0] == "torchrun"
    args = get_args_parser().parse_args(argv[1:])
    launch, entry, entry_args = config_from_args(args)
    assert args.module and args.training_script == "core.train"
    assert entry_args[-4:] == ["-m", "core.train", "--config", "config.yaml"]
    assert launch.nproc_per_node == config.parallel.processes_per_node
    assert launch.max_nodes == config.parallel.nodes
    if config.parallel.nodes > 1:
        assert launch.rdzv_backend == "c10d" and launch.rdzv_endpoint == "10.1.2.3:29600"
    else:
        assert args.standalone


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deepspeed_command_parses(layout):
    runner = pytest.importorskip("deepspeed.launcher.runner")
    config = make_config(layout, "zero-2 cpu")
    argv = deepspeed_command(config)
    args = runner.parse_args(argv[1:])
    assert args.module and args.no_local_rank and args.user_script == "core.train"
    assert (args.num_nodes, args.num_gpus) == (
        config.parallel.nodes,
        config.parallel.processes_per_node,
    )
    assert args.user_args == ["--config", "config.yaml"]


def test_shell_line_keeps_variables_and_quotes_spaces():
    line = shell_line(
        ["accelerate", "--machine_rank", "$NODE_RANK", "--config", "my run/config.yaml"]
    )
    assert line == "accelerate --machine_rank \"$NODE_RANK\" --config 'my run/config.yaml'"


def test_generated_files_include_deepspeed_json_only_for_deepspeed():
    assert DEEPSPEED_FILE in generated_files(make_config("one node", "zero-1"))
    assert DEEPSPEED_FILE not in generated_files(make_config("one node", "ddp"))
    assert yaml.safe_load(generated_files(make_config("one node", "ddp"))[ACCELERATE_FILE])


def test_generated_sbatch_asks_for_gpus_only_for_a_gpu_run():
    """The script itself is checked in tests/cluster/test_sbatch.py."""
    config = make_config("one node", "ddp")
    assert "--gpus-per-node=2" in generated_files(config)[SBATCH_FILE]
    assert "--gpus-per-node" not in generated_files(config, cpu=True)[SBATCH_FILE]
