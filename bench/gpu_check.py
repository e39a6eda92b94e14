"""One prepared GPU check (≤ 8 minutes): throughput against the strongest recipes, QLoRA, and the
memory estimator against `torch.cuda.max_memory_allocated`.

    python3 bench/gpu_check.py --out $OUT                       # on a CUDA machine
    .venv/bin/python bench/gpu_check.py --out /tmp/g --tiny     # every section on tiny shapes, CPU

Nothing is downloaded: models are built from configs with Qwen2.5's shapes and trained on token
ids (bench/gpu_paths.py). Every figure is written to OUT/gpu_check.json the moment it exists (and
each line to OUT/gpu_check.log), so a run cut short still returns what it measured; each section
runs under its own time cap and records its error instead of stopping the others.

Sections:
- env: GPU, versions, the measured bf16 matmul peak (the MFU denominator);
- estimator: core.estimate's peak memory against max_memory_allocated on 5 configurations of the
  0.5B shapes (LoRA q/v, LoRA all-linear, + gradient checkpointing, full fine-tuning, fp32 LoRA);
- throughput: the 0.5B shapes in bf16 with SDPA, three paths (gpu_paths.py) interleaved twice:
  real tokens/s, trained tokens/s, peak memory, MFU, and each path's loss on one same batch;
- qlora: Qwen2.5-1.5B shapes saved, reloaded in 4 bits (NF4, core.train.adapters), LoRA
  all-linear with gradient checkpointing: tokens/s, peak memory and the estimator's figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_paths  # noqa: E402 - stdlib-only at import; heavy imports stay inside each section

QWEN_05B = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                num_key_value_heads=2, intermediate_size=4864, vocab_size=151936)  # fmt: skip
QWEN_15B = dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12,
                num_key_value_heads=2, intermediate_size=8960, vocab_size=151936)  # fmt: skip
TINY = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=128, vocab_size=1000)  # fmt: skip
# Seconds per section (importing trl alone took ~20 s on the H200 machine): under 7 minutes.
CAPS = {"env": 45, "estimator": 100, "throughput": 160, "qlora": 100}


class SectionTimeout(Exception):
    pass


class Report:
    """The results dict, rewritten to disk after every change (a timeout keeps what was done)."""

    def __init__(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        self.path, self.log_path = out / "gpu_check.json", out / "gpu_check.log"
        self.data: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "sections": {}}
        self.save()

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        tmp.replace(self.path)

    def log(self, message: str):
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, flush=True)
        with open(self.log_path, "a") as log:
            log.write(line + "\n")

    def put(self, section: str, key: str, value):
        self.data["sections"].setdefault(section, {})[key] = value
        self.save()
        self.log(f"{section}.{key} = {json.dumps(value, default=str)[:400]}")


def qwen_config(shapes: dict):
    from transformers import Qwen2Config

    return Qwen2Config(
        **shapes,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        rope_theta=1_000_000.0,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )


def build_model(shapes: dict, device, dtype, seed: int = 0):
    """A Qwen2 causal LM with these shapes, initialised on `device` directly (fast on a GPU)."""
    import torch
    from transformers import AutoModelForCausalLM, set_seed

    set_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(
            qwen_config(shapes), dtype=dtype, attn_implementation="sdpa"
        )
    return model


def run_config(shapes: dict, batch: int, length: int, **changes):
    """The RunConfig the estimator reads for one measured configuration."""
    from core.settings import RunConfig

    lora = {"r": changes.pop("r", 8), "target_modules": changes.pop("targets", [])}
    lora["method"] = changes.pop("method", "lora")
    lora["quantization"] = changes.pop("quantization", "none")
    training = {"per_device_train_batch_size": batch, "max_length": length, **changes}
    return RunConfig().replace(
        model={"task": "causal_lm", "name_or_path": "qwen2.5-shapes"}, lora=lora, training=training
    )


def estimated_gb(config, shapes: dict, quantization: str = "none") -> dict:
    from core.catalog import facts_from_config
    from core.estimate import EstimateOptions, estimate_memory
    from core.hardware import plan_gpus

    raw = {**shapes, "model_type": "qwen2", "tie_word_embeddings": True}
    facts = facts_from_config(raw, "qwen2.5-shapes", "config")
    memory = estimate_memory(
        config, facts, plan_gpus("H100"), EstimateOptions(quantization=quantization)
    )
    return {"total": round(memory.total, 3), **{k: round(v, 3) for k, v in memory.parts().items()}}


# ---------------------------------------------------------------- sections


def section_env(rep: Report, ctx: dict):
    import torch
    import transformers

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__}  # fmt: skip
    for name in ("peft", "trl", "bitsandbytes", "accelerate", "datasets"):
        try:
            versions[name] = __import__(name).__version__
        except SectionTimeout:
            raise
        except Exception as err:  # noqa: BLE001 - record what is missing, go on
            versions[name] = f"missing: {type(err).__name__}"
    rep.put("env", "versions", versions)
    device = ctx["device"]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(0)
        rep.put("env", "gpu", {"name": props.name, "memory_gb": round(props.total_memory / 1e9, 1),
                               "capability": f"{props.major}.{props.minor}"})  # fmt: skip
    size = 256 if ctx["tiny"] else 8192
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = 0.0
    for _ in range(3):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, reps = time.perf_counter(), 5 if ctx["tiny"] else 20
        for _ in range(reps):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * size**3 * reps / (time.perf_counter() - start) / 1e12)
    ctx["peak_tflops"] = best
    rep.put("env", "matmul_peak_tflops", {"dtype": str(dtype), "size": size, "tflops": best})


ESTIMATOR_CASES = [  # (name, batch, length, run_config changes)
    ("lora_qv_r8_bf16", 8, 512, {"precision": "bf16"}),
    ("lora_all_r16_bf16", 4, 1024, {"precision": "bf16", "r": 16, "targets": ["all-linear"]}),
    ("lora_all_r16_bf16_ckpt", 8, 1024,
     {"precision": "bf16", "r": 16, "targets": ["all-linear"], "gradient_checkpointing": True}),
    ("full_bf16_autocast", 4, 512, {"precision": "bf16", "method": "full"}),
    ("lora_qv_r8_fp32", 4, 512, {"precision": "fp32"}),
]  # fmt: skip


def section_estimator(rep: Report, ctx: dict):
    import torch

    from core.train.adapters import attach_adapter

    device, shapes = ctx["device"], ctx["shapes_05b"]
    for name, batch, length, changes in ESTIMATOR_CASES:
        if ctx["tiny"]:
            batch, length = 2, 32
        try:
            config = run_config(shapes, batch, length, **dict(changes))
            estimate = estimated_gb(config, shapes)
            gpu_paths.reset_memory(device)
            t = config.training
            full = config.lora.method == "full"
            dtype = torch.float32 if full or t.precision == "fp32" else torch.bfloat16
            model = build_model(shapes, device, dtype)
            if t.gradient_checkpointing:
                model.gradient_checkpointing_enable({"use_reentrant": False})
            model = attach_adapter(model, config, "CAUSAL_LM")
            times = gpu_paths.train_steps(model, batch, length, shapes["vocab_size"], 3, device,
                                bf16=t.precision == "bf16")  # fmt: skip
            measured = gpu_paths.peak_gb(device)
            ratio = estimate["total"] / measured if measured else None
            rep.put("estimator", name, {"batch": batch, "length": length, "estimate_gb": estimate,
                                        "measured_gb": measured, "estimate_over_measured": ratio,
                                        "after_forward_gb": gpu_paths.FORWARD_PEAKS[-1],
                                        "step_s": times})  # fmt: skip
            del model
        except SectionTimeout:
            raise
        except Exception as err:  # noqa: BLE001 - one configuration failing must not stop the rest
            rep.put("estimator", name, {"error": f"{type(err).__name__}: {err}"})
    gpu_paths.reset_memory(device)


def section_throughput(rep: Report, ctx: dict):
    import torch
    from peft import LoraConfig, get_peft_model

    device, shapes, tiny = ctx["device"], ctx["shapes_05b"], ctx["tiny"]
    bf16 = device.type == "cuda"
    batch, steps, warm = (4, 4, 1) if tiny else (16, 30, 3)
    rows = gpu_paths.make_rows(2000 if not tiny else 64, shapes["vocab_size"],
                               1024 if not tiny else 64, scale=1.0 if not tiny else 0.1)  # fmt: skip
    tokenizer = gpu_paths.little_tokenizer()
    body = None
    per_path_s = (CAPS["throughput"] - 20) / 6
    for round_index in range(2):
        order = ("a1", "a2", "app") if round_index == 0 else ("app", "a2", "a1")
        for path in order:
            key = f"{path}_round{round_index + 1}"
            try:
                gpu_paths.reset_memory(device)
                model = build_model(shapes, device, torch.bfloat16 if bf16 else torch.float32)
                if body is None:
                    body = sum(p.numel() for n, p in model.named_parameters() if "embed" not in n)
                lora = LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.05,
                                  target_modules="all-linear")  # fmt: skip
                model = get_peft_model(model, lora)
                round_rows = rows[round_index * 500 % len(rows) :] + rows
                args = gpu_paths.common_args(tempfile.mkdtemp(), steps + warm, batch, bf16,
                                             device.type == "cuda")  # fmt: skip
                trainer, note = gpu_paths.build_trainer(path, model, round_rows, tokenizer, args)
                loss = (
                    gpu_paths.same_batch_loss(trainer, rows, device) if round_index == 0 else None
                )
                counter = gpu_paths.TokenCounter(trainer.data_collator)
                trainer.data_collator = counter
                sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
                timer = gpu_paths.step_timer(sync, time.perf_counter() + per_path_s)
                trainer.add_callback(timer)
                trainer.train()
                measured = timer.times[warm:] or timer.times
                skip = len(timer.times) - len(measured)
                tokens = sum(counter.tokens[skip : skip + len(measured)])
                trained = sum(counter.trained[skip : skip + len(measured)])
                seconds = sum(measured)
                # useful FLOPs: LoRA forward 2N + backward through activations 2N per token on the
                # body, the output head (tied, V×H) only where a loss is taken; attention left out
                flops = (
                    4 * body * tokens + 4 * shapes["vocab_size"] * shapes["hidden_size"] * trained
                )
                result = {"path": note, "steps_timed": len(measured), "batch": batch,
                          "real_tokens_per_s": tokens / seconds,
                          "trained_tokens_per_s": trained / seconds,
                          "step_s_median": sorted(measured)[len(measured) // 2],
                          "peak_gb": gpu_paths.peak_gb(device),
                          "mfu": flops / seconds / (ctx.get("peak_tflops", 0) * 1e12 or 1),
                          "same_batch_loss": loss}  # fmt: skip
                rep.put("throughput", key, result)
                del trainer, model
            except SectionTimeout:
                raise
            except Exception as err:  # noqa: BLE001 - a path failing must not stop the others
                rep.put("throughput", key, {"error": f"{type(err).__name__}: {err}",
                                            "trace": traceback.format_exc()[-1500:]})  # fmt: skip
    _ratios(rep)


def _ratios(rep: Report):
    """Median real tokens/s per path and the app's ratio to each baseline."""
    got = rep.data["sections"].get("throughput", {})
    speeds: dict[str, list[float]] = {}
    for key, value in got.items():
        if isinstance(value, dict) and "real_tokens_per_s" in value:
            speeds.setdefault(key.split("_round")[0], []).append(value["real_tokens_per_s"])
    med = {k: statistics.median(v) for k, v in speeds.items()}
    ratios = {
        f"app_over_{k}": med["app"] / med[k] for k in ("a1", "a2") if k in med and "app" in med
    }
    rep.put("throughput", "summary", {"median_real_tokens_per_s": med, **ratios})


