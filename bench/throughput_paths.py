"""The training paths bench/train_throughput.py times: ordinary recipes and the app's.

Every path trains the same rows with the same LoRA settings and takes its loss on the same tokens:
classification on every row's label; causal LM on the response tokens only (the app's token rows,
prompt tokens labelled -100, are handed to every causal-LM path, so tokenisation is not timed).

- a0 tutorial default: Trainer + peft, random batches, each padded to its longest row;
- a1 Trainer + peft with `train_sampling_strategy="group_by_length"` and the Trainer's default
  (fused) AdamW: the strongest plain-transformers recipe;
- a2 (causal LM) TRL's SFTTrainer with `completion_only_loss=True` and `padding_free=True`;
- b the app: `prepare_task`, `build_training_args`, `StudioTrainer`, the StudioCallback.

All paths run with the same torch thread count (the app's rule, core.train.speed), so the ratios
measure the training path, not the thread setting.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from transformers import Trainer, TrainingArguments, set_seed

from core.models import resolve_model_path
from core.settings import RunConfig

IGNORE = -100


def classification_rows(config: RunConfig, tokenizer):
    """The tutorial way: whole texts tokenised with truncation (same rows as the app's split)."""
    from datasets import Dataset

    from core.train import classification

    train, _, labels = classification.prepare_frames(config)
    ids = {name: i for i, name in enumerate(labels)}
    enc = tokenizer(train["text"].tolist(), truncation=True, max_length=config.training.max_length)
    return Dataset.from_dict({**enc, "labels": [ids[v] for v in train["label"]]}), labels


def causal_rows(reference, completion_mask: bool = False):
    """The app's causal-LM token rows: input_ids + labels, or input_ids + completion_mask (TRL)."""
    from datasets import Dataset

    train = reference.datasets["train"]
    ids, labels = list(train["input_ids"]), list(train["labels"])
    if completion_mask:
        masks = [[int(x != IGNORE) for x in row] for row in labels]
        return Dataset.from_dict({"input_ids": ids, "completion_mask": masks})
    return Dataset.from_dict({"input_ids": ids, "labels": labels})


def _lora_model(config: RunConfig, path: str, n_labels: int):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if n_labels:
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=n_labels)
        task = "SEQ_CLS"
    else:
        model, task = AutoModelForCausalLM.from_pretrained(path), "CAUSAL_LM"
        model.config.use_cache = False
    lora = config.lora
    targets = "all-linear" if lora.target_modules == ["all-linear"] else None
    peft_config = LoraConfig(
        task_type=task, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
        target_modules=targets,
    )  # fmt: skip
    return get_peft_model(model, peft_config)


def _arguments(config: RunConfig, steps: int, work: Path, kind: str, bf16: bool) -> dict:
    t = config.training
    args = dict(
        output_dir=str(work / kind), max_steps=steps, learning_rate=t.learning_rate,
        per_device_train_batch_size=t.per_device_train_batch_size,
        warmup_steps=int(t.warmup_ratio * steps), save_strategy="no", eval_strategy="no",
        report_to="none", disable_tqdm=True, use_cpu=not torch.cuda.is_available(),
        seed=t.seed, bf16=bf16, logging_steps=10_000,
    )  # fmt: skip
    if kind != "a0":
        args["train_sampling_strategy"] = "group_by_length"
    return args


def baseline_path(kind: str, config: RunConfig, steps: int, work: Path, reference, bf16=False):
    """(model, trainer) for a0, a1 or a2 on the reference's rows."""
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, DataCollatorWithPadding

    path = resolve_model_path(config.model.name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    set_seed(config.training.seed)
    classify = config.model.task == "classification"
    args = _arguments(config, steps, work, kind, bf16)
    if kind == "a2":
        from trl import SFTConfig, SFTTrainer

        model = _lora_model(config, path, 0)
        sft = SFTConfig(**args, completion_only_loss=True, padding_free=True, max_length=None)
        data = causal_rows(reference, completion_mask=True)
        trainer = SFTTrainer(model=model, args=sft, train_dataset=data, processing_class=tokenizer)
        return model, trainer
    if classify:
        data, labels = classification_rows(config, tokenizer)
        collator = DataCollatorWithPadding(tokenizer)
    else:
        data, labels = causal_rows(reference), []
        collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE, padding=True)
    model = _lora_model(config, path, len(labels))
    trainer = Trainer(
        model=model, args=TrainingArguments(**args), train_dataset=data, data_collator=collator
    )
    return model, trainer


def app_trainer(config: RunConfig, run_dir: Path, callbacks=None):
    """(prepared task, trainer) as `python -m core.train` builds them, with evaluation and
    saving off: what every bench that times or scores the app's own path starts from."""
    from core.train.recipe import build_training_args
    from core.train.tasks import prepare_task
    from core.train.trainer import StudioTrainer

    set_seed(config.training.seed)
    prepared = prepare_task(config, resolve_model_path(config.model.name_or_path))
    args = build_training_args(config, run_dir, n_train=prepared.n_train)
    args = dataclasses.replace(
        args, eval_strategy="no", save_strategy="no", load_best_model_at_end=False
    )
    trainer = StudioTrainer(
        model=prepared.model,
        args=args,
        train_dataset=prepared.datasets["train"],
        data_collator=prepared.collator,
        processing_class=prepared.tokenizer,
        callbacks=callbacks,
    )
    return prepared, trainer


def app_path(config: RunConfig, steps: int, work: Path, reference=None, bf16=False):
    """(b) the functions `python -m core.train` calls, timing with evaluation/saving off."""
    from core.train.callbacks import StopRequest, StudioCallback

    changes = {"max_steps": steps, "precision": "bf16" if bf16 else "fp32"}
    config = config.replace(training=changes)
    run_dir = work / "app-run"
    run_dir.mkdir(exist_ok=True)
    callbacks = [StudioCallback(run_dir, StopRequest(), is_main=True)]
    prepared, trainer = app_trainer(config, run_dir, callbacks)
    return prepared.model, trainer


def path_function(kind: str):
    if kind == "b":
        return app_path
    return lambda config, steps, work, reference, bf16=False: baseline_path(
        kind, config, steps, work, reference, bf16
    )
