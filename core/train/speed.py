"""What makes a step fast, chosen per task and device, and the list of what is on.

Measured on the 2-core CPU (bench/train_throughput.py, BENCHMARKS.md): length-bucketed batches
(core.train.sampler) are the big win on short, varied texts; the output head only at trained tokens
(core.train.trainer) does the rest for causal LMs.
Padding-free packing concatenates a batch into one row with `position_ids` restarting per example
(transformers then masks attention across examples). That pays only with a variable-length
attention kernel (FlashAttention-2), which the app does not load: with SDPA (the default) the
attention over the one long row runs densely under a block mask, slower than padded length-grouped
batches on a CPU and on a GPU alike, and with more memory (measured: BENCHMARKS.md). So packing is
on only when asked for.
"""

from __future__ import annotations

import math
import os

from core.hardware import available_cores
from core.settings import RunConfig


def cpu_threads(cores: int, load: float, local_world: int = 1) -> int:
    """How many intra-op threads to use: the cores this rank may use, fewer only when other
    programs oversubscribe the machine.

    Measured here: with load average 7.8 on 2 cores a tiny Llama step took 0.03 s on one thread and
    0.16 s on two (OpenMP threads waiting for a descheduled sibling spin). On an idle machine two
    threads were 1.5-2x faster than one (bench/train_throughput.py). The load average also counts
    this program's own recent work (a previous run, the app's server), so only load beyond the
    cores by a whole core or more is taken as someone else's.

    Args:
        cores: CPU cores this process may run on.
        load: the 1-minute load average (runnable processes), before this run starts working.
        local_world: training processes on this machine; they share the cores.
    """
    share = max(1, cores // max(1, local_world))
    excess = load - cores
    if excess < 1:
        return share
    return max(1, share - math.ceil(excess))


def set_cpu_threads() -> int:
    """Set torch's intra-op threads with `cpu_threads`.

    Returns:
        The number of threads set (0 on a GPU, where it does not matter).
    """
    import torch

    if torch.cuda.is_available():
        return 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = cpu_threads(available_cores(), load, local_world)
    torch.set_num_threads(threads)
    return threads


def train_on_prompt(config: RunConfig) -> bool:
    """training.train_on_prompt, False where the setting does not exist yet."""
    return bool(getattr(config.training, "train_on_prompt", False))


def use_packing(config: RunConfig) -> bool:
    """Whether causal-LM batches are packed padding-free.

    training.packing may be "on"/"off" (or True/False); "auto"/missing is off (see the module
    docstring for why). Never for classification or seq2seq.
    """
    if config.model.task != "causal_lm":
        return False
    choice = getattr(config.training, "packing", "auto")
    if isinstance(choice, bool):
        return choice
    return choice == "on"


def make_collator(config: RunConfig, tokenizer, packing: bool):
    """The batch collator: padding-free flattening, or padding each batch to its longest row."""
    from transformers import (
        DataCollatorForSeq2Seq,
        DataCollatorWithFlattening,
        DataCollatorWithPadding,
    )

    if config.model.task == "classification":
        return DataCollatorWithPadding(tokenizer)
    if packing:
        return DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
    return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, padding=True)


def speed_features(
    config: RunConfig,
    packing: bool,
    threads: int,
    cache_hit: bool,
    args,
    sparse_logits: bool = False,
) -> list:
    """Plain-words list of the speed features in effect, for status.json and the log."""
    features = []
    if packing:
        features.append("padding-free packing (position ids restart per example)")
    else:
        features.append("dynamic padding (each batch padded to its longest row)")
    if config.training.group_by_length and not packing:
        features.append("length-grouped batches")
    if sparse_logits:
        features.append("output head only at trained tokens")
    features.append("tokenisation cache: " + ("reused" if cache_hit else "built and saved"))
    if threads:
        features.append(f"CPU threads: {threads}")
    if args.bf16 or args.fp16:
        features.append("bf16 autocast" if args.bf16 else "fp16 autocast")
    if args.gradient_checkpointing:
        features.append("gradient checkpointing")
    if args.torch_compile:
        features.append("torch.compile")
    features.append(f"metrics logged every {args.logging_steps} steps")
    return features
