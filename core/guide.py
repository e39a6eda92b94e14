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


def data_size(config: RunConfig) -> tuple[int, int]:
    """(training rows, real tokens in them) of the chosen data, for the time estimate.

    Tokens are counted as words × 1.3 (about what WordPiece and BPE give on English), capped at
    the max length, so no tokenizer has to load.
    """
    from core.data.load import load_table

    data = config.data
    table = load_table(data.path)
    column = data.messages_column or data.text_column
    texts = table[column].astype(str)
    if data.response_column and data.response_column in table:
        texts = texts + " " + table[data.response_column].astype(str)
    tokens = (texts.str.split().str.len().fillna(0) * 1.3).clip(upper=config.training.max_length)
    train_share = 1 - data.validation_fraction
    return int(len(table) * train_share), int(tokens.sum() * train_share)


def run_estimate(config: RunConfig, hardware):
    """Time, memory, cost and energy of this config on this machine, from the chosen data.

    Returns:
        A core.estimate.Estimate, or None when the model's facts are unknown (e.g. offline Hub id).
    """
    from core.catalog import ModelSourceError, resolve_model
    from core.estimate import EstimateOptions, estimate
    from core.hardware import plan_from_hardware

    try:
        facts = resolve_model(config.model.name_or_path)
    except ModelSourceError:
        return None
    rows, tokens = data_size(config)
    plan = plan_from_hardware(hardware)
    options = EstimateOptions(dataset_rows=rows, dataset_tokens=tokens)
    return estimate(config, facts, plan, options, with_fixes=False)
