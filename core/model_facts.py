"""What the estimator knows about a model: its architecture facts and the arithmetic on them.

`ModelFacts` holds every number the estimator needs; `facts_from_config` reads them from a
`config.json` (any source: the catalog's copies, a local folder, the HF cache, the Hub) and
`count_parameters` recomputes the parameter count from them. core.catalog holds the curated rows
and finds a model's facts; it re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ENCODER_TYPES = {
    "bert",
    "roberta",
    "distilbert",
    "deberta",
    "deberta-v2",
    "electra",
    "albert",
    "xlm-roberta",
    "mpnet",
    "camembert",
    "modernbert",
}
SEQ2SEQ_TYPES = {"t5", "mt5", "umt5", "bart", "mbart", "pegasus", "longt5"}
PLAIN_MLP_DECODERS = {"gpt2", "gpt_neox", "gptj", "opt", "bloom", "falcon", "phi", "gpt_bigcode"}


class ModelSourceError(ValueError):
    """A model cannot be found or read; the message says which and what to do."""


@dataclass
class ModelFacts:
    """The architecture facts of one model, enough to estimate memory and time."""

    name: str  # plain-words name shown to people
    name_or_path: str  # what ModelSettings.name_or_path takes (Hub id, folder or embedded)
    architecture: str  # "encoder", "decoder" or "encoder-decoder"
    params: float  # total parameters (published where known, else counted)
    layers: int  # transformer blocks (encoder blocks for encoder-decoder)
    hidden: int  # hidden size (d_model)
    heads: int  # attention heads
    kv_heads: int  # key/value heads (< heads for grouped-query attention)
    intermediate: int  # MLP inner size
    vocab: int
    context: int  # longest input the model was trained for, in tokens
    licence: str = "unknown"
    tasks: tuple[str, ...] = ("causal_lm",)
    head_dim: int = 0  # 0: hidden // heads
    gated_mlp: bool = True  # SwiGLU / GeGLU (three matrices) rather than two
    tied_embeddings: bool = False  # lm_head shares the input embedding
    decoder_layers: int = 0  # encoder-decoder only
    model_type: str = ""
    source: str = "catalog"  # "catalog", "local folder", "on this machine" or "Hugging Face Hub"
    notes: str = field(default="", compare=False)

    def __post_init__(self):
        if self.head_dim == 0:
            self.head_dim = self.hidden // max(self.heads, 1)

    @property
    def size_label(self) -> str:
        """Parameters in plain words: '135M', '7.2B'."""
        if self.params >= 1e9:
            return f"{self.params / 1e9:.1f}B"
        return f"{self.params / 1e6:.0f}M"


def count_parameters(facts: ModelFacts) -> float:
    """Parameters implied by the architecture (matrices only; biases and norms are < 0.5%).

    Args:
        facts: the model's architecture.

    Returns:
        The parameter count, embeddings and an untied output head included.
    """
    h, attn, kv = facts.hidden, facts.heads * facts.head_dim, facts.kv_heads * facts.head_dim
    mlp = (3 if facts.gated_mlp else 2) * h * facts.intermediate
    attention = 2 * h * attn + 2 * h * kv  # q, o and k, v
    embeddings = facts.vocab * h
    if facts.architecture == "encoder":
        embeddings += facts.context * h  # learned positions
    blocks = facts.layers * (attention + mlp)
    if facts.architecture == "encoder-decoder":
        blocks += facts.decoder_layers * (2 * attention + mlp)  # self- and cross-attention
    head = 0 if facts.tied_embeddings or facts.architecture == "encoder" else facts.vocab * h
    return float(embeddings + blocks + head)


def embedding_parameters(facts: ModelFacts) -> float:
    """Parameters in the token embedding and an untied output head (looked up, not multiplied)."""
    untied_head = not facts.tied_embeddings and facts.architecture != "encoder"
    return float(facts.vocab * facts.hidden * (2 if untied_head else 1))


def _first(config: dict, *keys: str, default=None):
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


def facts_from_config(config: dict, name_or_path: str, source: str) -> ModelFacts:
    """Turn a `config.json` mapping into `ModelFacts`.

    Args:
        config: the parsed config.json.
        name_or_path: what the run will load (folder or Hub id).
        source: where the facts came from, shown to the user.

    Returns:
        The facts; the parameter count is computed from the architecture.

    Raises:
        ModelSourceError: the config lacks the hidden size or the number of layers.
    """
    mtype = str(config.get("model_type", ""))
    hidden = _first(config, "hidden_size", "d_model", "dim", "n_embd")
    layers = _first(config, "num_hidden_layers", "num_layers", "n_layers", "n_layer")
    if not hidden or not layers:
        raise ModelSourceError(
            f"{name_or_path}: its config.json has no hidden size or layer count "
            f"(model_type {mtype!r}); pick a model from the catalog instead"
        )
    heads = _first(config, "num_attention_heads", "num_heads", "n_heads", "n_head", default=1)
    if mtype in SEQ2SEQ_TYPES or config.get("is_encoder_decoder"):
        arch, tasks = "encoder-decoder", ("seq2seq",)
    elif mtype in ENCODER_TYPES:
        arch, tasks = "encoder", ("classification",)
    else:
        arch, tasks = "decoder", ("causal_lm", "classification")
    act = str(_first(config, "hidden_act", "feed_forward_proj", "activation", default=""))
    facts = ModelFacts(
        name=Path(name_or_path).name or name_or_path,
        name_or_path=name_or_path,
        architecture=arch,
        params=0.0,
        layers=int(layers),
        hidden=int(hidden),
        heads=int(heads),
        kv_heads=int(_first(config, "num_key_value_heads", default=heads)),
        intermediate=int(
            _first(config, "intermediate_size", "d_ff", "hidden_dim", "n_inner", default=4 * hidden)
        ),
        vocab=int(_first(config, "vocab_size", default=32000)),
        context=int(_first(config, "max_position_embeddings", "n_positions", default=512)),
        tasks=tasks,
        head_dim=int(_first(config, "head_dim", "d_kv", default=0) or 0),
        gated_mlp=(arch == "decoder" and mtype not in PLAIN_MLP_DECODERS) or "gated" in act,
        tied_embeddings=bool(config.get("tie_word_embeddings", arch != "encoder-decoder")),
        decoder_layers=int(_first(config, "num_decoder_layers", default=layers))
        if arch == "encoder-decoder"
        else 0,
        model_type=mtype,
        source=source,
    )
    facts.params = count_parameters(facts)
    return facts
