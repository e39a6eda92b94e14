"""The five sections of a run config as pydantic models: every setting with its type, limits,
help text, plain-words label and whether it is an expert setting.

Strict on purpose: 8.5 is not a whole number, "no" is not true or false, a single text is not a
list ("q_proj" must be written [q_proj]); unknown keys are errors. One leniency: a float may be
written as a numeric text, because YAML reads `3e-4` (no dot) as the string "3e-4".
core.settings assembles them into `RunConfig` and re-exports them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

EMBEDDED_MODEL = "embedded:all-minilm-l6-v2"

TASKS = ("classification", "causal_lm", "seq2seq")
STRATEGIES = ("single", "ddp", "fsdp", "deepspeed")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _number_from_text(value: Any) -> Any:
    """'3e-4' → 0.0003: YAML 1.1 reads exponents without a dot as text; anything else unchanged."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


Number = Annotated[float, BeforeValidator(_number_from_text)]


def setting(default: Any, help: str, label: str = "", expert: bool = False, **limits: Any) -> Any:
    """A schema field with its help text, label, expert flag and limits.

    Args:
        limits: min / max (inclusive), gt / lt (exclusive), min_length, and for messages
            example (a sample value) or allowed (what is accepted, in words).
    """
    extra = {"expert": expert}
    for key in ("example", "allowed"):
        if key in limits:
            extra[key] = limits.pop(key)
    bounds = {"ge": limits.pop("min", None), "le": limits.pop("max", None), **limits}
    bounds = {key: value for key, value in bounds.items() if value is not None}
    value = {"default_factory": list} if isinstance(default, list) else {"default": default}
    return Field(**value, description=help, title=label or None, json_schema_extra=extra, **bounds)


class Section(BaseModel):
    """A section of the run config: strict types, no unknown keys, no NaN or infinity.

    Attribute assignment is not re-checked (as with the dataclasses before): code such as
    bench/train_throughput.py sets `training.packing = True`, which core.train.speed reads.
    """

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class ModelSettings(Section):
    name_or_path: str = setting(
        EMBEDDED_MODEL,
        "The model to fine-tune: the embedded default, a local folder or a Hugging Face Hub id.",
        "Model",
        min_length=1,
        allowed="a model: the embedded default, a local folder or a Hub id like org/name",
    )
    task: Literal[TASKS] = setting(
        "classification",
        "What the model learns: classification (text → label), causal_lm (instruction, chat or "
        "plain text) or seq2seq (input → output text).",
        "Task",
    )
    pooling: Literal["auto", "cls", "mean"] = setting(
        "auto",
        "How a classifier turns the tokens into one vector: mean (the average of the tokens, how "
        "sentence-transformers models such as the embedded default were trained), cls (the "
        "architecture's own head: the first or last token); auto reads the model's own "
        "sentence-transformers pooling file and falls back to cls.",
        "Pooling",
        expert=True,
    )
    head_start: Literal["probe", "random"] = setting(
        "probe",
        "Where a classifier head's weights start: probe fits them to the frozen model's features "
        "of the training rows first (a logistic regression, seconds), so training starts from "
        "what frozen embeddings already reach; random draws them as transformers does.",
        "Head start",
        expert=True,
    )
    trust_remote_code: Literal[False] = setting(
        False,
        "Never run code shipped with a model; kept False on purpose.",
        expert=True,
        allowed="false only: the studio never runs code shipped with a model",
    )


class DataSettings(Section):
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
    validation_fraction: Number = setting(
        0.2,
        "Share of rows held out to measure the model, between 0.05 and 0.5.",
        "Validation share",
        min=0.05,
        max=0.5,
    )
    split_seed: int = setting(
        42, "Seed of the train/validation split.", "Split seed", expert=True, min=0
    )
    fingerprint: str = setting(
        "",
        "Content hash of the data (and its cleaning recipe) this run used; set by the studio.",
        expert=True,
    )


