"""Commands that serve a finished run with a real inference engine, to copy and run unchanged.

Generative (decoder) runs: vLLM's OpenAI-compatible server with the LoRA loaded beside the base
(`vllm serve BASE --enable-lora --lora-modules NAME=ADAPTER --max-lora-rank R`), Hugging Face
TGI's launcher in its Docker image (`--model-id BASE --lora-adapters NAME=/data/adapter`), and
llama.cpp (`convert_lora_to_gguf.py ADAPTER --base BASE --outfile`, then `llama-server --lora`).
Seq2seq runs: neither vLLM nor TGI loads a LoRA on an encoder-decoder, so the merged model is
served instead. Classification runs: `python -m core.serve`.

The flags follow the engines' documentation (vLLM LoRA guide, TGI launcher arguments, llama.cpp
README); vLLM, TGI and llama.cpp do not install on this CPU-only machine, so no engine's own
parser checks them here: tests check their shape (they split as a shell would, every path exists).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from core import runs
from core.evaluate import adapter_meta
from core.models import resolve_model_path

VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the values --max-lora-rank accepts
ENGINES_NOT_HERE = (
    "vLLM, TGI and llama.cpp are not installed on this machine, so these commands were not "
    "checked by the engines' own argument parsers; their flags follow each engine's documentation."
)


def adapter_name(run_dir: Path) -> str:
    """A name for the adapter in the engines' NAME=PATH flags: letters, digits, - and _."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", Path(run_dir).name).strip("-") or "adapter"


def vllm_rank(rank: int) -> int:
    """The smallest --max-lora-rank vLLM accepts that holds this rank (default 16 is too small
    for r=32 adapters and vLLM then refuses the adapter at load)."""
    return next((r for r in VLLM_LORA_RANKS if r >= rank), VLLM_LORA_RANKS[-1])


def serving_commands(run_dir: Path) -> list[dict]:
    """For each engine: {"engine", "command", "note"}; commands are one shell line each.

    Raises:
        FileNotFoundError: the run has no saved adapter.
    """
    run_dir = Path(run_dir).resolve()
    adapter_dir, meta = adapter_meta(run_dir)
    task = meta.get("task", "classification")
    quote = shlex.quote
    if task == "classification":
        command = f"python -m core.serve --run {quote(str(run_dir))} --port 8000"
        note = "Answers POST /predict with JSON, on this machine only (127.0.0.1)."
        return [{"engine": "Finetune Studio", "command": command, "note": note}]
    base = resolve_model_path(meta["base_model"])
    if task == "seq2seq" or meta.get("method") == "full":
        merged = run_dir / "merged"
        return [
            {"engine": "Merge first", "command": f"python -m core.merge --run {quote(str(run_dir))}",
             "note": "vLLM and TGI load LoRA adapters only on decoder models: serve the merged "
                     "model."},
            {"engine": "vLLM", "command": f"vllm serve {quote(str(merged))}", "note": ""},
        ]  # fmt: skip
    rank = runs.read_config(run_dir).lora.r
    name = adapter_name(run_dir)
    adapter = str(adapter_dir)
    return [vllm_command(base, name, adapter, rank), tgi_command(base, name, adapter),
            llama_cpp_command(base, name, adapter)]  # fmt: skip


def vllm_command(base: str, name: str, adapter: str, rank: int) -> dict:
    quote = shlex.quote
    return {
        "engine": "vLLM",
        "command": f"vllm serve {quote(base)} --enable-lora --lora-modules "
        f"{quote(f'{name}={adapter}')} --max-lora-rank {vllm_rank(rank)}",
        "note": f'OpenAI-compatible API on port 8000; ask for "model": "{name}".',
    }


def tgi_command(base: str, name: str, adapter: str) -> dict:
    """TGI in its Docker image: the adapter (and a local base) mounted under /data."""
    quote = shlex.quote
    mounts = f"-v {quote(adapter)}:/data/{name}"
    model_id = base
    if Path(base).is_dir():
        mounts += f" -v {quote(base)}:/data/base"
        model_id = "/data/base"
    return {
        "engine": "TGI",
        "command": f"docker run --gpus all --shm-size 1g -p 8080:80 {mounts} "
        f"ghcr.io/huggingface/text-generation-inference:latest --model-id {quote(model_id)} "
        f"--lora-adapters {quote(f'{name}=/data/{name}')}",
        "note": f'Send "adapter_id": "{name}" in the request parameters.',
    }


def llama_cpp_command(base: str, name: str, adapter: str) -> dict:
    quote = shlex.quote
    return {
        "engine": "llama.cpp",
        "command": f"python convert_lora_to_gguf.py {quote(adapter)} --base {quote(base)} "
        f"--outfile {name}.gguf && llama-server -m BASE.gguf --lora {name}.gguf",
        "note": "Run in a llama.cpp checkout; --base wants the base model's folder (download it "
        "first if it is a Hub id) and BASE.gguf is that base converted with convert_hf_to_gguf.py. "
        "Only for architectures llama.cpp supports.",
    }
