"""Where a person stands on the guided path: which steps are complete, and why not."""

from __future__ import annotations

from pathlib import Path

from core import runs
from core.models import ModelError, check_model_source
from core.settings import RunConfig

STEPS = ("Model", "Data", "Train", "Results")
# Model types that have no text-generating head (they classify only).
ENCODER_ONLY = {"bert", "roberta", "distilbert", "deberta", "deberta-v2", "electra", "xlm-roberta"}


def model_ready(config: RunConfig) -> tuple[bool, str]:
    try:
        source = check_model_source(config.model.name_or_path)
    except ModelError as err:
        return False, str(err)
    if config.model.task != "classification" and source.model_type in ENCODER_ONLY:
        return False, (
            f"{source.description} is an encoder: it can classify but not write text. For the "
            f"task '{config.model.task}' choose a decoder model (e.g. SmolLM2, Qwen2.5) or a "
            "Flan-T5 for seq2seq on the Model page."
        )
    return True, ""


def data_ready(config: RunConfig) -> tuple[bool, str]:
    data = config.data
    if not data.path:
        return False, "Upload a data file or use the sample data first."
    if not Path(data.path).exists():
        return False, f"The data file {data.path} is gone; upload it again."
    if config.model.task == "classification" and not (data.text_column and data.label_column):
        return False, "Choose the text column and the label column."
    if config.model.task != "classification" and not (
        data.messages_column or data.text_column or data.response_column
    ):
        return False, "Choose the columns the model learns from."
    if config.model.task == "seq2seq" and not data.response_column:
        return False, "Choose the output column the model learns to write."
    return True, ""


def train_ready(run_dir: str | None) -> tuple[bool, str]:
    if not run_dir:
        return False, "Start a training run first."
    state = runs.read_status(Path(run_dir)).get("state")
    if state in ("completed", "stopped") and (Path(run_dir) / runs.ADAPTER_DIR).exists():
        return True, ""
    if state in runs.ACTIVE_STATES:
        return False, "Training is still running; results appear when it finishes."
    return False, "The last run did not finish; start training again."


def step_readiness(config: RunConfig, run_dir: str | None) -> dict[str, tuple[bool, str]]:
    """For each guided step: (complete, reason it is not) — drives the stepper and Next buttons."""
    return {
        "Model": model_ready(config),
        "Data": data_ready(config),
        "Train": train_ready(run_dir),
        "Results": train_ready(run_dir),
    }
