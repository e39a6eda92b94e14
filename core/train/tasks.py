"""One entry per task: load the data, the model and the tokens; write the final evaluation.

prepared = prepare_task(config, model_path)      # model, tokenizer, token datasets, collator
... train prepared.model on prepared.datasets["train"] ...
write_task_eval(prepared, trainer.model, run_dir)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.settings import RunConfig
from core.train import speed
from core.train.adapters import attach_adapter, check_start_adapter


@dataclass
class PreparedTask:
    """Everything the Trainer needs for one task, and what the final evaluation reads."""

    task: str
    model: Any
    tokenizer: Any
    datasets: dict  # {"train", "validation"}: datasets.Dataset of token rows
    collator: Any
    eval_collator: Any  # always pads (evaluation runs row batches, not packed rows)
    validation: Any  # classification: the validation frame; text tasks: the examples
    labels: list[str] = field(default_factory=list)
    n_train: int = 0
    packing: bool = False
    cache_hit: bool = False
    compute_metrics: Any = None


def prepare_task(
    config: RunConfig, model_path: str, precision: str = "fp32", resuming: bool = False
) -> PreparedTask:
    """Load data, model (seeded by the caller first, in the dtype of the resolved `precision`)
    and tokens for the config's task. `resuming`: a checkpoint will overwrite the trained weights,
    so the classifier's probe head start is skipped.

    Raises:
        DataError: the data does not fit the task (missing column, too few rows, ...).
        ConfigError: a setting cannot run here (e.g. QLoRA without a GPU).
    """
    if config.model.task == "classification":
        prepared = _prepare_classification(config, model_path, precision, resuming)
    else:
        prepared = _prepare_text(config, model_path, precision)
    return prepared


def _prepare_classification(
    config: RunConfig, model_path: str, precision: str, resuming: bool
) -> PreparedTask:
    from core.train import cache, classification

    train_frame, val_frame, labels = classification.prepare_frames(config)
    model, tokenizer = classification.load_base(config, model_path, labels, precision)
    frames = {"train": train_frame, "validation": val_frame}
    key = cache.cache_key(config, tokenizer, {"labels": labels})
    datasets, hit = cache.cached_datasets(
        key,
        lambda: classification.tokenize_frames(
            tokenizer, frames, labels, config.training.max_length
        ),
    )
    collator = speed.make_collator(config, tokenizer, packing=False)
    if resuming:  # the checkpoint holds the trained head
        print("head start: skipped (resuming: the checkpoint holds the head)", flush=True)
    elif config.lora.init_from:
        check_start_adapter(config, labels, pooling=model.config.classifier_pooling)
        print(f"head start: from the adapter in {config.lora.init_from}", flush=True)
    else:
        _start_head(config, model, datasets["train"], collator, len(labels))
    model = attach_adapter(model, config, "SEQ_CLS")
    return PreparedTask(
        task="classification",
        model=model,
        tokenizer=tokenizer,
        datasets=datasets,
        collator=collator,
        eval_collator=collator,
        validation=val_frame,
        labels=labels,
        n_train=len(train_frame),
        cache_hit=hit,
        compute_metrics=classification.make_compute_metrics(labels),
    )


def _start_head(config: RunConfig, model, train_dataset, collator, n_labels: int) -> None:
    """The probe head start (core.train.heads) where the config asks for it; prints what it did."""
    if config.model.head_start != "probe":
        return
    from core.train.heads import start_head_from_probe

    started = time.perf_counter()
    head = start_head_from_probe(model, train_dataset, collator, n_labels)
    if head is None:
        print("head start: random (this head reads a position of a sequence)", flush=True)
        return
    head["seconds"] = round(time.perf_counter() - started, 1)
    print(
        f"head start: fitted to the frozen features of {head['rows']} training rows in "
        f"{head['seconds']} s (L2 {head['strength']:g}, training accuracy "
        f"{head['train_accuracy']:.1%})",
        flush=True,
    )


def _prepare_text(config: RunConfig, model_path: str, precision: str) -> PreparedTask:
    from core.train import cache, generative

    train_examples, val_examples = generative.prepare_examples(config)
    model, tokenizer = generative.load_model(config, model_path, precision)
    on_prompt = speed.train_on_prompt(config)

    def build():
        return {
            split: generative.tokenize_examples(
                tokenizer, examples, config.training.max_length, on_prompt
            )
            for split, examples in (("train", train_examples), ("validation", val_examples))
        }

    key = cache.cache_key(config, tokenizer, {"train_on_prompt": on_prompt})
    datasets, hit = cache.cached_datasets(key, build)
    packing = speed.use_packing(config)
    return PreparedTask(
        task=config.model.task,
        model=model,
        tokenizer=tokenizer,
        datasets=datasets,
        collator=speed.make_collator(config, tokenizer, packing),
        eval_collator=speed.make_collator(config, tokenizer, packing=False),
        validation=val_examples,
        n_train=len(datasets["train"]),
        packing=packing,
        cache_hit=hit,
    )


def write_task_eval(prepared: PreparedTask, model, run_dir: Path) -> dict:
    """Write eval.json: the classification report, or loss / perplexity / samples for text tasks."""
    if prepared.task == "classification":
        from core.train.class_eval import write_final_eval

        return write_final_eval(
            model,
            prepared.datasets["validation"],
            prepared.validation,
            prepared.labels,
            run_dir,
            prepared.eval_collator,
        )
    from core.train.text_eval import write_text_eval

    return write_text_eval(
        model,
        prepared.tokenizer,
        prepared.datasets["validation"],
        prepared.validation,
        prepared.eval_collator,
        prepared.task,
        run_dir,
    )
