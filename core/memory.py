"""Peak memory of one device for a run, by component (pure arithmetic).

Peak memory per device = weights + adapter + gradients + optimizer states (each divided by the
sharding of the parallel strategy) + stored activations + max(logits, one recomputed layer) +
framework overhead. The activation coefficients in `ACTIVATION_BYTES` were counted with
`torch.autograd.graph.saved_tensors_hooks` on transformers 5.24 Llama / BERT / T5 layers (LoRA on
the attention query and value, fp32 and bf16), so they follow what autograd really keeps; the
published GPU figures in tests/core/test_estimate.py and `bench/estimate_accuracy.py` check them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.catalog import ModelFacts, embedding_parameters
from core.estimate_options import EstimateOptions
from core.hardware import HardwarePlan, gpu_has_bf16
from core.lora_shapes import adapter_parameters, lora_roles
from core.models import DTYPE_BYTES, load_dtype
from core.settings import RunConfig

GB = 1e9
VERDICTS = ("fits", "tight", "won't fit")
TIGHT_ABOVE = 0.85  # share of device memory above which a run is "tight" (fragmentation, spikes)

# Tables of measured or published constants, one entry to a line.
# fmt: off
# (architecture, method, 16-bit activations) → saved bytes per token per layer = a·hidden + b·inner.
# Counted with saved_tensors_hooks (LoRA r=8 on query/value; encoders with dropout 0.1).
ACTIVATION_BYTES = {
    ("decoder", "lora", False): (24, 12), ("decoder", "lora", True): (22, 6),
    ("decoder", "full", False): (36, 16), ("decoder", "full", True): (22, 8),
    ("encoder", "lora", False): (68, 4), ("encoder", "lora", True): (60, 2),
    ("encoder", "full", False): (64, 8), ("encoder", "full", True): (50, 4),
    ("encoder-decoder", "lora", False): (85, 28), ("encoder-decoder", "lora", True): (85, 14),
    ("encoder-decoder", "full", False): (82, 32), ("encoder-decoder", "full", True): (71, 16),
}
DECODER_LORA_DROPOUT_BYTES = {False: 12, True: 8}  # per hidden unit: dropout output + mask (counted)
SCORE_BYTES = 12  # per stored attention score (scores, softmax, dropout) when not a fused kernel
LOGIT_BYTES = 12  # per logit at the loss peak: fp32 log-softmax kept + two fp32 gradients
OPTIMIZER_BYTES = {"adamw_torch": 8, "adamw_torch_fused": 8, "adamw_bnb_8bit": 2, "adafactor": 0.1,
                   "sgd": 0}  # per trained parameter (two fp32 moments for Adam)
QUANT_BYTES = {"none": 0, "8bit": 1.02, "4bit": 0.516}  # NF4 + double-quantised block scales
# fmt: on


@dataclass
class MemoryBreakdown:
    """Peak memory of one device in GB, by what holds it."""

    weights: float = 0.0
    adapter: float = 0.0
    gradients: float = 0.0
    optimizer: float = 0.0
    activations: float = 0.0
    logits: float = 0.0
    overhead: float = 0.0
    cpu_offload: float = 0.0  # held in CPU RAM instead (offload), not part of the total

    @property
    def total(self) -> float:
        return sum(v for k, v in asdict(self).items() if k != "cpu_offload")

    def parts(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k != "cpu_offload"}


def resolve_precision(config: RunConfig, plan: HardwarePlan) -> str:
    """'auto' → fp32 on CPU, bf16 on GPUs that have it, fp16 on older ones."""
    if config.training.precision != "auto":
        return config.training.precision
    if plan.device == "cpu":
        return "fp32"
    return "bf16" if gpu_has_bf16(plan.device) else "fp16"


def _shards(config: RunConfig, plan: HardwarePlan) -> dict[str, int]:
    """How many ways weights, gradients and optimizer states are split across devices."""
    par, world = config.parallel, plan.devices
    group = plan.gpus_per_node if par.fsdp_sharding == "hybrid_shard" else world
    if par.strategy == "fsdp":
        weights = 1 if par.fsdp_sharding == "shard_grad_op" else group
        return {"weights": weights, "gradients": group, "optimizer": group}
    if par.strategy == "deepspeed":
        stage = par.zero_stage
        return {
            "weights": world if stage >= 3 else 1,
            "gradients": world if stage >= 2 else 1,
            "optimizer": world,
        }
    return {"weights": 1, "gradients": 1, "optimizer": 1}


def _tokens_per_step(config: RunConfig, facts: ModelFacts, options: EstimateOptions) -> tuple:
    """(encoder/decoder tokens, answer tokens) that one device holds in one micro-batch."""
    batch, length = config.training.per_device_train_batch_size, config.training.max_length
    if facts.architecture == "encoder-decoder":
        return batch * length, batch * (options.target_length or length)
    return batch * length, 0


def _activation_gb(config, facts, options, plan, precision) -> tuple[float, float]:
    """(stored activations, transient peak of one block in backward) in GB for one device."""
    method = config.lora.method
    sixteen = precision in ("bf16", "fp16")
    per_h, per_i = ACTIVATION_BYTES[(facts.architecture, method, sixteen)]
    if method == "lora" and facts.architecture == "decoder" and config.lora.dropout > 0:
        per_h += DECODER_LORA_DROPOUT_BYTES[sixteen]
    act = 2 if sixteen else 4
    roles = set(lora_roles(config, facts)) if method == "lora" else set()
    extra_inputs = (
        (facts.heads * facts.head_dim if "o" in roles else 0)
        + (facts.intermediate if "down" in roles else 0)
        + (facts.hidden if roles & {"gate", "up"} else 0)
    )  # the adapter keeps its own input
    per_token = per_h * facts.hidden + per_i * facts.intermediate + extra_inputs * act
    length = config.training.max_length
    stores_scores = (
        not options.flash_attention
        or facts.architecture == "encoder-decoder"
        or (facts.architecture == "encoder" and plan.device == "cpu")
    )
    if stores_scores:
        per_token += SCORE_BYTES * facts.heads * length
    tokens, answer = _tokens_per_step(config, facts, options)
    layer_tokens = tokens * facts.layers + answer * facts.decoder_layers * 1.5  # + cross-attention
    one_layer = per_token * tokens  # backward holds one block's activation gradients at a time
    if config.training.gradient_checkpointing:
        stored = facts.hidden * act * layer_tokens  # only each block's input is kept
        # the recomputed block + its gradients; on CPU the allocator also keeps freed buffers of
        # blocks recomputed before (3× fitted on the bench's two checkpointing rows)
        return stored / GB, (3 if plan.device == "cpu" else 2) * one_layer / GB
    return per_token * layer_tokens / GB, one_layer / GB


def estimate_memory(
    config: RunConfig, facts: ModelFacts, plan: HardwarePlan, options: EstimateOptions | None = None
) -> MemoryBreakdown:
    """Peak memory of one device, by component.

    Args:
        config: the run (method, rank, batch, length, precision, checkpointing, parallel layout).
        facts: the model's architecture (core.catalog).
        plan: the device kind and count (core.hardware).
        options: quantization, attention kernel and answer length.

    Returns:
        The breakdown in GB; `total` is the peak.
    """
    options = options or EstimateOptions()
    out = _state_memory(config, facts, plan, options)
    stored, recompute = _activation_gb(
        config, facts, options, plan, resolve_precision(config, plan)
    )
    tokens, answer = _tokens_per_step(config, facts, options)
    logit_tokens = {"decoder": tokens, "encoder-decoder": answer}.get(facts.architecture, 0)
    if config.model.task == "classification":
        logit_tokens = 0
    out.logits = logit_tokens * facts.vocab * LOGIT_BYTES / GB
    # The loss's logits and a block's backward buffers peak at different moments; on GPU the
    # caching allocator reuses one for the other, on CPU glibc keeps both mapped (bench rows)
    overlap = 0.0 if plan.device == "cpu" else min(recompute, out.logits)
    out.activations = stored + recompute - overlap
    dynamic = out.activations + out.logits
    # GPU: CUDA allocator slack and kernels' workspaces; CPU: allocator arenas (bench-calibrated)
    out.overhead = 0.25 + 0.05 * dynamic if plan.device != "cpu" else 0.08 + 0.1 * dynamic
    return out


def _state_memory(config, facts, plan, options) -> MemoryBreakdown:
    """Weights, adapter, gradients and optimizer states per device (after sharding / offload)."""
    shards, par = _shards(config, plan), config.parallel
    n, embeddings = facts.params, embedding_parameters(facts)  # not quantised by bitsandbytes
    full = config.lora.method == "full"
    if options.quantization != "none" and not full:
        # peft's prepare_model_for_kbit_training (core.train.adapters) casts every parameter it
        # did not quantise, the embeddings first, to fp32.
        weights = (n - embeddings) * QUANT_BYTES[options.quantization] + embeddings * 4
    else:  # the dtype training loads (full fine-tuning: fp32 master weights)
        weights = n * DTYPE_BYTES[load_dtype(config.lora.method, resolve_precision(config, plan))]
    trained = n if full else adapter_parameters(config, facts)
    out = MemoryBreakdown(
        weights=weights / shards["weights"] / GB,
        adapter=0.0 if full else trained * 4 / GB,  # PEFT keeps adapters in fp32
        gradients=trained * 4 / shards["gradients"] / GB,
        optimizer=trained
        * OPTIMIZER_BYTES.get(config.training.optim, 8)
        / shards["optimizer"]
        / GB,
    )
    one_block = weights / max(facts.layers + facts.decoder_layers, 1) / GB
    if shards["weights"] > 1:  # FSDP / ZeRO-3 gather one block at a time (two in flight)
        out.weights += 2 * one_block
    offload_opt = par.strategy == "deepspeed" and par.offload_optimizer != "none"
    offload_params = (
        par.strategy == "deepspeed" and par.zero_stage == 3 and par.offload_params != "none"
    ) or (par.strategy == "fsdp" and par.fsdp_cpu_offload)
    if offload_opt or offload_params:
        out.cpu_offload, out.optimizer = out.optimizer, 0.0
    if offload_params:
        out.cpu_offload += out.weights - 2 * one_block
        out.weights = 2 * one_block
    return out


def verdict_for(peak_gb: float, capacity_gb: float) -> str:
    """'fits', 'tight' (above 85% of the device) or "won't fit"."""
    if peak_gb > capacity_gb:
        return "won't fit"
    return "tight" if peak_gb > TIGHT_ABOVE * capacity_gb else "fits"
