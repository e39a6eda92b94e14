"""A standalone model: the LoRA adapter folded into its base (peft's `merge_and_unload`).

    .venv/bin/python -m core.merge --run studio-data/runs/<run> [--out FOLDER]

The folder holds safetensors weights, config.json, the tokenizer and a model card, and loads with
plain `AutoModelFor...from_pretrained` (no peft): one model to ship instead of base + adapter.
It holds no training or validation text, and no server paths (core.export's scrub). Before
anything loads, the memory the merge needs (the base's weights once, in its checkpoint dtype,
plus the adapter) is compared with what the machine has, so a 70B base on 24 GB is refused with
the number instead of swapping for an hour.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from core import runs
from core.evaluate import adapter_meta
from core.export import (
    mean_pooling_snippet,
    model_card,
    path_replacements,
    public_model_name,
    scrub,
)

MERGED_DIR = "merged"
FOLDER = "path/to/this/folder"  # how the merged card names the folder
AUTO_CLASSES = {
    "classification": "AutoModelForSequenceClassification",
    "seq2seq": "AutoModelForSeq2SeqLM",
    "causal_lm": "AutoModelForCausalLM",
}
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors")
OVERHEAD_GB = 1.0  # the Python process, torch and the tokenizer, besides the weights
TEXT_FILES = (".json", ".md", ".txt", ".jinja")


class MergeError(Exception):
    """A merge that cannot run; the message says what is wrong and what to do."""


def saved_adapter(run_dir: Path) -> dict:
    """The adapter's labels.json, after checking the run holds a complete adapter.

    Raises:
        MergeError: no run folder, no adapter, or a partial one, with the run's state.
    """
    run_dir = Path(run_dir)
    if not (run_dir / runs.CONFIG_FILE).exists():
        raise MergeError(f"{run_dir} is not a run folder (it has no {runs.CONFIG_FILE}).")
    state = runs.read_status(run_dir).get("state", "unknown")
    try:
        adapter_dir, meta = adapter_meta(run_dir)
    except (FileNotFoundError, ValueError) as err:
        raise MergeError(f"{err} The run's state is '{state}': finish or resume it.") from err
    missing = [] if any((adapter_dir / n).exists() for n in ADAPTER_WEIGHTS) else ["the weights"]
    if meta.get("method") != "full" and not (adapter_dir / "adapter_config.json").exists():
        missing.append("adapter_config.json")
    if missing:
        raise MergeError(
            f"The adapter of run {run_dir.name} is incomplete ({' and '.join(missing)} missing; "
            f"the run's state is '{state}'). It probably stopped while saving: resume or retrain."
        )
    meta.setdefault("base_model", runs.read_config(run_dir).model.name_or_path)
    return meta


def checkpoint_bytes_per_weight(name_or_path: str) -> int:
    """Bytes per weight of the base's checkpoint: its config.json's dtype when the folder is here,
    else 2 (published LLMs ship in bf16 or fp16; transformers 5 loads that dtype)."""
    from core.models import DTYPE_BYTES, resolve_model_path

    config_file = Path(resolve_model_path(name_or_path)) / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return 2
    return DTYPE_BYTES.get(str(config.get("dtype") or config.get("torch_dtype")), 4)


def merge_memory_gb(base_model: str) -> dict:
    """What merging needs: {"params", "bytes_per_weight", "weights_gb", "needed_gb"}.

    The parameter count is the estimator's (core.catalog: catalog, local folder, HF cache, Hub).

    Raises:
        MergeError: the base model cannot be found to count its parameters.
    """
    from core.catalog import resolve_model
    from core.model_facts import ModelSourceError

    try:
        facts = resolve_model(base_model)
    except ModelSourceError as err:
        raise MergeError(f"Cannot size the base model for the merge: {err}") from err
    per_weight = checkpoint_bytes_per_weight(base_model)
    weights_gb = facts.params * per_weight / 1e9
    return {
        "params": facts.params,
        "bytes_per_weight": per_weight,
        "weights_gb": weights_gb,
        "needed_gb": weights_gb + OVERHEAD_GB,
    }


def available_memory_gb() -> float:
    import psutil

    return psutil.virtual_memory().available / 1e9


def check_merge_memory(base_model: str, available_gb: float | None = None) -> dict:
    """merge_memory_gb, after checking it fits in `available_gb` (default: free RAM now).

    Raises:
        MergeError: it would not fit; the message gives both numbers.
    """
    need = merge_memory_gb(base_model)
    have = available_memory_gb() if available_gb is None else available_gb
    if need["needed_gb"] > have:
        raise MergeError(
            f"Merging into {public_model_name(base_model)} ({need['params'] / 1e9:.1f}B "
            f"parameters, {need['bytes_per_weight']} bytes each) needs about "
            f"{need['needed_gb']:.0f} GB of memory; this machine has {have:.0f} GB free. "
            "Merge on a machine with more memory, or download the adapter zip and load it on "
            "the base model there."
        )
    return need


def load_trained(run_dir: Path, meta: dict):
    """(base + adapter model, tokenizer) of a run, through the Results page's loaders."""
    from core.evaluate import load_classifier, load_generator

    if meta.get("task", "classification") == "classification":
        loaded = load_classifier(run_dir)
    else:
        loaded = load_generator(run_dir)
    return loaded.model, loaded.tokenizer


