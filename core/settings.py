"""Every setting of a fine-tuning run, described once.

The guided pages, the experts' page, the config file and the training command all read these
dataclasses. Each field carries its help text, a plain-words label and whether it is an expert
setting in `field(metadata=...)`; `describe(section, name)` returns that metadata for the UI.

A run's whole configuration is one `RunConfig`, saved as YAML in its run directory:

    python -m core.train --config studio-data/runs/<run>/config.yaml
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

EMBEDDED_MODEL = "embedded:all-minilm-l6-v2"

TASKS = ("classification", "causal_lm", "seq2seq")
STRATEGIES = ("single", "ddp", "fsdp", "deepspeed")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def setting(default: Any, help: str, label: str = "", expert: bool = False, **extra: Any) -> Any:
    """A dataclass field with its help text, label and expert flag in the metadata."""
    meta = {"help": help, "label": label, "expert": expert, **extra}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


class ConfigError(ValueError):
    """A setting has a value the run cannot use; the message names it and says what to do."""


@dataclass
class ModelSettings:
    name_or_path: str = setting(
        EMBEDDED_MODEL,
        "The model to fine-tune: the embedded default, a local folder or a Hugging Face Hub id.",
        "Model",
    )
    task: str = setting(
        "classification",
        "What the model learns: classification (text → label), causal_lm (instruction, chat or "
        "plain text) or seq2seq (input → output text).",
        "Task",
        choices=TASKS,
    )
    trust_remote_code: bool = setting(
        False, "Never run code shipped with a model; kept False on purpose.", expert=True
    )

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(f"task should be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.trust_remote_code:
            raise ConfigError(
                "trust_remote_code is not supported: the studio never runs model code"
            )


@dataclass
class DataSettings:
    path: str = setting("", "The data file (or `save_to_disk` folder) to train on.", "Data file")
    text_column: str = setting("text", "Column holding the input text.", "Text column")
    text_pair_column: str = setting(
        "",
        "Optional second text column (e.g. for sentence pairs).",
        "Second text column",
        expert=True,
    )
    label_column: str = setting(
        "label", "Column holding the label (classification).", "Label column"
    )
    prompt_column: str = setting(
        "", "Column with the prompt (instruction tuning).", "Prompt column"
    )
    response_column: str = setting("", "Column with the response to learn.", "Response column")
    messages_column: str = setting(
        "",
        "Column with a chat: a list of {role, content} (or ShareGPT {from, value}) turns.",
        "Chat column",
    )
    validation_fraction: float = setting(
        0.2,
        "Share of rows held out to measure the model, between 0.05 and 0.5.",
        "Validation share",
        min=0.05,
        max=0.5,
    )
    split_seed: int = setting(42, "Seed of the train/validation split.", "Split seed", expert=True)
    fingerprint: str = setting(
        "",
        "Content hash of the data (and its cleaning recipe) this run used; set by the studio.",
        expert=True,
    )

    def __post_init__(self):
        if not 0.05 <= self.validation_fraction <= 0.5:
            raise ConfigError(
                f"validation_fraction should be between 0.05 and 0.5, got {self.validation_fraction}"
            )


@dataclass
class LoraSettings:
    method: str = setting(
        "lora",
        "lora trains a small adapter; full trains every weight (small models only).",
        "Method",
        expert=True,
        choices=("lora", "full"),
    )
    r: int = setting(
        8, "LoRA rank: higher learns more and uses more memory.", "LoRA rank", min=1, max=512
    )
    alpha: int = setting(
        16, "LoRA alpha: scales the adapter's update (often 2 × rank).", "LoRA alpha"
    )
    dropout: float = setting(
        0.1, "Dropout inside the adapter, against over-fitting.", "LoRA dropout"
    )
    target_modules: list[str] = setting(
        [],
        "Linear layers that get an adapter; empty picks the usual ones for the model; "
        "'all-linear' takes every linear layer.",
        "Target modules",
    )
    modules_to_save: list[str] = setting(
        [],
        "Extra modules trained fully and saved with the adapter (empty: the classifier head).",
        expert=True,
    )
    use_rslora: bool = setting(
        False, "Rank-stabilised LoRA scaling (alpha / sqrt(r)).", expert=True
    )
    use_dora: bool = setting(False, "Weight-decomposed LoRA (DoRA).", expert=True)
    quantization: str = setting(
        "none",
        "Load the frozen base in 4 or 8 bits (QLoRA): needs a CUDA GPU and bitsandbytes.",
        "Quantization",
        expert=True,
        choices=("none", "4bit", "8bit"),
    )

    def __post_init__(self):
        if self.r < 1:
            raise ConfigError(f"LoRA rank (r) should be at least 1, got {self.r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"LoRA dropout should be in [0, 1), got {self.dropout}")
        if self.method not in ("lora", "full"):
            raise ConfigError(f"method should be 'lora' or 'full', got {self.method!r}")


@dataclass
class TrainingSettings:
    num_train_epochs: float = setting(
        1.0, "Passes over the training data.", "Epochs", min=0.01, max=100.0
    )
    max_steps: int = setting(
        -1, "Stop after this many steps (-1: use epochs).", "Max steps", expert=True
    )
    learning_rate: float = setting(
        3e-3,
        "Step size of the optimizer (LoRA on small models: 1e-3 to 3e-3; large LLMs: 1e-4 to 3e-4).",
        "Learning rate",
    )
    per_device_train_batch_size: int = setting(
        16, "Examples per step on each device.", "Batch size"
    )
    gradient_accumulation_steps: int = setting(
        1,
        "Steps whose gradients are summed before an update.",
        "Gradient accumulation",
        expert=True,
    )
    max_length: int = setting(128, "Longest input in tokens; longer inputs are cut.", "Max length")
    warmup_ratio: float = setting(
        0.06, "Share of steps spent warming the learning rate up.", expert=True
    )
    weight_decay: float = setting(0.0, "Weight decay of the optimizer.", expert=True)
    lr_scheduler_type: str = setting(
        "linear",
        "How the learning rate changes over training.",
        "Schedule",
        expert=True,
        choices=("linear", "cosine", "constant", "constant_with_warmup"),
    )
    optim: str = setting(
        "adamw_torch",
        "Optimizer.",
        "Optimizer",
        expert=True,
        choices=("adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adamw_bnb_8bit"),
    )
    max_grad_norm: float = setting(1.0, "Gradient clipping norm.", expert=True)
    precision: str = setting(
        "auto",
        "Number format: auto picks bf16 on GPUs that support it, fp32 on CPU.",
        "Precision",
        expert=True,
        choices=PRECISIONS,
    )
    gradient_checkpointing: bool = setting(
        False, "Recompute activations to save memory (about 30% slower).", expert=True
    )
    group_by_length: bool = setting(
        True, "Batch examples of similar length together so less padding is computed.", expert=True
    )
    eval_steps: int = setting(0, "Evaluate every N steps (0: about 5 times per run).", expert=True)
    logging_steps: int = setting(0, "Log every N steps (0: about 50 times per run).", expert=True)
    save_total_limit: int = setting(2, "Checkpoints kept (the best and the latest).", expert=True)
    early_stopping_patience: int = setting(
        0, "Stop when validation loss has not improved for N evaluations (0: off).", expert=True
    )
    train_on_prompt: bool = setting(
        False,
        "Causal LM: also learn to predict the prompt (off: loss on the response only).",
        "Train on prompts too",
        expert=True,
    )
    packing: str = setting(
        "auto",
        "Causal LM: pack short examples into one row without attention across them "
        "(padding-free). auto: on with a CUDA GPU; on a CPU it measured about 20% slower.",
        "Packing",
        expert=True,
        choices=("auto", "on", "off"),
    )
    seed: int = setting(
        42, "Random seed for weights init, shuffling and dropout.", "Seed", expert=True
    )
    dataloader_num_workers: int = setting(0, "Data-loader worker processes.", expert=True)
    torch_compile: bool = setting(False, "Compile the model with torch.compile.", expert=True)

    def __post_init__(self):
        checks = {
            "learning_rate": self.learning_rate > 0,
            "per_device_train_batch_size": self.per_device_train_batch_size >= 1,
            "gradient_accumulation_steps": self.gradient_accumulation_steps >= 1,
            "max_length": self.max_length >= 8,
            "num_train_epochs": self.num_train_epochs > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"{name} has an unusable value: {getattr(self, name)!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision should be one of {PRECISIONS}, got {self.precision!r}")


@dataclass
class ParallelSettings:
    nodes: int = setting(1, "Machines taking part.", "Nodes", expert=True, min=1)
    processes_per_node: int = setting(
        1, "Processes (usually one per GPU) on each machine.", "GPUs / processes per node", min=1
    )
    strategy: str = setting(
        "single",
        "single device, DDP (copy per device), FSDP or DeepSpeed ZeRO (shard).",
        "Strategy",
        expert=True,
        choices=STRATEGIES,
    )
    fsdp_sharding: str = setting(
        "full_shard",
        "What FSDP shards.",
        expert=True,
        choices=("full_shard", "shard_grad_op", "hybrid_shard"),
    )
    fsdp_cpu_offload: bool = setting(False, "FSDP: keep parameters on the CPU.", expert=True)
    zero_stage: int = setting(
        2, "DeepSpeed ZeRO stage (1, 2 or 3).", expert=True, choices=(1, 2, 3)
    )
    offload_optimizer: str = setting(
        "none",
        "DeepSpeed: where optimizer states live.",
        expert=True,
        choices=("none", "cpu", "nvme"),
    )
    offload_params: str = setting(
        "none",
        "DeepSpeed ZeRO-3: where parameters live.",
        expert=True,
        choices=("none", "cpu", "nvme"),
    )
    nvme_path: str = setting("/local_nvme", "Folder on a fast disk for NVMe offload.", expert=True)
    tensor_parallel: int = setting(1, "Tensor-parallel degree (GPU clusters only).", expert=True)
    launcher: str = setting(
        "torchrun",
        "Which engine starts the processes.",
        expert=True,
        choices=("torchrun", "accelerate", "deepspeed"),
    )
    master_addr: str = setting("127.0.0.1", "Rendezvous host (node 0).", expert=True)
    master_port: int = setting(29500, "Rendezvous port.", expert=True)
    rdzv_backend: str = setting("c10d", "Rendezvous backend.", expert=True)

    def __post_init__(self):
        if self.nodes < 1 or self.processes_per_node < 1:
            raise ConfigError(
                f"nodes and processes_per_node should be at least 1, got {self.nodes} × "
                f"{self.processes_per_node}"
            )
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy should be one of {STRATEGIES}, got {self.strategy!r}")

    @property
    def world_size(self) -> int:
        return self.nodes * self.processes_per_node


SECTIONS = {
    "model": ModelSettings,
    "data": DataSettings,
    "lora": LoraSettings,
    "training": TrainingSettings,
    "parallel": ParallelSettings,
}


@dataclass
class RunConfig:
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    parallel: ParallelSettings = field(default_factory=ParallelSettings)
    name: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> RunConfig:
        """Build a config from plain data (a parsed YAML file).

        Raises:
            ConfigError: an unknown section or key (with the known ones) or a bad value.
        """
        if not isinstance(raw, dict):
            raise ConfigError(
                f"a run config should be a mapping of sections, got {type(raw).__name__}"
            )
        unknown = set(raw) - set(SECTIONS) - {"name"}
        if unknown:
            raise ConfigError(
                f"unknown config section(s) {sorted(unknown)}; known: {sorted(SECTIONS)} and 'name'"
            )
        parts = {}
        for key, section_cls in SECTIONS.items():
            values = raw.get(key) or {}
            known = {f.name for f in fields(section_cls)}
            bad = set(values) - known
            if bad:
                raise ConfigError(
                    f"unknown setting(s) {sorted(bad)} in '{key}'; known: {sorted(known)}"
                )
            try:
                parts[key] = section_cls(**values)
            except TypeError as err:
                raise ConfigError(f"section '{key}': {err}") from err
        return cls(**parts, name=str(raw.get("name", "")))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        header = (
            "# Finetune Studio run config. Run it headless with:\n"
            f"#   python -m core.train --config {path}\n"
        )
        path.write_text(header + yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a config file written by `save` (or by hand).

        Raises:
            ConfigError: the file is missing, not YAML, or holds a bad setting.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no config file at {path}")
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from err
        return cls.from_dict(raw or {})

    def replace(self, **sections: Any) -> RunConfig:
        """A copy with some sections' fields changed: replace(training={"learning_rate": 1e-3})."""
        raw = self.to_dict()
        for key, changes in sections.items():
            if key == "name":
                raw["name"] = changes
            else:
                raw[key].update(changes)
        return RunConfig.from_dict(raw)


def describe(section: str, name: str) -> dict:
    """Help text, label, expert flag and limits of one setting, for building widgets."""
    for f in fields(SECTIONS[section]):
        if f.name == name:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            meta = dict(f.metadata)
            meta.setdefault("label", "")
            meta["label"] = meta["label"] or name.replace("_", " ").capitalize()
            return {"name": name, "default": default, **meta}
    raise KeyError(f"no setting {section}.{name}")
