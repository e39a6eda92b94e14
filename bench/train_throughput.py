"""Training throughput: the strongest ordinary recipes against this app's path, in one run.

    nice .venv/bin/python bench/train_throughput.py --rounds 5 --json results.json
    nice .venv/bin/python bench/train_throughput.py --setups realistic_fp32,realistic_bf16 --rounds 1

Paths (bench/throughput_paths.py): a0 tutorial default (context), a1 Trainer + peft with
group_by_length and the default fused AdamW, a2 TRL SFTTrainer completion-only + padding-free
(causal LM), b the app. Same rows, same LoRA, loss on the same tokens, same thread count.
All paths run in ONE process, alternating (round k runs them in order, round k+1 reversed), so that
load from other programs on a shared machine hits them alike: read the ratios to a1 / a2.

Setups:
- classification: the embedded MiniLM + LoRA on SUBJ sentences (../shared/datasets, real data),
  scored by accuracy and cross-entropy on held-out rows after each round (one seed per round);
- causal_lm: a 4-layer Llama built from a config (~4 M parameters, a BPE tokenizer trained here) on
  generated instructions whose lengths follow a log-normal spread (a long tail, like real data);
- realistic_fp32 / realistic_bf16: a decoder with Qwen2.5-0.5B's shapes (hidden 896, 24 layers,
  vocabulary 151,936, tied) built from a config, same instructions, a few steps per path, fp32 or
  bf16 autocast (avx512_bf16 where the CPU has it).

Reported per path: real (non-pad) tokens/s over the timed steps (the first step is warm-up), peak
resident memory during training (sampled every 10 ms), MFU = useful FLOPs / time / the matmul peak
measured just before in the dtype used, and the eval metrics.
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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from transformers import TrainerCallback, set_seed  # noqa: E402

from core.models import resolve_model_path  # noqa: E402
from core.settings import RunConfig  # noqa: E402
from core.train import speed  # noqa: E402
from core.train.tasks import prepare_task  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
QWEN_05B = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                num_attention_heads=14, num_key_value_heads=2)  # fmt: skip
TINY_LLAMA = dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=4)  # fmt: skip
PATHS = {"classification": ("a0", "a1", "b"), "causal_lm": ("a0", "a1", "a2", "b"),
         "realistic_fp32": ("a1", "a2", "b"), "realistic_bf16": ("a1", "a2", "b")}  # fmt: skip


def matmul_tflops(
    dtype=torch.float32, size: int = 1024, repeats: int = 8, shape: tuple[int, int, int] = ()
) -> float:
    """The best matrix-multiply throughput in this dtype now, at the thread count in use (the MFU
    denominator: what this machine gives right now, with others' load). `shape` (m, k, n) times an
    m x k @ k x n product instead of the square one of `size`."""
    m, k, n = shape or (size, size, size)
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    best = 0.0
    for _ in range(2):
        a @ b
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * m * k * n * repeats / (time.perf_counter() - start) / 1e12)
    return best


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Samples the resident size every 10 ms in a thread: the peak inside a step, not after it."""

    def __init__(self):
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self):
        self.peak = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Meter(TrainerCallback):
    """Per-step wall time."""

    def __init__(self):
        self.step_times, self._t = [], 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.step_times.append(time.perf_counter() - self._t)


class CountingCollator:
    """Wraps a collator; per batch: real tokens, computed (padded) tokens, trained tokens."""

    def __init__(self, collator):
        self.collator, self.real, self.computed, self.trained = collator, [], [], []

    def __call__(self, features):
        batch = self.collator(features)
        self.real.append(sum(len(f["input_ids"]) for f in features))
        self.computed.append(batch["input_ids"].numel())
        labels = batch.get("labels")
        self.trained.append(int((labels != -100).sum()) if labels is not None else 0)
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