def export_merged(run_dir: Path, out_dir: Path | None = None, available_gb=None) -> Path:
    """Write the merged model to `out_dir` (default: the run's merged/ folder).

    The folder appears whole or not at all: it is written beside its place and renamed.

    Raises:
        MergeError: partial adapter, not enough memory, or a model that does not load.
    """
    run_dir = Path(run_dir)
    meta = saved_adapter(run_dir)
    check_merge_memory(meta["base_model"], available_gb)
    out_dir = Path(out_dir) if out_dir else run_dir / MERGED_DIR
    try:
        model, tokenizer = load_trained(run_dir, meta)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise MergeError(
            f"The trained model of run {run_dir.name} could not be loaded: {err}. If the base "
            "model's folder moved, put it back; otherwise train again."
        ) from err
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        model.save_pretrained(staging, state_dict=saved_weights(model, meta))  # safetensors
        tokenizer.save_pretrained(staging)
        sequence_head = getattr(model, "head_reads_sequence", False)  # RoBERTa-like heads
        (staging / "README.md").write_text(merged_card(run_dir, meta, sequence_head))
        scrub_folder(staging, path_replacements(run_dir, runs.read_config(run_dir)))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def saved_weights(model, meta: dict) -> dict | None:
    """The merged weights to write (None: all of them). A mean-pooling classifier leaves out the
    first-token pooler it never used, so a stock load that would read the first token reports
    those weights as missing instead of answering wrongly in silence."""
    if meta.get("pooling") != "mean":
        return None
    return {k: v for k, v in model.state_dict().items() if ".pooler." not in k}


def scrub_folder(folder: Path, replacements: list[tuple[str, str]]) -> None:
    """Replace server paths in the folder's text files (config.json may name the base's folder)."""
    for path in folder.iterdir():
        if path.suffix in TEXT_FILES:
            path.write_text(scrub(path.read_text(encoding="utf-8"), replacements))


def merged_card(run_dir: Path, meta: dict, sequence_head: bool = False) -> str:
    """The adapter's model card, retitled, with a plain transformers snippet to load it."""
    card = model_card(run_dir).split("## Load it")[0].rstrip()
    card = card.replace("# LoRA adapter:", "# Fine-tuned model (LoRA merged):", 1)
    auto = AUTO_CLASSES.get(meta.get("task", "classification"), "AutoModelForCausalLM")
    if meta.get("pooling") == "mean":
        load = (
            f'model = AutoModelForSequenceClassification.from_pretrained("{FOLDER}").eval()\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{FOLDER}")'
        )
        return (
            f"{card}\n\nThe LoRA adapter is folded into the base weights: no peft needed.\n\n"
            + mean_pooling_snippet(load, sequence_head)
        )
    return (
        f"{card}\n\nThe LoRA adapter is folded into the base weights: no peft needed.\n\n"
        "## Load it\n```python\n"
        f"from transformers import AutoTokenizer, {auto}\n"
        f'model = {auto}.from_pretrained("{FOLDER}")\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{FOLDER}")\n```\n'
    )


def push_to_hub(folder: Path, repo_id: str, token: str | None = None) -> str:
    """Upload the merged folder to a private Hub repository; returns its address.

    The token comes from the argument (typed once in the page, kept in memory) or HF_TOKEN; it
    is never written to disk by this function.

    Raises:
        MergeError: no token, a malformed repository id, or no Hub reachable (said at once).
    """
    from core.models import HUB_ID, hub_offline

    token = token or os.environ.get("HF_TOKEN")
    if not HUB_ID.match(repo_id or ""):
        raise MergeError(f"{repo_id!r} is not a Hub repository id: use 'your-name/model-name'.")
    if not token:
        raise MergeError("No Hugging Face token: set HF_TOKEN, or type a write token.")
    if hub_offline():
        raise MergeError(
            f"This computer cannot reach the Hugging Face Hub (offline): nothing was sent. "
            f"The merged model stays in {Path(folder).name}/; download it instead."
        )
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=True, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id)
    except Exception as err:  # noqa: BLE001 - HTTP, auth and network errors: one message
        raise MergeError(f"The upload to {repo_id} failed: {err}") from err
    return f"https://huggingface.co/{repo_id}"


def folder_size_gb(folder: Path) -> float:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.merge", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--run", required=True, type=Path, help="a finished run's folder")
    parser.add_argument("--out", type=Path, help="where to write the model (default RUN/merged)")
    args = parser.parse_args(argv)
    try:
        out = export_merged(args.run, args.out)
    except MergeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Merged model ({folder_size_gb(out):.2f} GB) → {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
