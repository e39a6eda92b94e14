"""The guided path's presets: defined by what they buy, then resolved from the data.

A preset names a trade of time for quality. The numbers a run needs (optimizer steps, batch size,
evaluation cadence, early stopping, max length) are resolved from the data it will train on, so a
small dataset still gets enough optimizer steps to learn: one epoch of 300 rows at batch 16 is 19
steps, which left MiniLM predicting the majority class (issue #10); a floor of optimizer steps
fixes that. "Auto" searches the settings within a time budget (core.search) and starts from the
"Balanced" resolution.

    from core.presets import resolve_preset
    config, plan = resolve_preset(config, "Quick")
    print(plan.describe())   # "about 150 steps (4.0 epochs of 301 rows, batch 8), 5 evaluations"
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.settings import ConfigError, RunConfig

PRESET_NAMES = ("Auto", "Quick", "Balanced", "Thorough")
SMALL_DATA_ROWS = 1000  # below this many training rows a smaller batch gives more updates


@dataclass(frozen=True)
class Preset:
    """What a preset buys, in numbers that do not depend on the data."""

    summary: str  # for the Train page: what it costs and what it gives
    epochs: float  # passes over the data when the data is big enough
    min_steps: int  # optimizer steps it never goes below (small data: more epochs)
    max_steps: int  # optimizer steps it never goes above (big data: part of an epoch)
    learning_rate: float
    lora_r: int
    evaluations: int  # validation passes during training
    patience: int  # evaluations without improvement before stopping early (0: off)


PRESETS: dict[str, Preset] = {
    "Quick": Preset(
        "A first result in a few minutes: at least 150 optimizer steps, learning rate 3e-3, "
        "LoRA rank 8.",
        epochs=1.0,
        min_steps=150,
        max_steps=400,
        learning_rate=3e-3,
        lora_r=8,
        evaluations=5,
        patience=0,
    ),
    "Balanced": Preset(
        "Better accuracy, about 3× Quick's time: 3 epochs (at least 300 steps), learning rate "
        "2e-3, LoRA rank 16, stops early when validation stalls.",
        epochs=3.0,
        min_steps=300,
        max_steps=1500,
        learning_rate=2e-3,
        lora_r=16,
        evaluations=6,
        patience=3,
    ),
    "Thorough": Preset(
        "Best accuracy, slowest: 5 epochs (at least 500 steps), learning rate 1e-3, LoRA rank "
        "32, stops early when validation stalls.",
        epochs=5.0,
        min_steps=500,
        max_steps=4000,
        learning_rate=1e-3,
        lora_r=32,
        evaluations=8,
        patience=3,
    ),
}
AUTO_SUMMARY = (
    "Tries several settings within a time budget you set (Optuna, weak ones stopped early) and "
    "keeps the best: the guided default."
)


@dataclass(frozen=True)
class Plan:
    """The numbers a preset resolved to for one dataset, in words for the Train page."""

    preset: str
    train_rows: int
    batch_size: int
    steps: int
    epochs: float
    evaluations: int
    patience: int
    max_length: int

    def describe(self) -> str:
        text = (
            f"about {self.steps} steps ({self.epochs:.1f} epochs of {self.train_rows:,} rows, "
            f"batch {self.batch_size}), {self.evaluations} evaluations"
        )
        if self.patience:
            text += f", stops early after {self.patience} evaluations without improvement"
        return text


def summary(name: str) -> str:
    """One line for the preset chooser."""
    return AUTO_SUMMARY if name == "Auto" else PRESETS[name].summary


def plan_steps(preset: Preset, train_rows: int, batch_size: int) -> tuple[int, float]:
    """(optimizer steps, epochs they make): the preset's epochs, kept within its step limits."""
    per_epoch = max(1, math.ceil(train_rows / batch_size))
    steps = int(min(preset.max_steps, max(preset.min_steps, per_epoch * preset.epochs)))
    return steps, steps / per_epoch