class LoraSettings(Section):
    method: Literal["lora", "full"] = setting(
        "lora",
        "lora trains a small adapter; full trains every weight (small models only).",
        "Method",
        expert=True,
    )
    r: int = setting(
        8, "LoRA rank: higher learns more and uses more memory.", "LoRA rank", min=1, max=512
    )
    alpha: int = setting(
        16, "LoRA alpha: scales the adapter's update (often 2 × rank).", "LoRA alpha", min=1
    )
    dropout: Number = setting(
        # 0, as in peft and LLaMA-Factory: 0.1 measured no better in paired real-data runs and
        # slower (peft draws a mask per adapted layer): BENCHMARKS.md, "What changed in the app's path".
        0.0,
        "Dropout inside the adapter, against over-fitting.",
        "LoRA dropout",
        min=0.0,
        lt=1.0,
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
        example="[classifier]",
    )
    init_from: str = setting(
        "",
        "Start from a trained adapter instead of a fresh one: a folder with adapter_config.json "
        "(an earlier run's adapter/). Its LoRA weights and classifier head are loaded, so training "
        "continues from them; its rank, target layers and labels must match this run's.",
        "Start from adapter",
        expert=True,
    )
    use_rslora: bool = setting(
        False, "Rank-stabilised LoRA scaling (alpha / sqrt(r)).", expert=True
    )
    use_dora: bool = setting(False, "Weight-decomposed LoRA (DoRA).", expert=True)
    quantization: Literal["none", "4bit", "8bit"] = setting(
        "none",
        "Load the frozen base in 4 or 8 bits (QLoRA): needs a CUDA GPU and bitsandbytes.",
        "Quantization",
        expert=True,
    )


class TrainingSettings(Section):
    num_train_epochs: Number = setting(
        1.0, "Passes over the training data.", "Epochs", min=0.01, max=1000.0, example=3
    )
    max_steps: int = setting(
        -1, "Stop after this many steps (-1: use epochs).", "Max steps", expert=True, min=-1
    )
    learning_rate: Number = setting(
        3e-3,
        "Step size of the optimizer (LoRA on small models: 1e-3 to 3e-3; large LLMs: 1e-4 to 3e-4).",
        "Learning rate",
        gt=0.0,
        example="3e-4",
    )
    head_lr_scale: Number = setting(
        1.0,
        "Classifier: the head's learning rate as a multiple of the learning rate (below 1 keeps a "
        "head started from the frozen features near that start while the adapter learns).",
        "Head learning-rate scale",
        expert=True,
        gt=0.0,
        max=100.0,
    )
    per_device_train_batch_size: int = setting(
        16, "Examples per step on each device.", "Batch size", min=1
    )
    gradient_accumulation_steps: int = setting(
        1,
        "Steps whose gradients are summed before an update.",
        "Gradient accumulation",
        expert=True,
        min=1,
    )
    max_length: int = setting(
        128, "Longest input in tokens; longer inputs are cut.", "Max length", min=8
    )
    warmup_ratio: Number = setting(
        0.06, "Share of steps spent warming the learning rate up.", expert=True, min=0.0, max=1.0
    )
    weight_decay: Number = setting(0.0, "Weight decay of the optimizer.", expert=True, min=0.0)
    label_smoothing_factor: Number = setting(
        # 0: at 0.1 both validation and test accuracy fell in 6 of 6 paired runs (SUBJ-377, AG News;
        # BENCHMARKS.md, "Label smoothing, and LoRA on every linear layer").
        0.0,
        "Share of each target spread over the other labels (or tokens), against over-confidence "
        "(0: off; transformers' label_smoothing_factor).",
        "Label smoothing",
        expert=True,
        min=0.0,
        lt=1.0,
    )
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup"] = setting(
        "linear", "How the learning rate changes over training.", "Schedule", expert=True
    )
    optim: Literal["adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adamw_bnb_8bit"] = (
        setting("adamw_torch", "Optimizer.", "Optimizer", expert=True)
    )
    max_grad_norm: Number = setting(1.0, "Gradient clipping norm.", expert=True, min=0.0)
    precision: Literal[PRECISIONS] = setting(
        "auto",
        "Number format: auto picks bf16 on GPUs that support it, fp32 on CPU.",
        "Precision",
        expert=True,
    )
    gradient_checkpointing: bool = setting(
        False, "Recompute activations to save memory (about 30% slower).", expert=True
    )
    group_by_length: bool = setting(
        True, "Batch examples of similar length together so less padding is computed.", expert=True
    )
    eval_steps: int = setting(
        0, "Evaluate every N steps (0: about 5 times per run).", expert=True, min=0
    )
    logging_steps: int = setting(
        0, "Log every N steps (0: about 50 times per run).", expert=True, min=0
    )
    save_total_limit: int = setting(
        2, "Checkpoints kept (the best and the latest).", expert=True, min=1
    )
    early_stopping_patience: int = setting(
        0,
        "Stop when the validation metric (macro-F1 for a classifier, loss otherwise) has not "
        "improved for N evaluations (0: off).",
        expert=True,
        min=0,
    )
    train_on_prompt: bool = setting(
        False,
        "Causal LM: also learn to predict the prompt (off: loss on the response only).",
        "Train on prompts too",
        expert=True,
    )
    packing: Literal["auto", "on", "off"] = setting(
        "auto",
        "Causal LM: pack short examples into one row without attention across them "
        "(padding-free). auto: off; with the default SDPA attention it measured slower on CPU and GPU.",
        "Packing",
        expert=True,
    )
    seed: int = setting(
        42, "Random seed for weights init, shuffling and dropout.", "Seed", expert=True, min=0
    )
    dataloader_num_workers: int = setting(0, "Data-loader worker processes.", expert=True, min=0)
    torch_compile: bool = setting(False, "Compile the model with torch.compile.", expert=True)


