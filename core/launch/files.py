"""The files and commands that run one `RunConfig` on the engines experts already use.

Every number is filled from the config (no DeepSpeed "auto" left for the engine to guess), so the
accelerate YAML, the DeepSpeed JSON, the three launch commands and the Slurm script (written by
core/cluster/sbatch.py) all describe the same job as `config.yaml`. Each file is checked by the
engine's own parser in tests/core/launch/test_files.py.

    files = {ACCELERATE_FILE: accelerate_config_yaml(config), DEEPSPEED_FILE: deepspeed_config_json(config)}
"""

from __future__ import annotations

import json
import re
import shlex

import yaml

from core.cluster.sbatch import SBATCH_FILE, SlurmOptions, sbatch_script
from core.hardware import gpu_has_bf16
from core.launch.batch import global_batch_size
from core.settings import RunConfig

ACCELERATE_FILE = "accelerate_config.yaml"
DEEPSPEED_FILE = "ds_config.json"
CONFIG_FILE = "config.yaml"
TRAIN_MODULE = "core.train"
# DeepSpeed's stock bucket sizes (elements); fine for LoRA, where few parameters train.
BUCKET_SIZE = 500_000_000
FSDP_RESHARD = {"full_shard": True, "shard_grad_op": False, "hybrid_shard": True}


def resolved_precision(config: RunConfig, cpu: bool = False, gpu_name: str = "") -> str:
    """ "fp32", "bf16" or "fp16": what "auto" becomes. On CPU fp32 (bf16 autocast did not help at
    these model sizes, ENGINES.md); on GPUs bf16, or fp16 on GPUs without bf16 (`gpu_name` given).
    """
    precision = config.training.precision
    if precision != "auto":
        return precision
    if cpu:
        return "fp32"
    return "bf16" if not gpu_name or gpu_has_bf16(gpu_name) else "fp16"


def _accelerate_precision(precision: str) -> str:
    return "no" if precision == "fp32" else precision


def _fsdp_sections(config: RunConfig) -> dict:
    parallel = config.parallel
    sections = {
        "fsdp_config": {
            "fsdp_version": 2,
            "fsdp_reshard_after_forward": FSDP_RESHARD[parallel.fsdp_sharding],
            "fsdp_offload_params": parallel.fsdp_cpu_offload,
            # Wraps each transformer block the model lists in _no_split_modules.
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            # A full state dict on rank 0, so the adapter saves as one ordinary file.
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_sync_module_states": True,
            "fsdp_activation_checkpointing": config.training.gradient_checkpointing,
        }
    }
    tensor = max(1, parallel.tensor_parallel)
    if parallel.fsdp_sharding == "hybrid_shard" or tensor > 1:
        # FSDP2 expresses hybrid sharding and TP as a device mesh: replicate × shard × tp = world.
        replicate = parallel.nodes if parallel.fsdp_sharding == "hybrid_shard" else 1
        sections["parallelism_config"] = {
            "parallelism_config_dp_replicate_size": replicate,
            "parallelism_config_dp_shard_size": parallel.world_size // (replicate * tensor),
            "parallelism_config_tp_size": tensor,
            "parallelism_config_cp_size": 1,
        }
    return sections


def accelerate_config(
    config: RunConfig, cpu: bool = False, deepspeed_file: str = DEEPSPEED_FILE
) -> dict:
    """The `accelerate launch --config_file` contents for this run.

    Args:
        config: the run's settings.
        cpu: write the recipe that really runs several processes on CPU: MULTI_GPU with
            use_cpu false (the trainer sets use_cpu itself). MULTI_CPU with use_cpu true would
            silently run ONE process, and FSDP/DeepSpeed do not run on CPU.
        deepspeed_file: the DeepSpeed JSON's name, next to this file.

    Returns:
        A dict that `ClusterConfig` accepts.
    """
    parallel = config.parallel
    world = parallel.world_size
    strategy = "ddp" if cpu else parallel.strategy
    distributed = {"fsdp": "FSDP", "deepspeed": "DEEPSPEED"}.get(strategy, "MULTI_GPU")
    if distributed == "MULTI_GPU" and world == 1:
        distributed = "NO"
    precision = resolved_precision(config, cpu)
    raw = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": distributed,
        "mixed_precision": _accelerate_precision(precision),
        "use_cpu": False,
        "debug": False,
        "num_machines": parallel.nodes,
        "num_processes": world,
        "machine_rank": 0,
        "gpu_ids": "all",
        "main_training_function": "main",
        "enable_cpu_affinity": False,
        "downcast_bf16": "no",
    }
    if parallel.nodes > 1:
        raw.update(
            main_process_ip=parallel.master_addr,
            main_process_port=parallel.master_port,
            rdzv_backend=parallel.rdzv_backend,
            same_network=True,
        )
    if distributed == "FSDP":
        raw.update(_fsdp_sections(config))
    if distributed == "DEEPSPEED":
        raw["deepspeed_config"] = {
            "deepspeed_config_file": deepspeed_file,
            # Build the model already sharded under ZeRO-3 rather than whole on every process.
            "zero3_init_flag": parallel.zero_stage == 3,
            "deepspeed_multinode_launcher": "standard",
        }
    return raw


