"""Where a training step's time goes at realistic size: the app's path (b) under torch.profiler.

    .venv/bin/python bench/profile_step.py --dtype fp32 --steps 3
    .venv/bin/python bench/profile_step.py --dtype bf16 --steps 3 --json out.json

The throughput bench (bench/train_throughput.py) says how fast each path is; this says why the
app's path is not faster at Qwen2.5-0.5B's shapes, and what bounds its MFU. It builds the same
decoder from a config (hidden 896, 24 layers, vocabulary 151,936, tied), trains LoRA on every linear
layer over the same generated instructions (batch 2, max length 192), profiles the steps after a
warm-up one, and groups the operators' own CPU time:

- head: every operator on a tensor with the vocabulary as a dimension (the 151,936 x 896 output
  matmul forward and backward, log-softmax, the loss, their casts);
- attention: scaled-dot-product attention and its backward;
- body matmuls: the other matrix multiplies (projections, MLP, LoRA's A and B);
- optimizer: AdamW's updates and gradient clipping;
- other: element-wise work, norms, rotary embeddings, casts, copies.

MFU is the useful FLOPs (as in train_throughput: 4 x body parameters per real token, 4 x head
parameters per trained token) over the profiled steps' wall time and the matmul peak measured
on this machine, in the dtype used, at the body's own matmul shape (tokens x 896 @ 896 x 4,864).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

VOCAB = 151936
GROUPS = ("head", "attention", "body matmuls", "optimizer", "other")
MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")


def group_of(name: str, shapes) -> str:
    """The group an operator's own time belongs to (see the module docstring)."""
    if any(VOCAB in shape for shape in shapes if isinstance(shape, (list, tuple))):
        return "head"
    if "attention" in name or "flash" in name or "sdpa" in name:
        return "attention"
    if name in MATMULS:
        return "body matmuls"
    if "adam" in name.lower() or "_foreach" in name or "clip_grad" in name:
        return "optimizer"
    return "other"


class Stepper(TrainerCallback):
    """Advances the profiler's schedule and times each optimizer step."""

    def __init__(self, profiler):
        self.profiler, self.times, self._t = profiler, [], 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._t)
        self.profiler.step()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (after one warm-up)")
    parser.add_argument(
        "--lora-dropout", type=float, default=-1.0, help="LoRA dropout (default: the app's)"
    )
    parser.add_argument("--json", default="", help="also write the figures here")
    args = parser.parse_args(argv)

    from throughput_paths import app_path
    from train_throughput import CountingCollator, matmul_tflops, setup_configs, useful_flops

    from core.train import speed

    torch.set_num_threads(speed.set_cpu_threads() or torch.get_num_threads())
    bf16 = args.dtype == "bf16"
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        config = setup_configs(work, ["realistic_fp32"], 0)["realistic_fp32"]
        if args.lora_dropout >= 0:  # what LoRA's dropout masks cost (a recipe change, not a path)
            config = config.replace(lora={"dropout": args.lora_dropout})
        model, trainer = app_path(config, args.steps + 1, work, None, bf16=bf16)
        counter = CountingCollator(trainer.data_collator)
        trainer.data_collator = counter
        activities = [torch.profiler.ProfilerActivity.CPU]
        # One cycle (warm-up step, then the profiled ones), its events kept after it closes.
        schedule = torch.profiler.schedule(wait=0, warmup=1, active=args.steps, repeat=1)
        with torch.profiler.profile(
            activities=activities, schedule=schedule, record_shapes=True, acc_events=True
        ) as profiler:
            stepper = Stepper(profiler)
            trainer.add_callback(stepper)
            trainer.train()
        seconds = sum(stepper.times[1:])
        flops = useful_flops(model, counter, 1, len(stepper.times), causal=True)
        tokens = max(counter.computed[1:]) if len(counter.computed) > 1 else 384
        dtype = torch.bfloat16 if bf16 else torch.float32
        peak = matmul_tflops(dtype, repeats=6, shape=(tokens, 896, 4864))
        own = dict.fromkeys(GROUPS, 0.0)
        top = []
        for event in profiler.key_averages(group_by_input_shape=True):
            group = group_of(event.key, event.input_shapes or [])
            own[group] += event.self_cpu_time_total / 1e6
            top.append((event.self_cpu_time_total / 1e6, event.key, group))
    total = sum(own.values()) or 1.0
    result = {
        "dtype": args.dtype,
        "lora_dropout": config.lora.dropout,
        "threads": torch.get_num_threads(),
        "profiled_steps": len(stepper.times) - 1,
        "step_s": seconds / max(1, len(stepper.times) - 1),
        "real_tokens_per_s": sum(counter.real[1:]) / seconds,
        "matmul_peak_tflops": peak,
        "achieved_tflops": flops / seconds / 1e12,
        "mfu": flops / seconds / (peak * 1e12),
        "share": {group: own[group] / total for group in GROUPS},
        "top": [
            {"seconds": s, "op": key, "group": g} for s, key, g in sorted(top, reverse=True)[:12]
        ],
    }
    print(f"{args.dtype}: {result['step_s']:.2f} s/step, {result['real_tokens_per_s']:.1f} real "
          f"tokens/s, {result['achieved_tflops']:.3f} TFLOP/s useful, matmul peak {peak:.3f} "
          f"TFLOP/s -> MFU {result['mfu']:.0%}")  # fmt: skip
    for group in GROUPS:
        print(f"  {group:13s} {result['share'][group]:6.1%} of the operators' own time")
    for row in result["top"]:
        print(f"  {row['seconds']:8.2f} s  {row['op']}  ({row['group']})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
