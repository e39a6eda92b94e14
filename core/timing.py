"""How long a run takes: tokens, the work per token, and how fast this device does that work.

Time per token = matrix FLOPs ÷ (peak FLOP/s × efficiency) + element-wise work ÷ element rate.

- Matrix FLOPs: LoRA on a frozen base costs about 4N per token (forward 2N, backward through the
  activations 2N), full fine-tuning 6N, plus attention; checkpointing recomputes a forward.
- Element-wise work: layer norms, activations, rotary embeddings, residual adds, dropout, the
  adapters' scaling and the loss's softmax touch every activation several times without any
  matrix multiply. On a CPU they decide the step time of small models (a 256-wide model spends
  more time there than in its matmuls), so they get their own term: passes over activation
  elements, counted per architecture below, ÷ the element rate measured on this machine
  (core.hardware.calibrate_cpu). On GPUs the assumed efficiency covers them.
- The element-work factor is fitted by bench/estimate_accuracy.py on one of its configurations
  (the others are held out to check the fit) and ships as the assumed value; every finished CPU
  run then refines it for the machine it ran on (`learn_from_run`, an average over runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.catalog import ModelFacts, count_parameters, embedding_parameters
from core.estimate_options import EstimateOptions
from core.hardware import (
    GPU_SPECS,
    HardwarePlan,
    calibrate_cpu,
    cpu_elementwise,
    cpu_throughput,
    write_calibration,
)
from core.lora_shapes import lora_roles, role_blocks, role_dims
from core.settings import RunConfig

GPU_EFFICIENCY = 0.35  # assumed share of peak FLOP/s that HF Trainer + PEFT reach (typical MFU)
LENGTH_GROUPED_PADDING = 1.05  # computed / real tokens with length-bucketed batches (measured 3-5%)
RANDOM_BATCH_PADDING = 1.5  # random batches padded to their longest row (measured 45-52%)
EVALUATIONS = 6  # the app evaluates about 5 times per run (eval_steps = steps // 5) and at the end
EVAL_TOKEN_COST = 0.4  # a forward-only token: half the matmuls, a third of the element-wise work
STARTUP_S = 5.0  # imports and process start: 5.3 s to the first step on the embedded model
LOAD_GB_PER_S = 1.0  # reading 16-bit weights from a local disk (assumed)

# Element-wise passes per token, forward + backward, counted from the ops of transformers 5.24
# layers (each op reads its input and writes a new tensor once; a backward op about twice):
# - decoder block: 2 RMSNorms (~10 passes each over hidden: cast, square, mean, scale, weight),
#   rotary on q and k (~12), attention reshapes (~8), 2 residual adds (~4) → 44 × hidden;
#   SwiGLU: SiLU + multiply → 6 × intermediate (a plain GELU MLP: 3);
# - encoder block: 2 fused LayerNorms (~7 each), 2 hidden dropouts (~3 each), reshapes and adds
#   (~12) → 32 × hidden; GELU → 3 × intermediate; attention probabilities when the kernel is not
#   fused (softmax, dropout, their backward) → 8 × heads × sequence length;
# - each adapted projection: dropout (2 × in, only when lora.dropout > 0: peft skips it at 0),
#   scaling and sum (3 × out);
# - causal-LM head: logits, log-softmax and its backward → 5 × vocabulary.
ELEMENTWISE_PASSES = {
    "decoder": (44, 6),
    "encoder": (32, 3),
    "encoder-decoder": (44, 6),
}
ATTENTION_PROB_PASSES = 8
LORA_IN_PASSES, LORA_OUT_PASSES = 2, 3
HEAD_PASSES = 5


@dataclass
class Figure:
    """One estimated number with where it came from (shown next to it in the app)."""

    value: float
    unit: str
    source: str  # "measured here", "calibrated", "assumed" or "published"
    note: str = ""


def flops_per_token(config: RunConfig, facts: ModelFacts) -> float:
    """Training FLOPs per token: matmuls (LoRA 4N, full 6N) + attention, + a forward if recomputing.

    N counts the weights a token is multiplied by (embedding lookups are free, an output head is not).
    """
    n = count_parameters(facts) - embedding_parameters(facts)
    if facts.architecture == "encoder":
        n -= facts.context * facts.hidden  # learned positions are looked up too
    elif config.model.task != "classification":
        n += facts.vocab * facts.hidden  # the output head multiplies every token
    causal = 0.5 if facts.architecture == "decoder" else 1.0
    attention = (
        4 * facts.layers * config.training.max_length * causal * facts.heads * facts.head_dim
    )
    forward = 2 * n + attention
    total = (
        forward * (3 if config.lora.method == "full" else 2) + attention
    )  # backward: 2× attention
    if config.training.gradient_checkpointing:
        total += forward
    return total


def elementwise_per_token(config: RunConfig, facts: ModelFacts) -> float:
    """Element-wise passes over activation elements per token, forward + backward (see above)."""
    per_hidden, per_inner = ELEMENTWISE_PASSES.get(facts.architecture, (44, 6))
    if not facts.gated_mlp:
        per_inner = min(per_inner, 3)
    blocks = facts.layers + facts.decoder_layers
    total = blocks * (per_hidden * facts.hidden + per_inner * facts.intermediate)
    if facts.architecture == "encoder":  # BERT-style attention runs unfused with dropout
        total += facts.layers * ATTENTION_PROB_PASSES * facts.heads * config.training.max_length
    if config.lora.method == "lora":
        dims = role_dims(facts)
        in_passes = LORA_IN_PASSES if config.lora.dropout > 0 else 0
        for role in lora_roles(config, facts):
            d_in, d_out = dims[role]
            total += role_blocks(facts, role) * (in_passes * d_in + LORA_OUT_PASSES * d_out)
    if config.model.task != "classification":
        total += HEAD_PASSES * facts.vocab
    if config.training.gradient_checkpointing:
        total *= 4 / 3  # the forward third is done twice
    return total


def training_tokens(config: RunConfig, options: EstimateOptions) -> Figure:
    """Tokens the run processes: data's tokens × epochs (+ padding), or the user's step count."""
    length, train = config.training.max_length, config.training
    per_step = train.per_device_train_batch_size * train.gradient_accumulation_steps * length
    if train.max_steps > 0 and not options.dataset_tokens and not options.dataset_rows:
        return Figure(train.max_steps * per_step, "tokens", "assumed", "max steps × full batches")
    rows = options.dataset_rows or 1000
    if options.dataset_tokens:
        real, source = options.dataset_tokens, "measured here"
    else:
        real = rows * min(options.avg_tokens or length, length)
        source = "measured here" if options.avg_tokens and options.dataset_rows else "assumed"
    padded = real * (LENGTH_GROUPED_PADDING if train.group_by_length else RANDOM_BATCH_PADDING)
    if options.dataset_rows or not options.dataset_tokens:
        padded = min(padded, rows * length)  # no row is longer than the max length
    tokens = padded * train.num_train_epochs
    if train.max_steps > 0:
        tokens = min(tokens, train.max_steps * per_step)
    known = options.dataset_rows or options.dataset_tokens
    note = "" if known else "1000 rows assumed; choose data for a real count"
    return Figure(tokens, "tokens", source, note)


def evaluation_tokens(config: RunConfig, options: EstimateOptions, train_tokens: float) -> float:
    """Training-token equivalents of the run's evaluations: validation tokens × evaluations ×
    EVAL_TOKEN_COST. Validation is `validation_fraction` of the data (the training split is the
    rest); evaluations follow eval_steps when it is set, else the app's ~5 per run + 1 at the end.
    """
    t, fraction = config.training, config.data.validation_fraction
    epochs = max(t.num_train_epochs, 1e-9)
    per_epoch = train_tokens / epochs
    validation = per_epoch * fraction / (1 - fraction)
    evaluations = EVALUATIONS
    if t.eval_steps > 0 and options.dataset_rows:
        per_step = t.per_device_train_batch_size * t.gradient_accumulation_steps
        steps = options.dataset_rows * epochs / per_step
        if t.max_steps > 0:
            steps = min(steps, t.max_steps)
        evaluations = int(steps // t.eval_steps) + 1
    return validation * evaluations * EVAL_TOKEN_COST


def startup_seconds(facts: ModelFacts) -> float:
    """Seconds from Start to the first step: imports, then the weights read at LOAD_GB_PER_S."""
    return STARTUP_S + facts.params * 2 / 1e9 / LOAD_GB_PER_S


def throughput(
    config: RunConfig, plan: HardwarePlan, options: EstimateOptions, precision: str
) -> tuple[float, float, str]:
    """(peak FLOP/s of one device, efficiency, source)."""
    if plan.device == "cpu":
        tflops, efficiency, source = cpu_throughput(precision)
    else:
        spec = GPU_SPECS.get(plan.device)
        tflops = plan.tflops or (spec.bf16_tflops if spec else 100.0)
        if precision == "fp32":  # TF32 tensor cores: half the 16-bit rate (the T4 has none)
            tflops /= 8 if plan.device == "T4" else 2
        efficiency = GPU_EFFICIENCY * (0.7 if options.quantization == "4bit" else 1.0)
        source = "assumed"
    if options.efficiency:
        efficiency = options.efficiency
    par = config.parallel
    if plan.devices > 1:  # communication: gradients every step, or whole weights when sharded
        efficiency *= 0.8 if par.strategy in ("fsdp", "deepspeed") else 0.9
    if par.offload_optimizer != "none" or par.offload_params != "none" or par.fsdp_cpu_offload:
        efficiency *= 0.5
    return tflops * 1e12, efficiency, source


def cpu_work_seconds(
    config: RunConfig, facts: ModelFacts, tflops: float, gelems: float
) -> tuple[float, float]:
    """(matrix, element-wise) seconds per token on a CPU at these measured rates, before the
    matmul efficiency and the element-wise factor are applied."""
    matmul = flops_per_token(config, facts) / (tflops * 1e12)
    return matmul, elementwise_per_token(config, facts) / (gelems * 1e9)


def seconds_per_token(
    config: RunConfig, facts: ModelFacts, plan: HardwarePlan, options: EstimateOptions, precision
) -> tuple[float, str, str]:
    """(seconds per token on one device, source, note): matrix work + element-wise work (CPU)."""
    peak, efficiency, source = throughput(config, plan, options, precision)
    note = f"efficiency {efficiency:.0%} of peak"
    if plan.device != "cpu":
        return flops_per_token(config, facts) / (peak * efficiency), source, note
    rate, factor, element_source = cpu_elementwise()
    matmul, element = cpu_work_seconds(config, facts, peak / 1e12, rate)
    note += f" + element-wise work at {rate:.2g} G elements/s"
    # The matmul rate needs measuring only (its efficiency is fixed by design); the factor is
    # what calibration adds.
    source = "assumed" if source == "assumed" else element_source
    return matmul / efficiency + factor * element, source, note


LEARN_MIN_SECONDS = 1.0  # shorter runs say too little about steady step time
FACTOR_RANGE = (0.3, 30.0)  # a factor outside this means the run measured something else


def learn_from_run(
    config: RunConfig, facts: ModelFacts, seconds: float, tokens: float
) -> float | None:
    """Refine this machine's element-wise factor from a finished fp32 CPU run.

    Args:
        config: the run's settings.
        facts: its model (core.catalog.read_local_model on the folder it trained).
        seconds: wall time of its training steps (evaluation and the first step left out).
        tokens: real (non-pad) tokens those steps trained on.

    Returns:
        The factor now stored (the mean of the previous one and this run's), or None when the
        run was too short or its factor implausible (nothing is stored then).
    """
    if seconds < LEARN_MIN_SECONDS or tokens <= 0:
        return None
    measured = calibrate_cpu()  # rates: cached, or measured now (~0.5 s)
    padding = LENGTH_GROUPED_PADDING if config.training.group_by_length else RANDOM_BATCH_PADDING
    per_token = seconds / (tokens * padding)
    matmul, element = cpu_work_seconds(
        config, facts, measured["fp32"], measured["elementwise_gelems"]
    )
    _, efficiency, _ = cpu_throughput("fp32")  # the efficiency the estimate divides by
    factor = (per_token - matmul / efficiency) / element
    if not FACTOR_RANGE[0] <= factor <= FACTOR_RANGE[1]:
        return None
    runs = measured.get("elementwise_factor_runs", 0)
    if runs and measured.get("elementwise_factor"):
        factor = (measured["elementwise_factor"] + factor) / 2
    write_calibration(elementwise_factor=round(factor, 3), elementwise_factor_runs=runs + 1)
    return factor