def accelerate_config_yaml(
    config: RunConfig, cpu: bool = False, deepspeed_file: str = DEEPSPEED_FILE
) -> str:
    """`accelerate_config` as a commented YAML file."""
    header = [
        f"# accelerate config for Finetune Studio run '{config.name or 'run'}'.",
        f"#   accelerate launch --config_file {ACCELERATE_FILE} -m {TRAIN_MODULE} --config {CONFIG_FILE}",
    ]
    if cpu:
        header.append(
            "# CPU recipe: MULTI_GPU + use_cpu false is how accelerate starts several CPU "
            "processes (gloo); the trainer sets use_cpu itself."
        )
    elif config.parallel.strategy == "deepspeed":
        header.append(f"# DeepSpeed settings live in {deepspeed_file}, next to this file.")
    return (
        "\n".join(header)
        + "\n"
        + yaml.safe_dump(accelerate_config(config, cpu, deepspeed_file), sort_keys=False)
    )


def _offload(device: str, nvme_path: str) -> dict:
    section = {"device": device, "pin_memory": True}
    if device == "nvme":
        section["nvme_path"] = nvme_path
    return section


def _zero_section(config: RunConfig) -> dict:
    parallel = config.parallel
    zero = {
        "stage": parallel.zero_stage,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": BUCKET_SIZE,
    }
    if parallel.zero_stage < 3:
        zero["allgather_bucket_size"] = BUCKET_SIZE
    if parallel.offload_optimizer != "none":
        zero["offload_optimizer"] = _offload(parallel.offload_optimizer, parallel.nvme_path)
    if parallel.zero_stage == 3:
        if parallel.offload_params != "none":
            zero["offload_param"] = _offload(parallel.offload_params, parallel.nvme_path)
        # Gather the full weights on save, so the adapter is written as ordinary tensors.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return zero


def deepspeed_config(config: RunConfig, precision: str | None = None) -> dict:
    """The DeepSpeed JSON for this run, every value real (no "auto").

    train_batch_size = micro batch × accumulation × data-parallel processes, which is what
    DeepSpeed asserts at start-up and what the Trainer checks against its own arguments. Pass the
    same dict as `TrainingArguments(deepspeed=...)` so the file and the run agree.

    Args:
        config: the run's settings.
        precision: the precision the trainer really uses; default: `resolved_precision(config)`.
    """
    training, parallel = config.training, config.parallel
    precision = precision or resolved_precision(config)
    raw = {
        "train_batch_size": global_batch_size(config),
        "train_micro_batch_size_per_gpu": training.per_device_train_batch_size,
        "gradient_accumulation_steps": training.gradient_accumulation_steps,
        "gradient_clipping": training.max_grad_norm,
        "steps_per_print": training.logging_steps or 50,
        "bf16": {"enabled": precision == "bf16"},
        # loss_scale 0 = dynamic loss scaling, the safe fp16 default.
        "fp16": {"enabled": precision == "fp16", "loss_scale": 0, "initial_scale_power": 16},
        "zero_optimization": _zero_section(config),
        "wall_clock_breakdown": False,
    }
    if training.optim in ("adamw_torch", "adamw_torch_fused"):
        # DeepSpeed's own AdamW (CPU Adam when offloaded); same numbers as the Trainer would use.
        raw["optimizer"] = {
            "type": "AdamW",
            "params": {
                "lr": training.learning_rate,
                "betas": [0.9, 0.999],
                "eps": 1e-8,
                "weight_decay": training.weight_decay,
            },
        }
    if parallel.tensor_parallel > 1:
        raw["tensor_parallel"] = {"autotp_size": parallel.tensor_parallel}
    return raw


