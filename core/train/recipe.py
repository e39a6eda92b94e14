"""The training recipe: read the config → build data and model → train → save → evaluate.

It reads nothing but the config file, so a run the UI started can be replayed from a terminal.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

from core import runs
from core.data.load import DataError
from core.models import ModelError, resolve_model_path
from core.settings import ConfigError, RunConfig
from core.train.callbacks import StopRequest, StudioCallback

EXPECTED_ERRORS = (DataError, ModelError, ConfigError)


def run_training(config_path: str | Path, resume: str | None = None) -> int:
    """Train the run whose config is at `config_path`; return the process exit code."""
    config_path = Path(config_path).resolve()
    run_dir = config_path.parent
    is_main = int(os.environ.get("RANK", "0")) == 0
    stop = StopRequest().install()

    def status(**fields):
        if is_main:
            runs.write_status(run_dir, **fields)

    status(
        state="starting", message="Loading the model and data", pid=os.getpid(), started=time.time()
    )
    try:
        config = RunConfig.load(config_path)
        outcome = _train(config, run_dir, stop, is_main, resume)
        status(**outcome)
        return 0 if outcome["state"] != "failed" else 1
    except EXPECTED_ERRORS as err:
        print(f"ERROR: {err}", flush=True)
        status(state="failed", message=str(err))
        return 1
    except Exception as err:  # noqa: BLE001 - the log keeps the traceback, the page the reason
        traceback.print_exc()
        status(state="failed", message=explain_failure(err))
        return 1
    finally:
        _close_process_group()


def explain_failure(err: BaseException) -> str:
    """A plain-words reason for an unexpected crash."""
    text = str(err)
    if isinstance(err, MemoryError) or "out of memory" in text.lower():
        return (
            "Training ran out of memory. Lower the batch size or the max length, turn on "
            "gradient checkpointing, or pick a smaller model."
        )
    return f"Training stopped with an error: {type(err).__name__}: {text[:300]}. The log has the details."


def _train(config: RunConfig, run_dir: Path, stop: StopRequest, is_main: bool, resume) -> dict:
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, set_seed

    from core.train import classification

    if config.model.task != "classification":
        raise ConfigError(
            f"The task '{config.model.task}' is not available in this version; use classification."
        )
    model_path = resolve_model_path(config.model.name_or_path)
    train_frame, val_frame, labels = classification.prepare_frames(config)
    set_seed(config.training.seed)  # before the classifier head and LoRA weights are drawn
    model, tokenizer = classification.load_model(config, model_path, labels)
    datasets = classification.tokenize_frames(
        tokenizer,
        {"train": train_frame, "validation": val_frame},
        labels,
        config.training.max_length,
    )
    args = build_training_args(config, run_dir, n_train=len(train_frame))
    callback = StudioCallback(run_dir, stop, is_main)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["validation"],
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=classification.compute_eval_metrics,
        callbacks=[callback] + _early_stopping(config),
    )
    trainer.remove_callback(PrinterCallback)  # our callback prints one line per log instead
    if is_main:
        _describe_start(run_dir, model, len(train_frame), len(val_frame), labels)
    trainer.train(resume_from_checkpoint=_resume_point(run_dir, resume))
    if callback.failure:
        return {"state": "failed", "message": callback.failure}
    if is_main:
        save_adapter(trainer, tokenizer, run_dir, config, labels)
        write_final_eval(
            trainer.model,
            datasets["validation"],
            val_frame,
            labels,
            run_dir,
            DataCollatorWithPadding(tokenizer),
        )
    stopped = stop.requested
    return {
        "state": "stopped" if stopped else "completed",
        "message": (
            f"Stopped by you; the adapter was saved as of step {trainer.state.global_step}."
            if stopped
            else "Training finished"
        ),
        "step": trainer.state.global_step,
        "finished": time.time(),
    }


def build_training_args(config: RunConfig, run_dir: Path, n_train: int):
    """TrainingArguments from the config; evaluation/logging cadence derived from the run length."""
    import torch
    from transformers import TrainingArguments

    from core.hardware import detect_hardware
    from core.launch.files import resolved_precision
    from core.launch.local import trainer_parallel_arguments

    hardware = detect_hardware()
    t = config.training
    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps_per_epoch = max(
        1, -(-n_train // (t.per_device_train_batch_size * t.gradient_accumulation_steps * world))
    )
    total = t.max_steps if t.max_steps > 0 else max(1, int(steps_per_epoch * t.num_train_epochs))
    eval_steps = t.eval_steps or max(1, total // 5)
    gpu_name = hardware.gpus[0]["name"] if hardware.gpus else ""
    precision = resolved_precision(config, cpu=not hardware.gpus, gpu_name=gpu_name)
    return TrainingArguments(
        output_dir=str(run_dir / runs.CHECKPOINT_DIR),
        num_train_epochs=t.num_train_epochs,
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=max(32, t.per_device_train_batch_size),
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        warmup_steps=int(t.warmup_ratio * total),
        weight_decay=t.weight_decay,
        lr_scheduler_type=t.lr_scheduler_type,
        optim=t.optim,
        max_grad_norm=t.max_grad_norm,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        gradient_checkpointing=t.gradient_checkpointing,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=t.early_stopping_patience > 0,
        metric_for_best_model="eval_loss",
        logging_steps=t.logging_steps or max(1, total // 50),
        logging_first_step=True,
        include_num_input_tokens_seen="non_padding",
        seed=t.seed,
        dataloader_num_workers=t.dataloader_num_workers,
        torch_compile=t.torch_compile,
        use_cpu=not torch.cuda.is_available(),
        # gloo only with several processes: in one process it crashes (ENGINES.md).
        ddp_backend=("gloo" if world > 1 and not torch.cuda.is_available() else None),
        report_to="none",
        disable_tqdm=True,
        save_only_model=False,
        # FSDP / DeepSpeed only where they really run (never a silent fallback to DDP).
        **trainer_parallel_arguments(config, hardware),
    )


def _early_stopping(config: RunConfig) -> list:
    if config.training.early_stopping_patience <= 0:
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience)]


def _resume_point(run_dir: Path, resume: str | None):
    if resume is None:
        return None
    if resume != "latest":
        return resume
    checkpoints = sorted(
        (run_dir / runs.CHECKPOINT_DIR).glob("checkpoint-*"),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    if not checkpoints:
        raise ConfigError(f"No checkpoint to resume from in {run_dir / runs.CHECKPOINT_DIR}.")
    return str(checkpoints[-1])


def _describe_start(run_dir: Path, model, n_train: int, n_val: int, labels: list[str]) -> None:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    runs.write_status(
        run_dir,
        trainable_params=trainable,
        total_params=total,
        n_train=n_train,
        n_val=n_val,
        labels=labels,
    )
    print(
        f"Training {trainable:,} of {total:,} parameters on {n_train} rows "
        f"({n_val} for validation), labels {labels}",
        flush=True,
    )


def save_adapter(trainer, tokenizer, run_dir: Path, config: RunConfig, labels: list[str]) -> Path:
    """Save the adapter (or full model), tokenizer and label map into run_dir/adapter."""
    target = run_dir / runs.ADAPTER_DIR
    trainer.save_model(str(target))
    tokenizer.save_pretrained(str(target))
    (target / "labels.json").write_text(
        json.dumps(
            {
                "labels": labels,
                "base_model": config.model.name_or_path,
                "method": config.lora.method,
            }
        )
    )
    return target


def write_final_eval(model, dataset, frame, labels: list[str], run_dir: Path, collator) -> dict:
    """Predict the validation split once; save metrics, confusion matrix and a few mistakes."""
    import numpy as np
    import torch

    from core.train.classification import classification_metrics, predict_logits

    logits = predict_logits(model, dataset, collator)
    label_ids = np.asarray(dataset["labels"])
    metrics = classification_metrics(logits, label_ids, len(labels))
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(label_ids))
    predicted = logits.argmax(-1)
    wrong = np.flatnonzero(predicted != label_ids)[:20]
    metrics.update(
        labels=labels,
        eval_loss=float(loss),
        n_validation=len(frame),
        chance_accuracy=float(frame["label"].value_counts(normalize=True).max()),
        mistakes=[
            {
                "text": frame["text"].iloc[i][:300],
                "label": frame["label"].iloc[i],
                "predicted": labels[predicted[i]],
            }
            for i in wrong
        ],
    )
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(metrics, indent=1))
    return metrics


def _close_process_group() -> None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - shutting down; nothing useful to report
        pass
