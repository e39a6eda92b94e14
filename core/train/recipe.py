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
from core.run_callbacks import EnergyCallback, TrackingCallback
from core.settings import ConfigError, RunConfig
from core.train.callbacks import StudioCallback
from core.train.health import DivergenceGuard, guard_failure
from core.train.precision import parameter_dtypes, precision_text, record_dtypes, run_precision
from core.train.stop import STOP, StopRequest

EXPECTED_ERRORS = (DataError, ModelError, ConfigError)


def run_training(config_path: str | Path, resume: str | None = None) -> int:
    """Train the run whose config is at `config_path`; return the process exit code."""
    config_path = Path(config_path).resolve()
    run_dir = config_path.parent
    is_main = int(os.environ.get("RANK", "0")) == 0
    stop = STOP.install()

    def status(**fields):
        if is_main:
            runs.write_status(run_dir, **fields)

    started = process_start_time()
    status(state="starting", message="Loading the model and data", pid=os.getpid(), started=started)
    config = None  # known once the file is read; the out-of-memory advice quotes its numbers
    try:
        config = RunConfig.load(config_path)
        outcome = _train(config, run_dir, stop, is_main, resume, started)
        status(**outcome)
        return 0 if outcome["state"] != "failed" else 1
    except EXPECTED_ERRORS as err:
        print(f"ERROR: {err}", flush=True)
        status(state="failed", message=str(err))
        return 1
    except Exception as err:  # noqa: BLE001 - the log keeps the traceback, the page the reason
        traceback.print_exc()
        status(state="failed", message=explain_failure(err, config))
        return 1
    finally:
        _close_process_group()


def process_start_time() -> float:
    """When this process began (epoch seconds), imports included; now where /proc is missing."""
    try:
        with open("/proc/self/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/uptime") as uptime:
            booted = time.time() - float(uptime.read().split()[0])
        return booted + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


def explain_failure(err: BaseException, config: RunConfig | None = None) -> str:
    """A plain-words reason for an unexpected crash; for running out of memory, concrete changes."""
    text = str(err)
    if isinstance(err, MemoryError) or "out of memory" in text.lower():
        return out_of_memory_advice(config)
    return f"Training stopped with an error: {type(err).__name__}: {text[:300]}. The log has the details."


