"""The trainable part of a model: a LoRA / rsLoRA / DoRA adapter, QLoRA loading, or every weight."""

from __future__ import annotations

from core.settings import ConfigError, RunConfig


def load_arguments(config: RunConfig, precision: str) -> dict:
    """`from_pretrained` keywords: the dtype the run resolved (core.models.load_dtype) and, for
    QLoRA, the quantization. `precision` is the run's resolved "fp32" | "bf16" | "fp16".

    Raises:
        ConfigError: see quantization_arguments.
    """
    import torch

    from core.models import load_dtype

    dtype = getattr(torch, load_dtype(config.lora.method, precision))
    return {"dtype": dtype, **quantization_arguments(config, compute_dtype=dtype)}


def quantization_arguments(config: RunConfig, compute_dtype=None) -> dict:
    """`from_pretrained` keywords that load the frozen base in 4 or 8 bits (QLoRA), or {}.

    Raises:
        ConfigError: quantization is asked for without a CUDA GPU or without bitsandbytes, or
            together with full fine-tuning.
    """
    bits = config.lora.quantization
    if bits == "none":
        return {}
    import torch

    if config.lora.method == "full":
        raise ConfigError(
            f"quantization '{bits}' freezes the base weights, so it cannot be combined with full "
            "fine-tuning. Set the method to lora, or quantization to none."
        )
    if not torch.cuda.is_available():
        raise ConfigError(
            f"quantization '{bits}' (QLoRA) needs a CUDA GPU and this machine has none: "
            "bitsandbytes' 4/8-bit kernels run only on GPUs. Set quantization to none (LoRA on "
            "the full-precision model)."
        )
    try:
        import bitsandbytes  # noqa: F401 - only checks that the kernels are installed
    except ImportError as err:
        raise ConfigError(
            f"quantization '{bits}' needs the bitsandbytes package, which is not installed. "
            "Run `pip install bitsandbytes`, or set quantization to none."
        ) from err
    from transformers import BitsAndBytesConfig

    if bits == "4bit":
        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype or torch.bfloat16,
        )
    else:
        quant = BitsAndBytesConfig(load_in_8bit=True)
    return {"quantization_config": quant}


def target_modules(names: list[str]):
    """What peft's `target_modules` should be: None (peft's per-architecture default), 'all-linear'
    or the listed layer names."""
    if not names:
        return None
    if list(names) == ["all-linear"]:
        return "all-linear"
    return list(names)


def attach_adapter(model, config: RunConfig, task_type: str):
    """Wrap `model` in a peft LoRA adapter (rsLoRA / DoRA as configured), or return it unchanged
    for method 'full'. `task_type` is a peft TaskType name: SEQ_CLS, CAUSAL_LM or SEQ_2_SEQ_LM."""
    if config.lora.init_from:
        check_start_adapter(config)
    if config.lora.method == "full":
        return model
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    lora = config.lora
    if lora.quantization != "none":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.training.gradient_checkpointing
        )
    peft_config = LoraConfig(
        task_type=getattr(TaskType, task_type),
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=target_modules(lora.target_modules),
        modules_to_save=lora.modules_to_save or None,
        use_rslora=lora.use_rslora,
        use_dora=lora.use_dora,
    )
    model = get_peft_model(model, peft_config)
    if lora.init_from:
        load_adapter_weights(model, lora.init_from)
    return trainable_in_fp32(model)


