"""Which projections a LoRA adapter covers, their shapes, and how many parameters it trains."""

from __future__ import annotations

from core.catalog import ModelFacts
from core.settings import RunConfig

# fmt: off
ROLE_NAMES = {"q_proj": "q", "query": "q", "q": "q", "q_lin": "q", "k_proj": "k", "key": "k",
              "k": "k", "k_lin": "k", "v_proj": "v", "value": "v", "v": "v", "v_lin": "v",
              "o_proj": "o", "o": "o", "out_proj": "o", "out_lin": "o", "gate_proj": "gate",
              "wi_0": "gate", "up_proj": "up", "wi_1": "up", "wi": "up", "fc1": "up",
              "lin1": "up", "down_proj": "down", "wo": "down", "fc2": "down", "lin2": "down"}
# fmt: on
DEFAULT_ROLES = ("q", "v")
ATTENTION_ROLES = ("q", "k", "v", "o")


def role_dims(facts: ModelFacts) -> dict[str, tuple[int, int]]:
    """(in, out) features of each projection role."""
    attn, kv = facts.heads * facts.head_dim, facts.kv_heads * facts.head_dim
    h, i = facts.hidden, facts.intermediate
    return {
        "q": (h, attn),
        "k": (h, kv),
        "v": (h, kv),
        "o": (attn, h),
        "gate": (h, i),
        "up": (h, i),
        "down": (i, h),
    }


def lora_roles(config: RunConfig, facts: ModelFacts) -> list[str]:
    """Which projections get an adapter: q/k/v/o/gate/up/down ("dense" in BERT is o, up, down)."""
    names = config.lora.target_modules
    if not names:
        return list(DEFAULT_ROLES)
    if "all-linear" in names:
        return ["q", "k", "v", "o", "up", "down"] + (["gate"] if facts.gated_mlp else [])
    roles = set()
    for name in names:
        short = name.split(".")[-1]
        roles.update(("o", "up", "down") if short == "dense" else (ROLE_NAMES.get(short, "q"),))
    return sorted(roles)


def role_blocks(facts: ModelFacts, role: str) -> int:
    """How many blocks hold this projection (an encoder-decoder's decoder has two attentions)."""
    if role in ATTENTION_ROLES:
        return facts.layers + 2 * facts.decoder_layers
    return facts.layers + facts.decoder_layers


def adapter_parameters(config: RunConfig, facts: ModelFacts) -> float:
    """LoRA parameters: r × (in + out) per adapted projection, in every block."""
    dims = role_dims(facts)
    return sum(
        role_blocks(facts, role) * config.lora.r * sum(dims[role])
        for role in lora_roles(config, facts)
    )
