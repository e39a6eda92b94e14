"""Training throughput: the standard transformers + peft recipe against this app's path, side by side.

    .venv/bin/python bench/train_throughput.py --rounds 2   # one epoch per path and round

By default each path runs one epoch of its setup's training rows (--steps 0), so both paths train
on exactly the same rows and the tokens/s ratio is the ratio of wall times; a fixed --steps N
compares different rows (the app's first batch holds the longest row, on purpose).

Both paths run in ONE process, alternating (a b, b a, ...) so that load from other programs on a
shared machine hits both alike; the ratios (b)/(a) are what to read. Two setups:

- classification: the embedded MiniLM + LoRA on assets/sample_reviews.csv;
- causal_lm: a 4-layer Llama built from a config (~4 M parameters, a BPE tokenizer trained here) on
  generated instructions whose lengths follow a log-normal spread (a long tail, like real data).

(a) standard: Trainer + peft defaults, texts tokenised with truncation, dynamic padding
    (DataCollatorWithPadding; for causal LM DataCollatorForLanguageModeling, which pads the same way
    and copies labels), random sampler, torch's default threads.
(b) app: `core.train.tasks.prepare_task` (tokens, fast dropout sampling), `build_training_args`,
    `speed.set_cpu_threads`, `core.train.trainer.StudioTrainer` (length-bucketed batches, logits
    only at trained positions) and the StudioCallback, exactly as `python -m core.train` uses them.

Evaluation and checkpointing are off in both while timing; afterwards both models are scored by the
same function on the same validation rows (classification: cross-entropy; causal LM: loss on the
response tokens). Round k trains both paths with seed + k: one epoch's eval loss moves a lot from
seed to seed, so compare the spreads, not one number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed  # noqa: E402

from core.models import resolve_model_path  # noqa: E402
from core.settings import RunConfig  # noqa: E402
from core.train import speed  # noqa: E402
from core.train.callbacks import StopRequest, StudioCallback  # noqa: E402
from core.train.recipe import build_training_args  # noqa: E402
from core.train.tasks import prepare_task  # noqa: E402
from core.train.trainer import StudioTrainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_THREADS = torch.get_num_threads()


def matmul_tflops(size: int = 1024, repeats: int = 8) -> float:
    """The best fp32 matrix-multiply throughput over 1 thread and torch's default threads, now
    (the MFU denominator: what this machine gives right now, with others' load)."""
    best = 0.0
    a, b = torch.randn(size, size), torch.randn(size, size)
    for threads in sorted({1, DEFAULT_THREADS}):
        torch.set_num_threads(threads)
        a @ b
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start) / 1e12)
    torch.set_num_threads(DEFAULT_THREADS)
    return best


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Meter(TrainerCallback):
    """Per-step wall time and peak resident memory while training."""

    def __init__(self):
        self.step_times, self.peak_mb, self._t = [], 0.0, 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.step_times.append(time.perf_counter() - self._t)
        self.peak_mb = max(self.peak_mb, rss_mb())


class CountingCollator:
    """Wraps a collator and counts the real (non-pad) tokens of every batch it builds."""

    def __init__(self, collator):
        self.collator, self.real_tokens, self.padded_tokens = collator, 0, 0

    def __call__(self, features):
        batch = self.collator(features)
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        self.real_tokens += int(mask.sum()) if mask is not None else ids.numel()
        self.padded_tokens += ids.numel()
        return batch