def check_start_adapter(
    config: RunConfig, labels: list[str] | None = None, pooling: str | None = None
) -> None:
    """Refuse an adapter to start from (lora.init_from) that cannot fit this run, from its files
    alone, so the Experts page, the Train page and `core.fit` can say so before Start: a missing
    folder, full fine-tuning, another rank, target layers, DoRA setting, task, base model, labels
    (when `labels`, the data's sorted label names, is given) or pooling (`pooling`: the run's
    resolved one; else the setting, when it is not auto). The weights' shapes are checked again
    when they load (load_adapter_weights).

    Raises:
        ConfigError: what does not fit, and the fix.
    """
    import json
    from pathlib import Path

    folder = config.lora.init_from
    if config.lora.method == "full":
        raise ConfigError(
            "lora.init_from starts a LoRA adapter from a saved one, and this run trains every "
            "weight (method full). Set the method to lora, or leave lora.init_from empty."
        )
    path = Path(folder).expanduser()
    try:
        saved = json.loads((path / "adapter_config.json").read_text())
    except (OSError, ValueError):
        raise ConfigError(
            f"lora.init_from: {folder} holds no adapter (no readable adapter_config.json there). "
            "Point it at a run's adapter/ folder, or leave it empty to start a fresh adapter."
        ) from None
    try:
        meta = json.loads((path / "labels.json").read_text())
    except (OSError, ValueError):
        meta = {}  # not an adapter this app saved: the weights' shapes still decide
    ours = config.lora
    targets = target_modules(ours.target_modules)
    differences = [
        (f"rank {saved.get('r')}", f"lora.r to {saved.get('r')}")
        if saved.get("r") != ours.r
        else None,
        (f"DoRA {'on' if saved.get('use_dora') else 'off'}", "lora.use_dora to match")
        if bool(saved.get("use_dora")) != ours.use_dora
        else None,
        (
            f"target layers {', '.join(sorted(saved['target_modules']))}",
            "lora.target_modules to them",
        )
        if isinstance(targets, list)
        and isinstance(saved.get("target_modules"), list)
        and sorted(saved["target_modules"]) != sorted(targets)
        else None,
        (f"task {meta['task']}", f"model.task to {meta['task']}")
        if meta.get("task") and meta["task"] != config.model.task
        else None,
        (f"base model {meta['base_model']}", f"model.name_or_path to {meta['base_model']}")
        if meta.get("base_model") and meta["base_model"] != config.model.name_or_path
        else None,
    ]
    found = [pair for pair in differences if pair]
    if found:
        what, fix = found[0]
        raise ConfigError(
            f"lora.init_from: the adapter in {folder} was trained with {what}, unlike this run: "
            f"set {fix}, or leave lora.init_from empty."
        )
    names = [str(name) for name in meta.get("labels", [])]
    if labels is not None and names and names != list(labels):
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        ours_shown = ", ".join(labels[:5]) + (", …" if len(labels) > 5 else "")
        raise ConfigError(
            f"lora.init_from: the adapter in {folder} learned {len(names)} labels ({shown}) and "
            f"this data has {len(labels)} ({ours_shown}). Start from an adapter trained on the "
            "same labels, or leave lora.init_from empty."
        )
    pooling = pooling or (config.model.pooling if config.model.pooling != "auto" else None)
    if meta.get("pooling") and pooling and meta["pooling"] != pooling:
        raise ConfigError(
            f"lora.init_from: the adapter in {folder} pools tokens by {meta['pooling']} and this "
            f"run by {pooling}: set model.pooling to {meta['pooling']}."
        )


def load_adapter_weights(model, folder: str) -> None:
    """Copy a saved adapter's weights (LoRA matrices and modules_to_save, e.g. a classifier head)
    into `model`'s freshly made adapter of the same shape (check_start_adapter has read its files).

    Raises:
        ConfigError: the adapter is of another shape (rank, target layers,
            number of labels) than this run's.
    """
    from pathlib import Path

    from peft import set_peft_model_state_dict
    from peft.utils import load_peft_weights

    weights = load_peft_weights(str(Path(folder).expanduser()), device="cpu")
    fix = "use the rank, target layers and labels of the run that saved it"
    try:
        result = set_peft_model_state_dict(model, weights)
    except RuntimeError as err:  # a tensor of another shape
        first = str(err).strip().splitlines()[-1].strip()
        raise ConfigError(
            f"lora.init_from: {folder} does not fit this run ({first}): {fix}."
        ) from err
    ours = ("lora_", "modules_to_save")
    missing = [key for key in result.missing_keys if any(part in key for part in ours)]
    if missing or result.unexpected_keys:
        odd = (missing or result.unexpected_keys)[0]
        raise ConfigError(
            f"lora.init_from: {folder} does not fit this run ({len(missing)} of this run's "
            f"adapter weights missing there, {len(result.unexpected_keys)} of its weights unused "
            f"here, e.g. {odd}): {fix}."
        )


def trainable_in_fp32(model):
    """Cast trainable parameters loaded in 16 bits (a classifier head kept whole, modules_to_save)
    to fp32: mixed precision keeps fp32 master weights, and fp16's gradient scaler refuses to
    unscale fp16 gradients. The frozen base stays in the dtype it was loaded in."""
    import torch

    for param in model.parameters():
        if param.requires_grad and param.dtype in (torch.float16, torch.bfloat16):
            param.data = param.data.float()
    return model