def build_causal_model(folder: Path, corpus: list[str], shapes: dict, vocab: int = 0) -> Path:
    """A Llama (or, with vocab, a Qwen2 with tied embeddings) from a config; BPE tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

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
    config = AutoConfig.for_model(
        "qwen2" if vocab else "llama",
        **shapes,
        vocab_size=vocab or len(tokenizer),
        tie_word_embeddings=bool(vocab),
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    set_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder


def write_subj(path: Path, rows: int) -> Path:
    """`rows` SUBJ sentences (real data, shuffled once with seed 0) as text,label CSV."""
    import csv

    lines = (SHARED / "subj_train.tsv").read_text(encoding="utf-8").splitlines()
    random.Random(0).shuffle(lines)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(line.rpartition("\t")[::2] for line in lines[:rows])
    return path


def setup_configs(work: Path, names: list[str], subj_rows: int) -> dict[str, RunConfig]:
    configs = {}
    if "classification" in names:
        configs["classification"] = RunConfig().replace(
            data={"path": str(write_subj(work / "subj.csv", subj_rows))},
            training={"per_device_train_batch_size": 16, "max_length": 64},
        )
    data = work / "instructions.jsonl"
    corpus = write_instructions(data, rows=600)
    causal = dict(
        data={"path": str(data), "prompt_column": "prompt", "response_column": "response"},
        training={"per_device_train_batch_size": 8, "max_length": 512, "learning_rate": 2e-3},
        lora={"target_modules": ["all-linear"]},
    )
    if "causal_lm" in names:
        model = build_causal_model(work / "tiny-llama", corpus, TINY_LLAMA)
        configs["causal_lm"] = RunConfig().replace(
            model={"name_or_path": str(model), "task": "causal_lm"}, **causal
        )
    if any(n.startswith("realistic") for n in names):
        model = build_causal_model(work / "qwen-0.5b-shapes", corpus, QWEN_05B, vocab=151936)
        realistic = (
            RunConfig()
            .replace(model={"name_or_path": str(model), "task": "causal_lm"}, **causal)
            .replace(training={"per_device_train_batch_size": 2, "max_length": 192})
        )
        for name in ("realistic_fp32", "realistic_bf16"):
            configs[name] = realistic
    return configs


def score(model, config: RunConfig, reference) -> dict:
    """Validation metrics by one function for every path (reference: the app's prepared data)."""
    from core.train.classification import predict_logits
    from core.train.text_eval import token_weighted_loss

    val = reference.datasets["validation"]
    model.eval()
    if config.model.task == "classification":
        logits = torch.from_numpy(predict_logits(model, val, reference.eval_collator))
        labels = torch.tensor(val["labels"])
        loss = float(torch.nn.functional.cross_entropy(logits, labels))
        return {"eval_loss": loss, "accuracy": float((logits.argmax(-1) == labels).float().mean())}
    return {"eval_loss": token_weighted_loss(model, val, reference.eval_collator)[0]}


def useful_flops(model, counter: CountingCollator, first: int, last: int, causal: bool) -> float:
    """LoRA: forward 2N + backward through activations 2N per real token on the body; a causal
    LM's output head (V x H) counted only at trained tokens (where a loss is taken), in every path;
    attention scores and the adapters' own FLOPs are left out."""
    body = sum(p.numel() for n, p in model.named_parameters() if "embed" not in n)
    flops = 4 * body * sum(counter.real[first:last])
    if causal:
        head = model.get_output_embeddings().weight.numel()
        flops += 4 * head * sum(counter.trained[first:last])
    return flops


def measure(kind: str, config: RunConfig, steps: int, work: Path, reference, bf16: bool) -> dict:
    from throughput_paths import path_function

    torch.set_num_threads(speed.set_cpu_threads() or torch.get_num_threads())
    peak = matmul_tflops(torch.bfloat16 if bf16 else torch.float32)
    model, trainer = path_function(kind)(config, steps, work, reference, bf16=bf16)
    counter, meter = CountingCollator(trainer.data_collator), Meter()
    trainer.data_collator = counter
    trainer.add_callback(meter)
    with PeakRss() as rss:
        base = rss.peak
        trainer.train()
    n = len(meter.step_times)
    first = 1 if n >= 2 else 0  # the first step warms caches and allocators up
    seconds = sum(meter.step_times[first:])
    causal = config.model.task == "causal_lm"
    result = {
        "real_tokens_per_s": sum(counter.real[first:n]) / seconds,
        "padding_share": 1 - sum(counter.real[:n]) / max(1, sum(counter.computed[:n])),
        "step_time_s": statistics.median(meter.step_times[first:]),
        "steps": n,
        "peak_rss_mb": rss.peak,
        "rss_growth_mb": rss.peak - base,
        "matmul_tflops": peak,
        "mfu": useful_flops(model, counter, first, n, causal) / seconds / (peak * 1e12),
        "threads": torch.get_num_threads(),
    }
    if not config.model.name_or_path.endswith("qwen-0.5b-shapes"):
        result.update(score(model, config, reference))
    return result


def run_setup(name: str, config: RunConfig, steps: int, rounds: int, work: Path) -> dict:
    """Round k trains every path once with seed + k, in alternating order."""
    print(f"== {name}", flush=True)
    reference = prepare_task(config, resolve_model_path(config.model.name_or_path))
    if steps <= 0:  # one epoch: every path sees every training row once
        steps = math.ceil(reference.n_train / config.training.per_device_train_batch_size)
        print(f"  one epoch: {reference.n_train} rows, {steps} steps", flush=True)
    paths = PATHS[name]
    results = {key: [] for key in paths}
    for round_index in range(rounds):
        seeded = config.replace(training={"seed": config.training.seed + round_index})
        order = paths if round_index % 2 == 0 else paths[::-1]
        for kind in order:
            try:
                got = measure(kind, seeded, steps, work, reference, name.endswith("bf16"))
            except Exception as err:  # noqa: BLE001 - one path failing must not lose the others
                got = {"error": f"{type(err).__name__}: {err}"}
            results[kind].append(got)
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in got.items()}
            print(f"  round {round_index + 1} ({kind}): {shown}", flush=True)
    return results