def write_instructions(path: Path, rows: int, seed: int = 0) -> list[str]:
    """Instruction/response pairs with log-normal lengths (median ~40 / ~60 words, long tail)."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices("abcdefghiklmnoprstuvy", k=rng.randint(2, 7))) for _ in range(600)]
    texts = []
    with open(path, "w") as out:
        for _ in range(rows):
            n_prompt = min(300, max(3, int(rng.lognormvariate(3.6, 0.7))))
            n_answer = min(300, max(2, int(rng.lognormvariate(4.0, 0.8))))
            prompt = " ".join(rng.choices(vocab, k=n_prompt))
            # The answer copies prompt words in order: something a model can learn.
            answer = " ".join((prompt.split() * 10)[:n_answer])
            out.write(json.dumps({"prompt": prompt, "response": answer}) + "\n")
            texts += [prompt, answer]
    return texts


def build_causal_model(folder: Path, corpus: list[str]) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(
        corpus + ["### Instruction:\n", "### Response:\n"],
        trainers.BpeTrainer(
            vocab_size=2000,
            special_tokens=["<pad>", "<s>", "</s>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    set_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def setup_configs(work: Path) -> dict[str, RunConfig]:
    reviews = RunConfig().replace(
        data={"path": str(ROOT / "assets" / "sample_reviews.csv")},
        training={"per_device_train_batch_size": 16, "max_length": 128, "learning_rate": 3e-3},
    )
    data = work / "instructions.jsonl"
    model = build_causal_model(work / "tiny-llama", write_instructions(data, rows=600))
    causal = RunConfig().replace(
        model={"name_or_path": str(model), "task": "causal_lm"},
        data={"path": str(data), "prompt_column": "prompt", "response_column": "response"},
        training={"per_device_train_batch_size": 8, "max_length": 512, "learning_rate": 2e-3},
        lora={"target_modules": ["all-linear"]},
    )
    return {"classification": reviews, "causal_lm": causal}


def _standard_data(config: RunConfig, tokenizer):
    """The tutorial way: whole texts tokenised with truncation, no length information kept."""
    from datasets import Dataset

    from core.train import classification, generative
    from core.train.chat import ensure_chat_template

    max_length = config.training.max_length
    if config.model.task == "classification":
        train, _, labels = classification.prepare_frames(config)
        ids = {name: i for i, name in enumerate(labels)}
        enc = tokenizer(train["text"].tolist(), truncation=True, max_length=max_length)
        return Dataset.from_dict({**enc, "labels": [ids[v] for v in train["label"]]}), labels
    ensure_chat_template(tokenizer)
    train, _ = generative.prepare_examples(config)
    texts = [tokenizer.apply_chat_template(e["turns"], tokenize=False) for e in train]
    enc = tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=False)
    return Dataset.from_dict(dict(enc)), []


def standard_path(config: RunConfig, steps: int, work: Path):
    """(a) transformers Trainer + peft with defaults."""
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        DataCollatorWithPadding,
    )

    torch.set_num_threads(DEFAULT_THREADS)
    path, t, lora = resolve_model_path(config.model.name_or_path), config.training, config.lora
    tokenizer = AutoTokenizer.from_pretrained(path)
    dataset, labels = _standard_data(config, tokenizer)
    set_seed(t.seed)
    if labels:
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))
        collator, task = DataCollatorWithPadding(tokenizer), "SEQ_CLS"
    else:
        model = AutoModelForCausalLM.from_pretrained(path)
        collator, task = DataCollatorForLanguageModeling(tokenizer, mlm=False), "CAUSAL_LM"
    targets = "all-linear" if lora.target_modules == ["all-linear"] else None
    model = get_peft_model(
        model,
        LoraConfig(
            task_type=task,
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=targets,
        ),
    )
    args = TrainingArguments(
        output_dir=str(work / "standard"),
        max_steps=steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        learning_rate=t.learning_rate,
        warmup_steps=int(t.warmup_ratio * steps),
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        seed=t.seed,
    )
    return model, Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)


def app_path(
    config: RunConfig, steps: int, work: Path, default_threads: bool = False, packing=None
):
    """(b) the functions `python -m core.train` calls, timing with evaluation/saving off.

    default_threads: keep torch's default threads (ablation: what the rest of the path gains).
    packing: force padding-free packing on (True) or off (False) for causal LM.
    """
    import dataclasses

    threads = speed.set_cpu_threads()
    if default_threads:
        threads = DEFAULT_THREADS
        torch.set_num_threads(threads)
    config = config.replace(training={"max_steps": steps})
    if packing is not None:
        config.training.packing = packing  # read with getattr by core.train.speed
    set_seed(config.training.seed)
    prepared = prepare_task(config, resolve_model_path(config.model.name_or_path))
    run_dir = work / "app-run"
    run_dir.mkdir(exist_ok=True)
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
        callbacks=[StudioCallback(run_dir, StopRequest(), is_main=True)],
    )
    print(f"  app speed features: threads={threads}, packing={prepared.packing}", flush=True)
    return prepared.model, trainer


def score(model, config: RunConfig, reference) -> float:
    """Validation loss by one function for both paths (reference: the app's prepared data)."""
    from core.train.classification import predict_logits
    from core.train.text_eval import token_weighted_loss

    val = reference.datasets["validation"]
    if config.model.task == "classification":
        logits = predict_logits(model, val, reference.eval_collator)
        labels = torch.tensor(val["labels"])
        return float(torch.nn.functional.cross_entropy(torch.from_numpy(logits), labels))
    return token_weighted_loss(model, val, reference.eval_collator)[0]


def measure(path_fn, config: RunConfig, steps: int, work: Path, reference, peak: float) -> dict:
    model, trainer = path_fn(config, steps, work)
    counter, meter = CountingCollator(trainer.data_collator), Meter()
    trainer.data_collator = counter
    trainer.add_callback(meter)
    base_mb = rss_mb()
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    params = sum(p.numel() for n, p in model.named_parameters() if "embed" not in n)
    # LoRA: forward 2N + backward through activations 2N FLOPs per token (frozen weights get no
    # gradient); attention and the adapters' own FLOPs are left out.
    flops = 4 * params * counter.real_tokens
    return {
        "real_tokens_per_s": counter.real_tokens / wall,
        "padding_share": 1 - counter.real_tokens / max(1, counter.padded_tokens),
        "step_time_s": statistics.median(meter.step_times),
        "peak_rss_mb": meter.peak_mb,
        "rss_growth_mb": meter.peak_mb - base_mb,
        "eval_loss": score(model, config, reference),
        "mfu": flops / wall / (peak * 1e12),
    }


def run_setup(
    name: str,
    config: RunConfig,
    steps: int,
    rounds: int,
    work: Path,
    packing: bool = False,
    thread_ablation: bool = False,
) -> dict:
    """Each round trains every path once with the same seed (round k: the config's seed + k), so
    the spread of final eval losses over rounds shows the seed-to-seed noise."""
    print(f"== {name}", flush=True)
    reference = prepare_task(config, resolve_model_path(config.model.name_or_path))
    if steps <= 0:  # one epoch: both paths see every training row once
        steps = math.ceil(reference.n_train / config.training.per_device_train_batch_size)
        print(f"  one epoch: {reference.n_train} rows, {steps} steps", flush=True)
    paths = {"a": standard_path, "b": app_path}
    if thread_ablation:
        paths["b_default_threads"] = lambda c, s, w: app_path(c, s, w, default_threads=True)
    if packing and config.model.task == "causal_lm":
        paths["b_packed"] = lambda c, s, w: app_path(c, s, w, packing=True)
    results = {key: [] for key in paths}
    for round_index in range(rounds):
        seeded = config.replace(training={"seed": config.training.seed + round_index})
        order = tuple(paths)
        order = order if round_index % 2 == 0 else order[::-1]
        for key in order:
            peak = max(matmul_tflops(), 1e-6)
            fn = paths[key]
            results[key].append(measure(fn, seeded, steps, work, reference, peak))
            results[key][-1]["matmul_tflops"] = peak
            shown = {k: round(v, 4) for k, v in results[key][-1].items()}
            print(f"  round {round_index + 1} ({key}): {shown}", flush=True)
    return results


LABELS = {
    "a": "(a) standard",
    "b": "(b) app",
    "b_default_threads": "(b) default threads",
    "b_packed": "(b) packing on",
}


def summarise(name: str, results: dict) -> list[str]:
    """A markdown table: the median of each metric per path, and each path's ratio to (a)."""

    def med(key, path):
        return statistics.median(r[key] for r in results[path])

    paths = [p for p in LABELS if p in results]
    header = " | ".join(f"{LABELS[p]} | ÷ (a)" if p != "a" else LABELS[p] for p in paths)
    rows = [f"| {name} | metric | {header} |", "|---|---|" + "---|" * (2 * len(paths) - 1)]
    for key, fmt in (
        ("real_tokens_per_s", "{:.0f}"),
        ("step_time_s", "{:.3f}"),
        ("padding_share", "{:.0%}"),
        ("peak_rss_mb", "{:.0f}"),
        ("matmul_tflops", "{:.3f}"),
        ("eval_loss", "{:.4f}"),
        ("mfu", "{:.1%}"),
    ):
        base = med(key, "a")
        cells = [fmt.format(base)]
        for path in paths[1:]:
            value = med(key, path)
            cells += [fmt.format(value), f"{value / base:.2f}" if base else "n/a"]
        rows.append(f"| | {key} | {' | '.join(cells)} |")
    ratios = [
        b["real_tokens_per_s"] / a["real_tokens_per_s"]
        for a, b in zip(results["a"], results["b"], strict=True)
    ]
    rows.append(f"| | (b)/(a) tokens/s per round: {', '.join(f'{r:.2f}' for r in ratios)} |")
    for path in paths:
        losses = ", ".join(f"{r['eval_loss']:.3f}" for r in results[path])
        rows.append(f"| | {LABELS[path]} eval loss per seed: {losses} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=0, help="optimizer steps; 0: one epoch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--setups", default="classification,causal_lm")
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument(
        "--packing", action="store_true", help="causal LM: also time the app with packing forced on"
    )
    parser.add_argument(
        "--thread-ablation",
        action="store_true",
        help="also time the app's path with torch's default thread count",
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    os.environ["STUDIO_DATA"] = str(work / "studio-data")
    configs = setup_configs(work)
    table, raw = [], {}
    for name in args.setups.split(","):
        raw[name] = run_setup(
            name, configs[name], args.steps, args.rounds, work, args.packing, args.thread_ablation
        )
        table += summarise(name, raw[name]) + [""]
    print("\n".join(table))
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
