"""The three causal-LM training paths bench/gpu_check.py times side by side, on token ids only.

No tokenizer is downloaded: rows are random token ids whose prompt and response lengths follow a
log-normal spread (a long tail, like real instructions), and a three-word tokenizer built here
supplies the pad token the libraries ask for. The loss is on the response tokens in every path.

- a1: transformers Trainer + peft, `train_sampling_strategy="group_by_length"`, each batch padded
  to its longest row, the Trainer's default optimizer;
- a2: TRL's SFTTrainer, `completion_only_loss=True`, `padding_free=True`;
- app: core.train.trainer.StudioTrainer (length-bucketed batches, logits only at trained tokens)
  with the app's collator for its default settings (core.train.speed) and its optimizer.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time

IGNORE = -100
SPECIAL = 3  # ids 0..2: pad, eos, unk of the little tokenizer


def make_rows(n: int, vocab: int, max_len: int, seed: int = 0, scale: float = 1.0) -> list[dict]:
    """Rows of {"prompt": ids, "response": ids}; median ~110 + ~150 tokens at scale 1, long tail."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        n_prompt = max(2, int(rng.lognormvariate(math.log(110 * scale), 0.7)))
        n_answer = max(2, int(rng.lognormvariate(math.log(150 * scale), 0.8)))
        n_prompt = min(n_prompt, max_len // 2)
        n_answer = min(n_answer, max_len - n_prompt)
        prompt = [rng.randrange(SPECIAL, vocab) for _ in range(n_prompt)]
        answer = [rng.randrange(SPECIAL, vocab) for _ in range(n_answer)]
        rows.append({"prompt": prompt, "response": answer})
    return rows


def little_tokenizer():
    """A fast tokenizer holding only <pad>, <eos>, <unk>: the token ids come pre-made."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2}
    raw = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    return PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )


def labelled(rows: list[dict]) -> dict:
    """Columns input_ids / labels (prompt masked) / attention_mask / completion_mask."""
    cols = {"input_ids": [], "labels": [], "attention_mask": [], "completion_mask": []}
    for row in rows:
        ids = row["prompt"] + row["response"]
        cols["input_ids"].append(ids)
        cols["labels"].append([IGNORE] * len(row["prompt"]) + row["response"])
        cols["attention_mask"].append([1] * len(ids))
        cols["completion_mask"].append([0] * len(row["prompt"]) + [1] * len(row["response"]))
    return cols


def sampling_kwargs(training_arguments) -> dict:
    """group_by_length under whichever name this transformers version uses."""
    names = {f.name for f in dataclasses.fields(training_arguments)}
    if "train_sampling_strategy" in names:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def common_args(out_dir: str, steps: int, batch: int, bf16: bool, cuda: bool) -> dict:
    return dict(
        output_dir=out_dir,
        max_steps=steps,
        per_device_train_batch_size=batch,
        learning_rate=2e-4,
        warmup_steps=0,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_steps=10_000,
        bf16=bf16,
        use_cpu=not cuda,
        seed=0,
        remove_unused_columns=True,
    )


def build_trainer(path: str, model, rows: list[dict], tokenizer, args: dict):
    """(trainer, note) for one path; `model` already carries its LoRA adapter."""
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    cols = labelled(rows)
    if path == "a1":
        data = Dataset.from_dict({k: cols[k] for k in ("input_ids", "labels", "attention_mask")})
        targs = TrainingArguments(**args, **sampling_kwargs(TrainingArguments))
        collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE, padding=True)
        trainer = Trainer(model=model, args=targs, train_dataset=data, data_collator=collator)
        return trainer, f"Trainer, group_by_length, padded, optim={targs.optim}"
    if path == "a2":
        from trl import SFTConfig, SFTTrainer

        data = Dataset.from_dict({k: cols[k] for k in ("input_ids", "completion_mask")})
        sargs = SFTConfig(
            **args, completion_only_loss=True, padding_free=True, max_length=None, packing=False
        )
        trainer = SFTTrainer(
            model=model, args=sargs, train_dataset=data, processing_class=tokenizer
        )
        return trainer, f"TRL SFTTrainer, completion-only, padding_free, optim={sargs.optim}"
    from core.settings import RunConfig
    from core.train.speed import make_collator, use_packing
    from core.train.trainer import StudioTrainer

    config = RunConfig().replace(model={"task": "causal_lm"})
    data = Dataset.from_dict({k: cols[k] for k in ("input_ids", "labels")})
    targs = TrainingArguments(
        **args, optim=config.training.optim, **sampling_kwargs(TrainingArguments)
    )
    packing = use_packing(config)
    collator = make_collator(config, tokenizer, packing=packing)
    trainer = StudioTrainer(model=model, args=targs, train_dataset=data, data_collator=collator)
    layout = "padding-free" if packing else "padded"
    return trainer, f"StudioTrainer, length-bucketed, {layout}, optim={targs.optim}"


class TokenCounter:
    """Wraps a collator; records the real tokens and trained tokens of every batch it builds."""

    def __init__(self, collator):
        self.collator, self.tokens, self.trained = collator, [], []

    def __call__(self, features):
        self.tokens.append(sum(len(f["input_ids"]) for f in features))
        trained = 0
        for f in features:
            if "labels" in f:
                trained += sum(1 for x in f["labels"][1:] if x != IGNORE)
            else:
                trained += max(0, sum(f["completion_mask"][1:]))
        self.trained.append(trained)
        return self.collator(features)


def step_timer(sync, deadline: float):
    """A TrainerCallback recording each step's wall time; stops training past `deadline`."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self._t = [], 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            sync()
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            sync()
            self.times.append(time.perf_counter() - self._t)
            if time.perf_counter() > deadline:
                control.should_training_stop = True

    return StepTimer()


def same_batch_loss(trainer, rows: list[dict], device) -> float:
    """The path's loss on the first 8 rows, collated its own way (all paths should agree)."""
    import torch

    cols = labelled(rows[:8])
    feats = [{k: cols[k][i] for k in cols} for i in range(len(cols["input_ids"]))]
    collator = trainer.data_collator
    inner = getattr(collator, "collator", collator)
    names = set(trainer.train_dataset.column_names)
    batch = inner([{k: v for k, v in f.items() if k in names} for f in feats])
    batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
    trainer.model.eval()  # no dropout: the paths must agree to rounding
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=trainer.args.bf16):
        loss = trainer.compute_loss(trainer.model, batch)
    trainer.model.train()
    return float(loss)


