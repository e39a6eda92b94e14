"""Predicted against measured: peak memory and step time of real LoRA training on this CPU.

    python bench/estimate_accuracy.py            # all configurations, about 3 minutes
    python bench/estimate_accuracy.py --no-save  # do not store the calibrated efficiency

Each configuration runs in a fresh process (so peak RSS belongs to it alone): a BERT-like or
Llama-like model built from a config with random weights, peft LoRA, transformers Trainer on random
token ids padded to the max length, fp32, 6 steps. Measured: peak RSS minus the RSS before the model
was built; the fastest of steps 2..6 in process CPU seconds ÷ threads (the CPU is shared with other
work, so wall time would measure the neighbours) and, next to it, the fp32 matmul throughput. The first configuration calibrates the CPU training
efficiency (stored with the matmul throughput under the data root); the others are held out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS = 6
# (name, kind, hidden, layers, intermediate, vocab, batch, max_length, checkpointing, lora_r)
CONFIGS = [
    ("llama-m b8 s256 r8", "llama", 512, 4, 1408, 16000, 8, 256, False, 8),
    ("llama-s b4 s128 r8", "llama", 256, 4, 704, 8000, 4, 128, False, 8),
    ("llama-m b8 s256 ckpt", "llama", 512, 4, 1408, 16000, 8, 256, True, 8),
    ("llama-l b2 s512 r32", "llama", 768, 4, 2048, 32000, 2, 512, False, 32),
    ("llama-m b16 s128 r64", "llama", 512, 4, 1408, 16000, 16, 128, False, 64),
    ("bert-s b16 s128 r8", "bert", 256, 4, 1024, 8000, 16, 128, False, 8),
    ("bert-m b8 s256 r16", "bert", 512, 6, 2048, 30522, 8, 256, False, 16),
    ("bert-m b16 s128 ckpt", "bert", 512, 6, 2048, 30522, 16, 128, True, 8),
]


def _rss_gb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def _model_config(kind, hidden, layers, inter, vocab):
    from transformers import BertConfig, LlamaConfig

    if kind == "llama":
        return LlamaConfig(
            hidden_size=hidden,
            num_hidden_layers=layers,
            intermediate_size=inter,
            num_attention_heads=hidden // 64,
            num_key_value_heads=hidden // 128,
            vocab_size=vocab,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
        )
    return BertConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        intermediate_size=inter,
        num_attention_heads=hidden // 64,
        vocab_size=vocab,
        num_labels=2,
    )


def measure_one(spec: list) -> dict:
    """Train one configuration for STEPS steps; return its peak RSS increase and step time."""
    _name, kind, hidden, layers, inter, vocab, batch, length, ckpt, rank = spec
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    torch.manual_seed(0)
    config = _model_config(kind, hidden, layers, inter, vocab)
    ids = torch.randint(5, vocab, (batch * STEPS, length)).tolist()
    rows = {"input_ids": ids, "attention_mask": [[1] * length] * len(ids)}
    rows["labels"] = ids if kind == "llama" else [i % 2 for i in range(len(ids))]
    data = Dataset.from_dict(rows)
    base = _rss_gb()
    if kind == "llama":
        model = AutoModelForCausalLM.from_config(config)
        targets, task = ["q_proj", "v_proj"], "CAUSAL_LM"
    else:
        model = AutoModelForSequenceClassification.from_config(config)
        model.accepts_loss_kwargs = False
        targets, task = ["query", "value"], "SEQ_CLS"
    model = get_peft_model(
        model,
        LoraConfig(
            r=rank, lora_alpha=2 * rank, lora_dropout=0.1, target_modules=targets, task_type=task
        ),
    )
    stamps = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.process_time())

    args = TrainingArguments(
        output_dir="/tmp/estimate-bench",
        per_device_train_batch_size=batch,
        max_steps=STEPS,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        gradient_checkpointing=ckpt,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[Clock()])
    trainer.train()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    steps = [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]
    from core.hardware import _matmul_tflops

    # The CPU is shared: steps are timed in CPU seconds ÷ threads (time the step would take on an
    # idle machine), like the throughput, which is measured next to each run.
    threads = torch.get_num_threads()
    return {
        "memory_gb": peak - base,
        "step_s": min(steps) / threads,
        "tflops": _matmul_tflops("fp32"),
    }


def predict_one(spec: list, tflops: float, efficiency: float | None = None) -> dict:
    """The estimator's peak memory and step time for one configuration."""
    from core.catalog import facts_from_config
    from core.estimate import EstimateOptions, estimate_memory, flops_per_token
    from core.hardware import HardwarePlan, cpu_throughput
    from core.settings import RunConfig

    _name, kind, hidden, layers, inter, vocab, batch, length, ckpt, rank = spec
    facts = facts_from_config(
        _model_config(kind, hidden, layers, inter, vocab).to_dict(), kind, "bench"
    )
    run = RunConfig().replace(
        model={"task": "causal_lm" if kind == "llama" else "classification"},
        lora={"r": rank, "dropout": 0.1},
        training={
            "per_device_train_batch_size": batch,
            "max_length": length,
            "gradient_checkpointing": ckpt,
            "precision": "fp32",
        },
    )
    plan = HardwarePlan("cpu", memory_gb=24)
    _peak, calibrated, _source = cpu_throughput("fp32")
    per_step = batch * length * flops_per_token(run, facts)
    return {
        "memory_gb": estimate_memory(run, facts, plan, EstimateOptions()).total,
        "work_s": per_step / (tflops * 1e12),
        "step_s": per_step / (tflops * 1e12) / (efficiency or calibrated),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true", help="do not store the efficiency")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(json.loads(args.one))))
        return
    from core.hardware import calibrate_cpu, write_calibration

    throughput = calibrate_cpu(force=True)
    print(f"CPU matmul: fp32 {throughput['fp32']:.2f} TFLOP/s, {throughput['threads']} threads")
    rows, efficiency = [], None
    for spec in CONFIGS:
        out = subprocess.run(
            [sys.executable, __file__, "--one", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(out.stdout.strip().splitlines()[-1])
        if efficiency is None:  # the first configuration calibrates the efficiency
            efficiency = predict_one(spec, measured["tflops"], 1.0)["work_s"] / measured["step_s"]
            if not args.no_save:
                write_calibration(training_efficiency_fp32=round(efficiency, 4))
        rows.append((spec[0], predict_one(spec, measured["tflops"], efficiency), measured))
    print(f"\nCalibrated efficiency (first row): {efficiency:.3f} of peak matmul throughput\n")
    print(
        "| configuration | memory predicted GB | measured GB | ratio | step predicted s | "
        "measured s | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, pred, meas in rows:
        print(
            f"| {name} | {pred['memory_gb']:.3f} | {meas['memory_gb']:.3f} | "
            f"{pred['memory_gb'] / meas['memory_gb']:.2f} | {pred['step_s']:.3f} | "
            f"{meas['step_s']:.3f} | {pred['step_s'] / meas['step_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
