"""Predicted against measured: peak memory and step time of real LoRA training on this CPU.

    python bench/estimate_accuracy.py            # all configurations, about 2 minutes
    python bench/estimate_accuracy.py --no-save  # do not store the fitted calibration

Each configuration runs in a fresh process (so peak RSS belongs to it alone): a BERT-like or
Llama-like model built from a config with random weights, peft LoRA (dropout 0.1) with the app's
training path (`StudioTrainer`, its dropout sampling and thread rule) on random token ids padded
to the max length, fp32, 8 steps. Measured: peak RSS minus the RSS before the model was built; the
median wall time of steps 3..8 (run it on an idle machine), and next to it the fp32 matmul and
element-wise throughput. The first configuration fits the one constant of core.timing's CPU model
(the element-wise factor, stored with the throughputs under the data root for the app); the
others are held out.
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

STEPS = 8
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
    # The app's training path: its thread rule and Trainer.
    from core.train import speed
    from core.train.trainer import StudioTrainer

    speed.set_cpu_threads()
    stamps, walls = [], []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.process_time())
            walls.append(time.perf_counter())

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
    trainer = StudioTrainer(model=model, args=args, train_dataset=data, callbacks=[Clock()])
    trainer.train()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    from core.hardware import _elementwise_gelems, _matmul_tflops

    def median_step(times):
        steps = sorted(b - a for a, b in zip(times[1:], times[2:], strict=False))
        return steps[len(steps) // 2]

    threads = torch.get_num_threads()
    return {
        "memory_gb": peak - base,
        "step_s": median_step(walls),
        # CPU seconds ÷ threads: what the step would take if nothing else ran (for shared machines)
        "cpu_step_s": median_step(stamps) / threads,
        "tflops": _matmul_tflops("fp32"),
        "gelems": _elementwise_gelems(),
    }


def predict_one(spec: list, measured: dict) -> dict:
    """The estimator's peak memory, and the step's two kinds of work in seconds at the rates
    measured next to the run: matrix FLOPs at 100% of peak, element passes at the measured rate."""
    from core.catalog import facts_from_config
    from core.estimate import EstimateOptions, estimate_memory
    from core.hardware import HardwarePlan
    from core.settings import RunConfig
    from core.timing import cpu_work_seconds

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
    tokens = batch * length
    matmul, element = cpu_work_seconds(run, facts, measured["tflops"], measured["gelems"])
    return {
        "predicted_memory_gb": estimate_memory(
            run, facts, HardwarePlan("cpu", memory_gb=24), EstimateOptions()
        ).total,
        "matmul_s": tokens * matmul,
        "element_s": tokens * element,
    }


CALIBRATION_ROWS = 1  # the first configuration fits the element-wise factor; the rest are held out


def fit(rows: list, efficiency: float) -> float:
    """The element-wise factor that makes step = matmul_s / efficiency + factor × element_s hold on
    the calibration rows (their mean).

    The matrix efficiency is not fitted: matmuls are taken to run at the measured matmul rate
    (core.hardware.ASSUMED_CPU_EFFICIENCY). Fitting both on two rows was tried and is
    ill-conditioned (both kinds of work grow with width and tokens): it returned an efficiency
    of 2.0 and a factor of 5.7, a fit without meaning."""
    return sum((r["step_s"] - r["matmul_s"] / efficiency) / r["element_s"] for r in rows) / len(
        rows
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true", help="do not store the calibration")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(json.loads(args.one))))
        return
    from core.hardware import ASSUMED_CPU_EFFICIENCY, calibrate_cpu, write_calibration

    throughput = calibrate_cpu(force=True)
    print(
        f"CPU: matmul fp32 {throughput['fp32']:.2f} TFLOP/s, element-wise "
        f"{throughput['elementwise_gelems']:.2f} G/s, {throughput['threads']} threads"
    )
    rows = []
    for spec in CONFIGS:
        out = subprocess.run(
            [sys.executable, __file__, "--one", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"name": spec[0], **measured, **predict_one(spec, measured)})
        print(json.dumps(rows[-1]), flush=True)
    efficiency = ASSUMED_CPU_EFFICIENCY
    factor = fit(rows[:CALIBRATION_ROWS], efficiency)
    if not args.no_save:
        write_calibration(elementwise_factor=round(factor, 3))
    print(
        f"\nMatmuls at {efficiency:.0%} of the measured rate; element-wise factor {factor:.2f}, "
        f"fitted on the first {CALIBRATION_ROWS} row(s)\n"
    )
    print(
        "| configuration | memory predicted GB | measured GB | ratio | step predicted s | "
        "measured s | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for index, row in enumerate(rows):
        predicted = row["matmul_s"] / efficiency + factor * row["element_s"]
        label = row["name"] + (" (calibration)" if index < CALIBRATION_ROWS else "")
        print(
            f"| {label} | {row['predicted_memory_gb']:.3f} | {row['memory_gb']:.3f} | "
            f"{row['predicted_memory_gb'] / row['memory_gb']:.2f} | {predicted:.3f} | "
            f"{row['step_s']:.3f} | {predicted / row['step_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