def section_qlora(rep: Report, ctx: dict):
    import torch
    from transformers import AutoModelForCausalLM

    from core.train.adapters import attach_adapter, quantization_arguments

    device, tiny = ctx["device"], ctx["tiny"]
    shapes = TINY if tiny else QWEN_15B
    batch, length, steps = (2, 32, 2) if tiny else (8, 1024, 6)
    bits = "4bit" if device.type == "cuda" else "none"
    config = run_config(shapes, batch, length, precision="bf16" if bits != "none" else "fp32",
                        r=16, targets=["all-linear"], gradient_checkpointing=True,
                        quantization=bits)  # fmt: skip
    rep.put("qlora", "setup", {"shapes": shapes, "batch": batch, "length": length,
                               "quantization": bits, "estimate_gb": estimated_gb(config, shapes, bits)})  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="qlora-base-"))
    start = time.perf_counter()
    model = build_model(shapes, device, torch.bfloat16 if bits != "none" else torch.float32)
    model.save_pretrained(folder)
    del model
    rep.put("qlora", "build_and_save_s", time.perf_counter() - start)
    gpu_paths.reset_memory(device)
    extra = quantization_arguments(config) if bits != "none" else {}
    if device.type == "cuda":
        extra["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="sdpa", **extra)
    rep.put("qlora", "loaded_gb", gpu_paths.peak_gb(device))
    model.gradient_checkpointing_enable({"use_reentrant": False})
    model = attach_adapter(model, config, "CAUSAL_LM")
    times = gpu_paths.train_steps(model, batch, length, shapes["vocab_size"], steps, device,
                        bf16=bits != "none")  # fmt: skip
    measured = gpu_paths.peak_gb(device)
    timed = times[1:] or times
    rep.put("qlora", "result", {"step_s": times, "tokens_per_s": batch * length * len(timed) / sum(timed),
                                "measured_gb": measured, "after_forward_gb": gpu_paths.FORWARD_PEAKS[-1],
                                "param_dtypes": gpu_paths.dtype_bytes(model),
                                "estimate_over_measured": (rep.data["sections"]["qlora"]["setup"]
                                                           ["estimate_gb"]["total"] / measured)
                                if measured else None})  # fmt: skip


SECTIONS = {"env": section_env, "estimator": section_estimator,
            "throughput": section_throughput, "qlora": section_qlora}  # fmt: skip


def _alarm(signum, frame):
    raise SectionTimeout("section time cap reached")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_check.json and the log")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes, seconds (tests)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--cap-scale", type=float, default=1.0, help="multiply every section cap")
    args = parser.parse_args(argv)
    rep = Report(Path(args.out))
    import torch

    name = (
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    ctx = {"device": torch.device(name), "tiny": args.tiny,
           "shapes_05b": TINY if args.tiny else QWEN_05B}  # fmt: skip
    rep.data["device"], rep.data["tiny"] = name, args.tiny
    signal.signal(signal.SIGALRM, _alarm)
    for section in args.sections.split(","):
        if section not in SECTIONS:
            rep.put(section, "error", f"unknown section; pick from {', '.join(SECTIONS)}")
            continue
        start = time.perf_counter()
        signal.alarm(max(1, int(CAPS[section] * args.cap_scale)))
        try:
            SECTIONS[section](rep, ctx)
            status = "done"
        except Exception as err:  # noqa: BLE001 - record and go on to the next section
            status = f"error: {type(err).__name__}: {err}"
            rep.put(section, "trace", traceback.format_exc()[-2000:])
        finally:
            signal.alarm(0)
        rep.put(section, "status", {"status": status, "seconds": time.perf_counter() - start})
    rep.data["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    rep.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