LABELS = {"a0": "(a0) tutorial", "a1": "(a1) Trainer+group_by_length", "a2": "(a2) TRL padding-free",
          "b": "(b) app"}  # fmt: skip
METRICS = (("real_tokens_per_s", "{:.0f}"), ("step_time_s", "{:.3f}"), ("padding_share", "{:.0%}"),
           ("peak_rss_mb", "{:.0f}"), ("matmul_tflops", "{:.3f}"), ("mfu", "{:.1%}"),
           ("eval_loss", "{:.4f}"), ("accuracy", "{:.1%}"))  # fmt: skip


def _ok(runs: list[dict]) -> list[dict]:
    return [r for r in runs if "error" not in r]


def strongest(results: dict) -> str:
    """The baseline (a1 or a2) with the highest median real tokens/s."""
    medians = {
        k: statistics.median(r["real_tokens_per_s"] for r in _ok(v))
        for k, v in results.items()
        if k in ("a1", "a2") and _ok(v)
    }
    return max(medians, key=medians.get) if medians else "a0"


def paired(results: dict, base: str, metric: str) -> str:
    """b - base over the rounds both finished, and a Wilcoxon signed-rank p where n >= 5."""
    pairs = [
        (b[metric], a[metric])
        for a, b in zip(results[base], results["b"], strict=True)
        if metric in a and metric in b
    ]
    if not pairs:
        return "n/a"
    diffs = [b - a for b, a in pairs]
    text = f"median diff {statistics.median(diffs):+.4f} over {len(diffs)} paired seeds"
    if len(diffs) >= 5 and any(diffs):
        from scipy.stats import wilcoxon

        text += f", Wilcoxon p = {wilcoxon(diffs).pvalue:.2f}"
    return text


def summarise(name: str, results: dict) -> list[str]:
    """A markdown table: the median of each metric per path, and (b)'s ratio to the strongest."""
    paths = [p for p in LABELS if p in results and _ok(results[p])]
    best = strongest(results)
    rows = [f"| {name} | " + " | ".join(LABELS[p] for p in paths) + f" | (b) ÷ {best} |"]
    rows.append("|---|" + "---|" * (len(paths) + 1))
    for key, fmt in METRICS:
        values = {p: [r[key] for r in _ok(results[p]) if key in r] for p in paths}
        if not all(values.values()):
            continue
        cells = [fmt.format(statistics.median(values[p])) for p in paths]
        base = statistics.median(values[best]) if best in values else 0
        ratio = statistics.median(values["b"]) / base if base and "b" in values else float("nan")
        rows.append(f"| {key} | {' | '.join(cells)} | {ratio:.2f} |")
    per_round = [
        b["real_tokens_per_s"] / a["real_tokens_per_s"]
        for a, b in zip(results[best], results["b"], strict=True)
        if "error" not in a and "error" not in b
    ]
    shown = ", ".join(f"{r:.2f}" for r in per_round)
    # the paired (same round, same load) ratio is the headline; medians of each path mix rounds
    median = f" (median {statistics.median(per_round):.2f})" if per_round else ""
    rows.append(f"\n(b)/{best} real tokens/s per round: {shown}{median}")
    for metric in ("accuracy", "eval_loss"):
        if any(metric in r for r in results["b"]):
            rows.append(f"(b) vs {best} {metric}: {paired(results, best, metric)}")
    errors = [f"{p} round {i + 1}: {r['error']}" for p in results for i, r in enumerate(results[p])
              if "error" in r]  # fmt: skip
    return rows + [f"errors: {e}" for e in errors]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=0, help="optimizer steps; 0: one epoch")
    parser.add_argument("--big-steps", type=int, default=1, help="steps per path, realistic size")
    parser.add_argument("--big-rounds", type=int, default=1, help="rounds at realistic size")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--setups", default="classification,causal_lm")
    parser.add_argument(
        "--subj-rows", type=int, default=800, help="classification rows (80%% train)"
    )
    parser.add_argument("--json", default="", help="also write the raw results here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    os.environ["STUDIO_DATA"] = str(work / "studio-data")
    names = args.setups.split(",")
    configs = setup_configs(work, names, args.subj_rows)
    print(f"load average at start: {os.getloadavg()}", flush=True)
    table, raw = [], {}
    for name in names:
        big = name.startswith("realistic")
        steps = args.big_steps + 1 if big else args.steps
        rounds = args.big_rounds if big else args.rounds
        raw[name] = run_setup(name, configs[name], steps, rounds, work)
        table += summarise(name, raw[name]) + [""]
        if args.json:
            Path(args.json).write_text(json.dumps(raw, indent=1))
    print(f"load average at end: {os.getloadavg()}")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
