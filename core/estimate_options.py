"""What the estimate needs beyond the RunConfig: data size, QLoRA, attention kernel, prices, grid.

Shared by core.memory, core.timing and core.estimate (its own module so that none of them has to
import another only for this class).
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUANTIZATIONS = ("none", "8bit", "4bit")
# Assumed cloud on-demand prices, $ per GPU-hour (editable: pass your own to EstimateOptions).
# fmt: off
PRICE_PER_GPU_HOUR = {"T4": 0.35, "L4": 0.80, "A10G": 1.00, "RTX 4090": 0.70, "L40S": 1.60,
                      "A100 40GB": 1.30, "A100 80GB": 1.80, "H100": 2.90, "H200": 3.80, "cpu": 0.0}
# fmt: on


@dataclass
class EstimateOptions:
    """What the estimate needs beyond the RunConfig; each field has a safe default."""

    quantization: str = "none"  # QLoRA base weights: "none", "8bit" or "4bit" (GPU, bitsandbytes)
    flash_attention: bool = True  # fused attention (SDPA/flash): no seq × seq scores are stored
    target_length: int = 0  # seq2seq: tokens in the answer (0: the max length)
    dataset_tokens: int = 0  # real tokens in the training split (0: rows × avg_tokens)
    dataset_rows: int = 0  # training rows (0: from max_steps, else 1000 assumed)
    avg_tokens: float = 0.0  # mean tokens per row (0: the max length)
    prices: dict = field(default_factory=lambda: dict(PRICE_PER_GPU_HOUR))  # $ per device-hour
    grid_g_per_kwh: float = 475.0  # grams CO2e per kWh; 475 = world average (IEA 2023), assumed
    efficiency: float = 0.0  # share of peak throughput reached (0: calibrated or assumed)

    def __post_init__(self):
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(
                f"quantization should be none, 8bit or 4bit, got {self.quantization!r}"
            )