def deepspeed_config_json(config: RunConfig) -> str:
    """`deepspeed_config` as an indented JSON file."""
    return json.dumps(deepspeed_config(config), indent=2) + "\n"


def _module_args(config_path: str) -> list[str]:
    return ["-m", TRAIN_MODULE, "--config", config_path]


def torchrun_command(config: RunConfig, config_path: str = CONFIG_FILE) -> list[str]:
    """torchrun argv: standalone on one node; c10d rendezvous on node 0 for several (run the same
    command on every node)."""
    parallel = config.parallel
    argv = ["torchrun", "--nproc_per_node", str(parallel.processes_per_node)]
    if parallel.nodes == 1:
        argv.insert(1, "--standalone")
    else:
        argv += [
            "--nnodes",
            str(parallel.nodes),
            "--rdzv_backend",
            parallel.rdzv_backend,
            "--rdzv_endpoint",
            f"{parallel.master_addr}:{parallel.master_port}",
            "--rdzv_id",
            "finetune-studio",
        ]
    return argv + _module_args(config_path)


def accelerate_command(
    config: RunConfig, config_path: str = CONFIG_FILE, accelerate_file: str = ACCELERATE_FILE
) -> list[str]:
    """accelerate launch argv with the generated config file; on several nodes each node passes
    its own rank in $NODE_RANK."""
    argv = ["accelerate", "launch", "--config_file", accelerate_file]
    if config.parallel.nodes > 1:
        argv += ["--machine_rank", "$NODE_RANK"]
    return argv + _module_args(config_path)


def deepspeed_command(config: RunConfig, config_path: str = CONFIG_FILE) -> list[str]:
    """deepspeed launcher argv. --no_local_rank: the trainer reads LOCAL_RANK from the environment
    and its argument parser knows only --config. Several nodes read `hostfile` ("host slots=N")."""
    parallel = config.parallel
    argv = [
        "deepspeed",
        "--num_nodes",
        str(parallel.nodes),
        "--num_gpus",
        str(parallel.processes_per_node),
    ]
    if parallel.nodes > 1:
        argv += ["--hostfile", "hostfile", "--master_addr", parallel.master_addr]
    argv += [
        "--master_port",
        str(parallel.master_port),
        "--no_local_rank",
        "--module",
        TRAIN_MODULE,
        "--config",
        config_path,
    ]
    return argv


def launch_commands(config: RunConfig, config_path: str = CONFIG_FILE) -> dict[str, list[str]]:
    """The three launchers' argv for this run, keyed "torchrun", "accelerate", "deepspeed"."""
    return {
        "torchrun": torchrun_command(config, config_path),
        "accelerate": accelerate_command(config, config_path),
        "deepspeed": deepspeed_command(config, config_path),
    }


def shell_line(argv: list[str]) -> str:
    """One copyable shell line; "$VAR" arguments stay expandable, everything else is quoted."""
    return " ".join(f'"{arg}"' if re.fullmatch(r"\$\w+", arg) else shlex.quote(arg) for arg in argv)


def generated_files(
    config: RunConfig, cpu: bool = False, slurm: SlurmOptions | None = None
) -> dict[str, str]:
    """Every exported file by name: accelerate YAML, DeepSpeed JSON (DeepSpeed runs only), sbatch.

    The sbatch script asks for one GPU per process unless `cpu` (or `slurm` says otherwise).
    """
    files = {ACCELERATE_FILE: accelerate_config_yaml(config, cpu)}
    if config.parallel.strategy == "deepspeed" and not cpu:
        files[DEEPSPEED_FILE] = deepspeed_config_json(config)
    gpus = 0 if cpu else config.parallel.processes_per_node
    files[SBATCH_FILE] = sbatch_script(config, options=slurm or SlurmOptions(gpus_per_node=gpus))
    return files