class ParallelSettings(Section):
    nodes: int = setting(1, "Machines taking part.", "Nodes", expert=True, min=1)
    processes_per_node: int = setting(
        1, "Processes (usually one per GPU) on each machine.", "GPUs / processes per node", min=1
    )
    strategy: Literal[STRATEGIES] = setting(
        "single",
        "single device, DDP (copy per device), FSDP or DeepSpeed ZeRO (shard).",
        "Strategy",
        expert=True,
    )
    fsdp_sharding: Literal["full_shard", "shard_grad_op", "hybrid_shard"] = setting(
        "full_shard", "What FSDP shards.", expert=True
    )
    fsdp_cpu_offload: bool = setting(False, "FSDP: keep parameters on the CPU.", expert=True)
    zero_stage: Literal[1, 2, 3] = setting(2, "DeepSpeed ZeRO stage (1, 2 or 3).", expert=True)
    offload_optimizer: Literal["none", "cpu", "nvme"] = setting(
        "none", "DeepSpeed: where optimizer states live.", expert=True
    )
    offload_params: Literal["none", "cpu", "nvme"] = setting(
        "none", "DeepSpeed ZeRO-3: where parameters live.", expert=True
    )
    nvme_path: str = setting("/local_nvme", "Folder on a fast disk for NVMe offload.", expert=True)
    tensor_parallel: int = setting(
        1, "Tensor-parallel degree (GPU clusters only).", expert=True, min=1
    )
    launcher: Literal["torchrun", "accelerate", "deepspeed"] = setting(
        "torchrun", "Which engine starts the processes.", expert=True
    )
    master_addr: str = setting("127.0.0.1", "Rendezvous host (node 0).", expert=True)
    master_port: int = setting(29500, "Rendezvous port.", expert=True, min=1, max=65535)
    rdzv_backend: str = setting("c10d", "Rendezvous backend.", expert=True)

    @property
    def world_size(self) -> int:
        return self.nodes * self.processes_per_node