def out_of_memory_advice(config: RunConfig | None) -> str:
    """What to change so that the run fits, with numbers from the config when it is known."""
    if config is None:
        return (
            "Training ran out of memory. Lower the batch size or the max length, turn on "
            "gradient checkpointing, or pick a smaller model."
        )
    t = config.training
    changes = []
    if t.per_device_train_batch_size > 1:
        half = max(1, t.per_device_train_batch_size // 2)
        changes.append(
            f"halve the batch size to {half} and set gradient accumulation to "
            f"{t.gradient_accumulation_steps * 2} (same effective batch)"
        )
    if t.max_length > 64:
        changes.append(f"lower the max length from {t.max_length} to {t.max_length // 2}")
    if not t.gradient_checkpointing:
        changes.append("turn on gradient checkpointing (about 30% slower, far less memory)")
    if config.lora.method == "full":
        changes.append("train a LoRA adapter instead of every weight")
    elif config.lora.quantization == "none":
        changes.append("on a CUDA GPU, load the model in 4 bits (QLoRA)")
    return (
        "Training ran out of memory. To fit: " + "; ".join(changes) + "; or pick a smaller model."
    )


def _train(
    config: RunConfig, run_dir: Path, stop: StopRequest, is_main: bool, resume, started: float
) -> dict:
    from transformers import PrinterCallback, set_seed

    from core.train import speed
    from core.train.batch_view import write_sample_batch
    from core.train.tasks import prepare_task, write_task_eval
    from core.train.trainer import StudioTrainer, sparse_logits_apply

    threads = speed.set_cpu_threads()
    model_path = resolve_model_path(config.model.name_or_path)
    if is_main and resume is None:
        from core.card import write_card

        write_card(run_dir, config, model_path)  # reproducibility card, before any step
    set_seed(config.training.seed)  # before the classifier head and LoRA weights are drawn
    prepared = prepare_task(config, model_path, run_precision(config), resuming=resume is not None)
    args = build_training_args(config, run_dir, n_train=prepared.n_train)
    callback = StudioCallback(run_dir, stop, is_main, process_started=started)
    guard = DivergenceGuard()
    tracking = TrackingCallback(run_dir, config.to_dict(), config.data.fingerprint, is_main)
    trainer = StudioTrainer(
        model=prepared.model,
        args=args,
        train_dataset=prepared.datasets["train"],
        eval_dataset=prepared.datasets["validation"],
        data_collator=prepared.collator,
        processing_class=prepared.tokenizer,
        compute_metrics=prepared.compute_metrics,
        callbacks=[callback, guard, EnergyCallback(run_dir, is_main), tracking]
        + _early_stopping(config),
    )
    trainer.remove_callback(PrinterCallback)  # our callback prints one line per log instead
    if prepared.task == "classification":
        trainer.head_lr_scale = config.training.head_lr_scale
    if is_main:
        features = speed.speed_features(
            config,
            prepared.packing,
            threads,
            prepared.cache_hit,
            args,
            sparse_logits_apply(prepared.model, prepared.task),
        )
        _describe_start(run_dir, prepared, features, args)
        write_sample_batch(run_dir, prepared)
    trainer.train(resume_from_checkpoint=_resume_point(run_dir, resume))
    failure = guard_failure(trainer)
    if failure:
        tracking.finish("failed")
        return {"state": "failed", "message": failure}
    if is_main:
        save_adapter(trainer, prepared.tokenizer, run_dir, config, prepared.labels)
        write_task_eval(prepared, trainer.model, run_dir)
        record_dtypes(run_dir, trainer.model)
        _learn_speed(config, model_path, args, *callback.steady_speed(trainer.state))
    stopped = stop.requested
    tracking.finish("stopped" if stopped else "completed")  # MLflow: the card, the adapter
    return {
        "state": "stopped" if stopped else "completed",
        "message": _outcome(trainer, stopped, _stopped_by(run_dir)),
        "step": trainer.state.global_step,
        "finished": time.time(),
    }


def _learn_speed(config: RunConfig, model_path: str, args, seconds: float, tokens: int) -> None:
    """Refine the estimator's CPU speed from this run (single process, fp32 only); never fails
    the run: a model folder without a readable config just teaches nothing."""
    if args.bf16 or args.fp16 or args.world_size > 1 or not args.use_cpu:
        return
    from core.catalog import ModelSourceError, read_local_model
    from core.timing import learn_from_run

    try:
        factor = learn_from_run(config, read_local_model(model_path), seconds, tokens)
    except (ModelSourceError, OSError, ValueError, KeyError) as err:
        print(f"speed calibration skipped: {err}", flush=True)
        return
    if factor is None:
        print("speed calibration: this run was too short or too unusual to learn from", flush=True)
    else:
        print(f"speed calibration: element-wise factor now {factor:.2f}", flush=True)


def _stopped_by(run_dir: Path) -> str:
    """Who stopped the run, in words: the user's Stop (which writes `stop_requested`, locally or
    through Slurm) or, in a job submitted to Slurm with no such request, the time limit's warning
    signal (`#SBATCH --signal=TERM@60`)."""
    from core.cluster.slurm import SLURM_FILE

    if not (Path(run_dir) / SLURM_FILE).exists() or not os.environ.get("SLURM_JOB_ID"):
        return "by you"  # a local run, also one started inside an allocation
    if runs.read_status(run_dir).get("stop_requested"):
        return "by you"
    return "before Slurm's time limit"


def _outcome(trainer, stopped: bool, by: str = "by you") -> str:
    """What was saved, in words: with early stopping the best checkpoint is what the adapter holds."""
    best = getattr(trainer.state, "best_global_step", None)
    kept_best = trainer.args.load_best_model_at_end and best
    step = trainer.state.global_step
    if stopped:
        saved = (
            f"the adapter holds the best checkpoint (step {best})"
            if kept_best
            else f"the adapter was saved as of step {step}"
        )
        return f"Stopped {by} at step {step}; {saved}. A checkpoint is kept to resume from."
    if kept_best and best != step:
        return f"Training finished; the adapter is the best checkpoint (step {best})."
    return "Training finished"


def build_training_args(config: RunConfig, run_dir: Path, n_train: int):
    """TrainingArguments from the config; evaluation/logging cadence derived from the run length."""
    import torch
    from transformers import TrainingArguments

    from core.hardware import detect_hardware
    from core.launch.local import trainer_parallel_arguments
    from core.tracking import tensorboard_report_to

    hardware = detect_hardware()
    t = config.training
    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps_per_epoch = max(
        1, -(-n_train // (t.per_device_train_batch_size * t.gradient_accumulation_steps * world))
    )
    total = t.max_steps if t.max_steps > 0 else max(1, int(steps_per_epoch * t.num_train_epochs))
    eval_steps = t.eval_steps or max(1, total // 5)
    precision = run_precision(config)
    report_to = tensorboard_report_to(
        config.tracking.tensorboard, run_dir, is_main=int(os.environ.get("RANK", "0")) == 0
    )
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
        label_smoothing_factor=t.label_smoothing_factor,
        lr_scheduler_type=t.lr_scheduler_type,
        optim=t.optim,
        max_grad_norm=t.max_grad_norm,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        gradient_checkpointing=t.gradient_checkpointing,
        # Non-reentrant checkpointing needs no input gradients, so it works with frozen LoRA bases.
        gradient_checkpointing_kwargs={"use_reentrant": False}
        if t.gradient_checkpointing
        else None,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=t.early_stopping_patience > 0,
        **best_model_metric(config.model.task),
        logging_steps=t.logging_steps or max(1, total // 50),
        logging_first_step=True,
        include_num_input_tokens_seen="non_padding",
        seed=t.seed,
        dataloader_num_workers=t.dataloader_num_workers,
        torch_compile=t.torch_compile,
        use_cpu=not torch.cuda.is_available(),
        # gloo only with several processes: in one process it crashes (ENGINES.md).
        ddp_backend=("gloo" if world > 1 and not torch.cuda.is_available() else None),
        report_to=report_to or "none",  # MLflow goes through core.tracking, not report_to
        disable_tqdm=True,
        save_only_model=False,
        # The divergence guard's and early stopping's state come back with the checkpoint.
        restore_callback_states_from_checkpoint=True,
        # FSDP / DeepSpeed only where they really run (never a silent fallback to DDP).
        **trainer_parallel_arguments(config, hardware),
    )


def best_model_metric(task: str) -> dict:
    """What the best checkpoint and early stopping follow: validation macro-F1 for a classifier,
    validation loss for text generation.

    Macro-F1 rather than accuracy: on imbalanced labels accuracy can sit at the commonest label's
    share while the rare labels are still being learned, and stopping there would keep a model
    that ignores them; macro-F1 counts every label alike (the Results page's second headline
    number). The loss is what a generative run has at every evaluation.
    """
    if task == "classification":
        return {"metric_for_best_model": "eval_macro_f1", "greater_is_better": True}
    return {"metric_for_best_model": "eval_loss", "greater_is_better": False}


def _early_stopping(config: RunConfig) -> list:
    if config.training.early_stopping_patience <= 0:
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(early_stopping_patience=config.training.early_stopping_patience)]


def _resume_point(run_dir: Path, resume: str | None):
    """The checkpoint to resume from: `resume` itself, or for "latest" the newest complete one
    (partial saves left by a kill are removed on the way).

    Raises:
        ConfigError: there is no complete checkpoint, or the named one is incomplete.
    """
    from core.train import checkpoints

    if resume is None:
        return None
    if resume != "latest":
        if not checkpoints.is_complete(Path(resume)):
            raise ConfigError(
                f"{resume} is not a complete checkpoint (its save was cut off, or it is not a "
                "checkpoint folder). Resume from the latest checkpoint instead."
            )
        return resume
    root = run_dir / runs.CHECKPOINT_DIR
    removed = checkpoints.remove_partial(root) if int(os.environ.get("RANK", "0")) == 0 else []
    if removed:
        print(f"Removed incomplete checkpoint(s) {', '.join(removed)} (cut off while saving)")
    complete = checkpoints.complete_checkpoints(root)
    if not complete:
        cut = f" ({', '.join(removed)} was cut off while saving)" if removed else ""
        raise ConfigError(f"No checkpoint to resume from in {root}{cut}. Start the run again.")
    return str(complete[-1])


def _describe_start(run_dir: Path, prepared, features: list[str], args) -> None:
    model = prepared.model
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    n_val = len(prepared.validation)
    dtypes = parameter_dtypes(model)
    autocast = "bf16" if args.bf16 else "fp16" if args.fp16 else "none"
    runs.write_status(
        run_dir,
        task=prepared.task,
        trainable_params=trainable,
        total_params=total,
        n_train=prepared.n_train,
        n_val=n_val,
        labels=prepared.labels,
        speed_features=features,
        weights_dtype=dtypes["weights"],
        trained_dtype=dtypes["trained"],
        autocast=autocast,
    )
    labels = f", labels {prepared.labels}" if prepared.labels else ""
    print(
        f"Training {trainable:,} of {total:,} parameters ({prepared.task}) on "
        f"{prepared.n_train} rows ({n_val} for validation){labels}",
        flush=True,
    )
    print("Speed features: " + "; ".join(features), flush=True)
    described = {"weights_dtype": dtypes["weights"], "trained_dtype": dtypes["trained"]}
    print(f"Precision: {precision_text({**described, 'autocast': autocast})}", flush=True)


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
                "task": config.model.task,
                "pooling": getattr(trainer.model.config, "classifier_pooling", "cls"),
            }
        )
    )
    return target


def _close_process_group() -> None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - shutting down; nothing useful to report
        pass
