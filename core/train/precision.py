"""The precision a run resolves to, and the one it really trained in (read back from the model).

The dtype the weights are loaded in is core.models.load_dtype (shared with the memory estimate);
status.json and eval.json record `weights_dtype`, `trained_dtype` and `autocast` as found on the
loaded model, so the Train and Results pages show what ran, not what was asked for.
"""

from __future__ import annotations

from pathlib import Path

from core import runs
from core.settings import RunConfig


def run_precision(config: RunConfig) -> str:
    """What the config's precision resolves to on this machine: "fp32", "bf16" or "fp16"."""
    from core.hardware import detect_hardware
    from core.launch.files import resolved_precision

    hardware = detect_hardware()
    gpu_name = hardware.gpus[0]["name"] if hardware.gpus else ""
    return resolved_precision(config, cpu=not hardware.gpus, gpu_name=gpu_name)


def parameter_dtypes(model) -> dict:
    """{"weights": dtype of most frozen parameters, "trained": of most trainable ones}, counted
    by elements and named as torch names them ("float32", "bfloat16"); with every parameter
    trained (full fine-tuning) the weights are the trained parameters."""
    counts: dict[bool, dict[str, int]] = {True: {}, False: {}}
    for param in model.parameters():
        name = str(param.dtype).removeprefix("torch.")
        group = counts[param.requires_grad]
        group[name] = group.get(name, 0) + param.numel()
    trained = max(counts[True], key=counts[True].get, default="")
    weights = max(counts[False], key=counts[False].get, default=trained)
    return {"weights": weights, "trained": trained}


def precision_text(record: dict) -> str:
    """One line for a page or the log from a status / eval record's dtype fields; "" when the
    record predates them."""
    weights, trained = record.get("weights_dtype"), record.get("trained_dtype")
    if not weights:
        return ""
    text = f"weights in {weights}"
    if trained and trained != weights:
        text += f", trained parameters in {trained}"
    autocast = record.get("autocast", "none")
    return text + (f", {autocast} autocast" if autocast != "none" else ", no autocast")


def record_dtypes(run_dir: Path, model) -> None:
    """Add the trained model's parameter dtypes (and the run's autocast) to eval.json."""
    evaluation = runs.read_eval(run_dir)
    if not evaluation:
        return
    dtypes = parameter_dtypes(model)
    evaluation.update(
        weights_dtype=dtypes["weights"],
        trained_dtype=dtypes["trained"],
        autocast=runs.read_status(run_dir).get("autocast", "none"),
    )
    runs.write_json_atomic(run_dir / runs.EVAL_FILE, evaluation)