# ---------------------------------------------------------------- memory and plain steps


def peak_gb(device) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 1e9


def reset_memory(device):
    import gc

    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


FORWARD_PEAKS: list = []  # peak memory after the first forward of each train_steps call


def train_steps(model, batch: int, length: int, vocab: int, steps: int, device, bf16: bool):
    """Plain LoRA/full training steps on fixed-length random rows (loss on every token, as the
    estimator assumes): autocast, AdamW over the trained parameters. Returns step seconds."""
    import torch

    # As the Trainer does: a model from `from_pretrained` is in eval mode, where transformers
    # skips gradient checkpointing (and dropout), so QLoRA's step ran without checkpointing.
    model.train()
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    times = []
    for step in range(steps):
        ids = torch.randint(3, vocab, (batch, length), generator=gen).to(device)
        start = time.perf_counter()
        with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, labels=ids).loss
        if step == 0:
            FORWARD_PEAKS.append(peak_gb(device))  # where the peak falls: forward or backward
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    del optimizer
    return times


def dtype_bytes(model) -> dict:
    """GB of parameters per dtype (QLoRA's preparation casts the unquantised ones to fp32)."""
    out: dict = {}
    for param in model.parameters():
        key = str(param.dtype)
        out[key] = out.get(key, 0.0) + param.numel() * param.element_size() / 1e9
    return out
