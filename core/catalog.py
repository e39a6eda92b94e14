"""Known models and their architecture facts; local folders, the Hugging Face cache and Hub ids.

Every number the estimator needs about a model lives in one `ModelFacts` (core.model_facts,
re-exported here). The curated `CATALOG` copies the published `config.json` values of each model
(and the parameter count from its model card); `count_parameters` recomputes the count from the
architecture, and a test holds the two within 3% so a typo in a row cannot hide.

    from core.catalog import resolve_model
    facts = resolve_model("Qwen/Qwen2.5-0.5B")      # catalog, local folder, HF cache or the Hub
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

from core.model_facts import (  # noqa: F401 - re-exported: the facts of a model
    ENCODER_TYPES,
    PLAIN_MLP_DECODERS,
    SEQ2SEQ_TYPES,
    ModelFacts,
    ModelSourceError,
    count_parameters,
    embedding_parameters,
    facts_from_config,
)
from core.settings import EMBEDDED_MODEL

SIZE_BUCKETS = {  # plain-words size filter → (min, max) parameters
    "tiny (< 200M)": (0, 2e8),
    "small (200M – 1B)": (2e8, 1e9),
    "medium (1B – 4B)": (1e9, 4e9),
    "large (4B – 15B)": (4e9, 15e9),
    "very large (> 15B)": (15e9, float("inf")),
}
PERMISSIVE_LICENCES = {"apache-2.0", "mit"}
HUB_TIMEOUT_S = 2.0


# Rows of data read better one model to a line, so the formatter leaves them alone.
# fmt: off
def _encoder(name, path, params, layers, hidden, heads, inter, vocab, context, licence, mtype):
    return ModelFacts(name, path, "encoder", params, layers, hidden, heads, heads, inter, vocab,
                      context, licence, ("classification",), gated_mlp=False, model_type=mtype)


def _decoder(name, path, params, layers, hidden, heads, kv, inter, vocab, context, licence,
             tied=False, head_dim=0, mtype="llama"):
    return ModelFacts(name, path, "decoder", params, layers, hidden, heads, kv, inter, vocab,
                      context, licence, ("causal_lm", "classification"), head_dim=head_dim,
                      tied_embeddings=tied, model_type=mtype)


def _t5(name, path, params, layers, hidden, heads, inter):
    return ModelFacts(name, path, "encoder-decoder", params, layers, hidden, heads, heads, inter,
                      32128, 512, "apache-2.0", ("seq2seq",), head_dim=64, decoder_layers=layers,
                      model_type="t5")


# Values copied from each model's config.json on the Hub; params from the model card.
CATALOG: list[ModelFacts] = [
    _encoder("MiniLM-L6 (embedded)", EMBEDDED_MODEL, 22.7e6, 6, 384, 12, 1536, 30522, 512,
             "apache-2.0", "bert"),
    _encoder("DistilBERT base", "distilbert/distilbert-base-uncased", 67.0e6, 6, 768, 12, 3072,
             30522, 512, "apache-2.0", "distilbert"),
    _encoder("BERT base", "google-bert/bert-base-uncased", 110e6, 12, 768, 12, 3072, 30522, 512,
             "apache-2.0", "bert"),
    _encoder("RoBERTa base", "FacebookAI/roberta-base", 125e6, 12, 768, 12, 3072, 50265, 512,
             "mit", "roberta"),
    _encoder("RoBERTa large", "FacebookAI/roberta-large", 355e6, 24, 1024, 16, 4096, 50265, 512,
             "mit", "roberta"),
    _encoder("DeBERTa-v3 base", "microsoft/deberta-v3-base", 184e6, 12, 768, 12, 3072, 128100, 512,
             "mit", "deberta-v2"),
    _decoder("SmolLM2 135M", "HuggingFaceTB/SmolLM2-135M", 135e6, 30, 576, 9, 3, 1536, 49152, 8192,
             "apache-2.0", tied=True),
    _decoder("SmolLM2 360M", "HuggingFaceTB/SmolLM2-360M", 362e6, 32, 960, 15, 5, 2560, 49152, 8192,
             "apache-2.0", tied=True),
    _decoder("SmolLM2 1.7B", "HuggingFaceTB/SmolLM2-1.7B", 1.71e9, 24, 2048, 32, 32, 8192, 49152,
             8192, "apache-2.0", tied=True),
    _decoder("Qwen2.5 0.5B", "Qwen/Qwen2.5-0.5B", 0.494e9, 24, 896, 14, 2, 4864, 151936, 32768,
             "apache-2.0", tied=True, mtype="qwen2"),
    _decoder("Qwen2.5 1.5B", "Qwen/Qwen2.5-1.5B", 1.54e9, 28, 1536, 12, 2, 8960, 151936, 32768,
             "apache-2.0", tied=True, mtype="qwen2"),
    _decoder("Qwen2.5 3B", "Qwen/Qwen2.5-3B", 3.09e9, 36, 2048, 16, 2, 11008, 151936, 32768,
             "qwen-research", tied=True, mtype="qwen2"),
    _decoder("Qwen2.5 7B", "Qwen/Qwen2.5-7B", 7.61e9, 28, 3584, 28, 4, 18944, 152064, 131072,
             "apache-2.0", mtype="qwen2"),
    _decoder("Qwen2.5 14B", "Qwen/Qwen2.5-14B", 14.7e9, 48, 5120, 40, 8, 13824, 152064, 131072,
             "apache-2.0", mtype="qwen2"),
    _decoder("Qwen2.5 32B", "Qwen/Qwen2.5-32B", 32.5e9, 64, 5120, 40, 8, 27648, 152064, 131072,
             "apache-2.0", mtype="qwen2"),
    _decoder("Qwen2.5 72B", "Qwen/Qwen2.5-72B", 72.7e9, 80, 8192, 64, 8, 29568, 152064, 131072,
             "qwen", mtype="qwen2"),
    _decoder("Llama 3.2 1B", "meta-llama/Llama-3.2-1B", 1.24e9, 16, 2048, 32, 8, 8192, 128256,
             131072, "llama3.2", tied=True),
    _decoder("Llama 3.2 3B", "meta-llama/Llama-3.2-3B", 3.21e9, 28, 3072, 24, 8, 8192, 128256,
             131072, "llama3.2", tied=True),
    _decoder("Llama 3.1 8B", "meta-llama/Llama-3.1-8B", 8.03e9, 32, 4096, 32, 8, 14336, 128256,
             131072, "llama3.1"),
    _decoder("Llama 3.1 70B", "meta-llama/Llama-3.1-70B", 70.6e9, 80, 8192, 64, 8, 28672, 128256,
             131072, "llama3.1"),
    _decoder("Llama 2 7B", "meta-llama/Llama-2-7b-hf", 6.74e9, 32, 4096, 32, 32, 11008, 32000, 4096,
             "llama2"),
    _decoder("Mistral 7B v0.1", "mistralai/Mistral-7B-v0.1", 7.24e9, 32, 4096, 32, 8, 14336, 32000,
             32768, "apache-2.0", mtype="mistral"),
    _decoder("Phi-3 mini 4k", "microsoft/Phi-3-mini-4k-instruct", 3.82e9, 32, 3072, 32, 32, 8192,
             32064, 4096, "mit", mtype="phi3"),
    _decoder("Gemma 2 2B", "google/gemma-2-2b", 2.61e9, 26, 2304, 8, 4, 9216, 256000, 8192,
             "gemma", tied=True, head_dim=256, mtype="gemma2"),
    _decoder("Gemma 2 9B", "google/gemma-2-9b", 9.24e9, 42, 3584, 16, 8, 14336, 256000, 8192,
             "gemma", tied=True, head_dim=256, mtype="gemma2"),
    _decoder("Gemma 2 27B", "google/gemma-2-27b", 27.2e9, 46, 4608, 32, 16, 36864, 256000, 8192,
             "gemma", tied=True, head_dim=128, mtype="gemma2"),
    _t5("Flan-T5 small", "google/flan-t5-small", 77.0e6, 8, 512, 6, 1024),
    _t5("Flan-T5 base", "google/flan-t5-base", 248e6, 12, 768, 12, 2048),
    _t5("Flan-T5 large", "google/flan-t5-large", 783e6, 24, 1024, 16, 2816),
    _t5("Flan-T5 XL", "google/flan-t5-xl", 2.85e9, 24, 2048, 32, 5120),
    _t5("T0 3B", "bigscience/T0_3B", 2.85e9, 24, 2048, 32, 5120),
]

# fmt: on


def read_local_model(folder: str | Path, source: str = "local folder") -> ModelFacts:
    """Facts of a model saved in a folder (its config.json).

    Raises:
        ModelSourceError: no folder, no config.json, or a config that is not JSON.
    """
    folder = Path(folder).expanduser()
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelSourceError(
            f"no config.json in {folder}; choose the folder that holds the model's files"
        )
    try:
        config = json.loads(config_file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ModelSourceError(
            f"{config_file} is not readable JSON ({err}); re-download it"
        ) from err
    return facts_from_config(config, str(folder), source)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder this machine uses."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
    return Path(home) / "hub"


def list_cached_models(cache: Path | None = None) -> list[ModelFacts]:
    """Models already downloaded to the Hugging Face cache, "on this machine".

    Returns:
        One entry per `models--org--name` folder with a readable config.json, newest snapshot.
    """
    cache = cache or hf_cache_dir()
    found = []
    for repo in sorted(cache.glob("models--*")) if cache.is_dir() else []:
        configs = sorted(repo.glob("snapshots/*/config.json"), key=lambda p: p.stat().st_mtime)
        if not configs:
            continue
        hub_id = repo.name.removeprefix("models--").replace("--", "/")
        try:
            facts = read_local_model(configs[-1].parent, source="on this machine")
        except ModelSourceError:
            continue
        found.append(replace(facts, name=hub_id, name_or_path=hub_id))
    return found


def _download_config(hub_id: str) -> dict:
    from huggingface_hub import hf_hub_download

    return json.loads(Path(hf_hub_download(hub_id, "config.json")).read_text())


def fetch_hub_model(hub_id: str, timeout_s: float = HUB_TIMEOUT_S) -> ModelFacts:
    """Facts of a Hub model, reading only its config.json; never waits more than `timeout_s`.

    Raises:
        ModelSourceError: offline (HF_HUB_OFFLINE=1 or no answer in time) or no such model.
    """
    offline = (
        f"Cannot reach the Hugging Face Hub to read {hub_id!r} (this computer is offline). "
        "Pick a model from the catalog, one on this machine, or a local folder."
    )
    from core.models import hub_offline

    if hub_offline(timeout_s):  # the one offline check (HF_HUB_OFFLINE, or no connection)
        raise ModelSourceError(offline)
    result: dict = {}

    def worker():  # in a thread: DNS look-ups ignore socket time-outs
        try:
            result["config"] = _download_config(hub_id)
        except Exception as err:  # noqa: BLE001 - any failure becomes one message below
            result["error"] = err

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if "config" in result:
        return facts_from_config(result["config"], hub_id, "Hugging Face Hub")
    error = result.get("error")
    if error is not None and "404" in str(error):
        raise ModelSourceError(f"no model {hub_id!r} on the Hub; check the spelling (org/name)")
    raise ModelSourceError(offline)


def find_in_catalog(name_or_path: str) -> ModelFacts | None:
    """The catalog entry with this Hub id or name (case-insensitive), or None."""
    wanted = name_or_path.strip().lower()
    for facts in CATALOG:
        if wanted in (facts.name_or_path.lower(), facts.name.lower()):
            return facts
    return None


def resolve_model(name_or_path: str) -> ModelFacts:
    """Facts for whatever ModelSettings.name_or_path holds: catalog, folder, HF cache, then Hub.

    Raises:
        ModelSourceError: not found anywhere (with what to do).
    """
    known = find_in_catalog(name_or_path)
    if known:
        return known
    if Path(name_or_path).expanduser().is_dir():
        return read_local_model(name_or_path)
    for cached in list_cached_models():
        if cached.name_or_path == name_or_path:
            return cached
    if name_or_path.count("/") != 1 or name_or_path.startswith(("/", ".", "~")):
        raise ModelSourceError(
            f"{name_or_path!r} is neither a folder on this computer nor a Hub id like 'org/name'"
        )
    return fetch_hub_model(name_or_path)


def filter_models(
    models: list[ModelFacts] | None = None,
    task: str = "",
    size: str = "",
    licence: str = "",
    fits=None,
) -> list[ModelFacts]:
    """Models matching every filter given (an empty filter matches all).

    Args:
        models: where to look (default: the catalog).
        task: one of core.settings.TASKS.
        size: a key of SIZE_BUCKETS.
        licence: a licence id, or "permissive" for Apache-2.0 / MIT.
        fits: a predicate `fits(facts) -> bool`, e.g. built on core.estimate.

    Returns:
        The matching models, smallest first.
    """
    chosen = list(CATALOG if models is None else models)
    if task:
        chosen = [m for m in chosen if task in m.tasks]
    if size:
        low, high = SIZE_BUCKETS[size]
        chosen = [m for m in chosen if low <= m.params < high]
    if licence == "permissive":
        chosen = [m for m in chosen if m.licence in PERMISSIVE_LICENCES]
    elif licence:
        chosen = [m for m in chosen if m.licence == licence]
    if fits is not None:
        chosen = [m for m in chosen if fits(m)]
    return sorted(chosen, key=lambda m: m.params)
