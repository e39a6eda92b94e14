"""Which linear layers a model has, for picking LoRA target modules, without loading weights.

The model is built on the meta device from its config.json alone, so listing the layers of a
7B model costs milliseconds and no memory.

    linear_layer_names(resolve_model_path(config.model.name_or_path))  # ["dense", "key", ...]
"""

from __future__ import annotations

from pathlib import Path

from core.settings import ConfigError

TASK_CLASSES = {
    "classification": "AutoModelForSequenceClassification",
    "causal_lm": "AutoModelForCausalLM",
    "seq2seq": "AutoModelForSeq2SeqLM",
}


def linear_layer_names(model_path: str | Path, task: str = "classification") -> list[str]:
    """Distinct last names of the model's linear layers, sorted (e.g. query/key/value/dense).

    Args:
        model_path: a folder with config.json (weights are not read).
        task: which head to build ("classification", "causal_lm", "seq2seq"); the head's own
            linear layer (classifier, lm_head) is listed too, for modules to save.

    Returns:
        Names usable as peft `target_modules` entries.

    Raises:
        ConfigError: no readable config.json in the folder, or a model type transformers lacks.
    """
    import torch
    import transformers

    path = Path(model_path)
    if not (path / "config.json").is_file():
        raise ConfigError(f"No config.json in {path}; give the model folder to list its layers.")
    try:
        config = transformers.AutoConfig.from_pretrained(path)
        auto_class = getattr(transformers, TASK_CLASSES.get(task, TASK_CLASSES["classification"]))
        # Meta tensors have shapes but no storage: building the model allocates nothing.
        with torch.device("meta"):
            model = auto_class.from_config(config)
    except (ValueError, KeyError, OSError) as err:
        raise ConfigError(f"Cannot build the model in {path} to list its layers: {err}") from err
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    return sorted(names)
