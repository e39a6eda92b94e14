"""Batch arithmetic shared by validation, the launch files and the page.

The global batch (examples per optimizer update) is micro batch × gradient accumulation × the
processes that see different data; tensor-parallel ranks share their examples.
"""

from __future__ import annotations

from core.settings import RunConfig


def data_parallel_size(config: RunConfig) -> int:
    """Processes that each see different examples: the world size over the tensor-parallel degree."""
    parallel = config.parallel
    return max(1, parallel.world_size // max(1, parallel.tensor_parallel))


def global_batch_size(config: RunConfig) -> int:
    """Examples per optimizer update: micro batch × gradient accumulation × data-parallel size."""
    training = config.training
    return (
        training.per_device_train_batch_size
        * training.gradient_accumulation_steps
        * data_parallel_size(config)
    )


def batch_for_global(target: int, config: RunConfig) -> tuple[int, int] | None:
    """Micro batch and accumulation that give `target` examples per update, or None if impossible.

    Keeps the configured micro batch when it divides the share of each process, else the largest
    micro batch below it that does (so memory per device never grows).
    """
    dp = data_parallel_size(config)
    if target < 1 or target % dp:
        return None
    per_process = target // dp
    micro = min(config.training.per_device_train_batch_size, per_process)
    while per_process % micro:
        micro -= 1
    return micro, per_process // micro