def resolve_plan(preset_name: str, train_rows: int, token_p95: int = 0, max_length: int = 128):
    """The numbers `preset_name` resolves to for `train_rows` training rows.

    Args:
        preset_name: one of PRESET_NAMES ("Auto" resolves like "Balanced": its first trial).
        train_rows: rows the trainer will train on (after the validation split).
        token_p95: 95th percentile of the inputs' length in tokens (0: unknown).
        max_length: the configured max length; only lowered, to what the data needs.

    Raises:
        ConfigError: an unknown preset name.
    """
    if preset_name not in PRESET_NAMES:
        raise ConfigError(
            f"unknown preset {preset_name!r}; choose one of {', '.join(PRESET_NAMES)}"
        )
    preset = PRESETS["Balanced" if preset_name == "Auto" else preset_name]
    batch = 8 if train_rows < SMALL_DATA_ROWS else 16
    steps, epochs = plan_steps(preset, max(1, train_rows), batch)
    if token_p95:  # short texts: no room for padding that is never filled
        max_length = min(max_length, max(32, 8 * math.ceil(token_p95 * 1.1 / 8)))
    return Plan(
        preset=preset_name,
        train_rows=train_rows,
        batch_size=batch,
        steps=steps,
        epochs=epochs,
        evaluations=min(preset.evaluations, steps),
        patience=preset.patience,
        max_length=max_length,
    )


def apply_plan(config: RunConfig, plan: Plan) -> RunConfig:
    """The config with the plan's numbers (the data and model stay as they are). An adapter to
    start from (lora.init_from) keeps its rank and scale: another rank could not load it."""
    preset = PRESETS["Balanced" if plan.preset == "Auto" else plan.preset]
    lora = {"r": preset.lora_r, "alpha": 2 * preset.lora_r} if not config.lora.init_from else {}
    return config.replace(
        training={
            "learning_rate": preset.learning_rate,
            "per_device_train_batch_size": plan.batch_size,
            "gradient_accumulation_steps": 1,
            "num_train_epochs": max(0.01, round(plan.epochs, 2)),
            "max_steps": plan.steps,
            "eval_steps": max(1, plan.steps // plan.evaluations),
            "early_stopping_patience": plan.patience,
            "max_length": plan.max_length,
        },
        lora=lora,
    )


def data_shape(config: RunConfig) -> tuple[int, int]:
    """(training rows, 95th-percentile tokens per input) of the config's data.

    Tokens are words × 1.3 (about what WordPiece and BPE give on English), so no tokenizer loads.

    Raises:
        DataError: the data file cannot be read.
    """
    from core.data.load import load_table

    data = config.data
    table = load_table(data.path)
    column = data.messages_column or data.text_column
    texts = table[column].astype(str) if column in table else table.iloc[:, 0].astype(str)
    for extra in (data.text_pair_column, data.prompt_column, data.response_column):
        if extra and extra in table:
            texts = texts + " " + table[extra].astype(str)
    words = texts.str.split().str.len().fillna(0)
    train_rows = int(round(len(table) * (1 - data.validation_fraction)))
    return train_rows, int(words.quantile(0.95) * 1.3) if len(words) else 0


def resolve_preset(config: RunConfig, preset_name: str) -> tuple[RunConfig, Plan]:
    """Resolve a preset from the config's data and apply it.

    Without data (none chosen yet) the plan assumes 2,000 rows, so the page still shows numbers.

    Raises:
        ConfigError: an unknown preset name.
        DataError: the data file cannot be read.
    """
    rows, p95 = data_shape(config) if config.data.path else (2000, 0)
    if config.model.task == "classification":
        plan = resolve_plan(preset_name, rows, p95, 128)
    else:  # generation keeps its max length: a cut response teaches a cut answer
        plan = resolve_plan(preset_name, rows, 0, config.training.max_length)
    return apply_plan(config, plan), plan
