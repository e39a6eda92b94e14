"""Tokenise once: token datasets are kept on disk under `<data root>/cache/tokens/<key>/`.

The key hashes everything that changes the tokens: the data's content (its fingerprint, or the
file's bytes), the tokenizer (its serialised vocabulary and chat template), the max length, the task,
the column mapping, the split and whether prompts are trained on. A second run on the same data and
model (or a resumed run) loads the tokens instead of tokenising again.

The cache is pruned least-recently-used first to `$STUDIO_TOKEN_CACHE_GB` (default 4 GB) each
time an entry is added; the entry just used is always kept, and leftovers of interrupted writes
are removed after an hour. Pruning never touches a run: a running run that loaded tokens keeps its
open files (Linux frees them when it closes them), and a new run rebuilds what it needs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from core import runs
from core.settings import RunConfig

CACHE_VERSION = 2  # bump when the tokenisation code changes what it produces
BUDGET_GB = 4.0  # default size of the token cache; $STUDIO_TOKEN_CACHE_GB overrides it
STALE_TMP_S = 3600  # an unfinished write older than this was interrupted


def cache_root() -> Path:
    return runs.data_root() / "cache" / "tokens"


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes, or of every file under a folder (names and bytes)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for item in files:
        digest.update(str(item.relative_to(path) if path.is_dir() else "").encode())
        with open(item, "rb") as data:
            for chunk in iter(lambda: data.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def tokenizer_digest(tokenizer) -> str:
    """sha256 of what decides a tokenizer's output: vocabulary/merges, specials, chat template."""
    digest = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    vocab = (
        backend.to_str()
        if backend is not None
        else json.dumps(sorted(tokenizer.get_vocab().items()))
    )
    digest.update(vocab.encode())
    digest.update(str(getattr(tokenizer, "chat_template", "")).encode())
    digest.update(json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str).encode())
    digest.update(type(tokenizer).__name__.encode())
    return digest.hexdigest()


def cache_key(config: RunConfig, tokenizer, extra: dict | None = None) -> str:
    """The cache folder name for this config's tokens with this tokenizer."""
    data = config.data
    parts = {
        "version": CACHE_VERSION,
        "data": data.fingerprint or file_digest(data.path),
        "columns": [
            data.text_column,
            data.text_pair_column,
            data.label_column,
            data.prompt_column,
            data.response_column,
            data.messages_column,
        ],
        "split": [data.validation_fraction, data.split_seed],
        "tokenizer": tokenizer_digest(tokenizer),
        "max_length": config.training.max_length,
        "task": config.model.task,
        **(extra or {}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def cached_datasets(key: str, build: Callable[[], dict]) -> tuple[dict, bool]:
    """Load the token datasets saved under `key`, or build and save them.

    Args:
        key: from `cache_key`.
        build: returns {split name: datasets.Dataset}; called only on a miss.

    Returns:
        ({split: Dataset}, hit): hit is True when the tokens came from disk.
    """
    from datasets import load_from_disk

    folder = cache_root() / key
    done = folder / "splits.json"
    if done.exists():
        names = json.loads(done.read_text())
        os.utime(done)  # last used now: pruning removes the least recently used first
        return {name: load_from_disk(str(folder / name)) for name in names}, True
    datasets = build()
    # Write to a private folder and rename it into place: concurrent ranks or runs never see half.
    tmp = folder.with_name(f".{key}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name, dataset in datasets.items():
        dataset.save_to_disk(str(tmp / name))
    (tmp / "splits.json").write_text(json.dumps(list(datasets)))
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished first; its copy is identical
        shutil.rmtree(tmp, ignore_errors=True)
    prune(keep=key)
    return datasets, False


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _last_used(folder: Path) -> float:
    done = folder / "splits.json"
    return (done if done.exists() else folder).stat().st_mtime


def budget_bytes() -> int:
    """The cache's size limit: $STUDIO_TOKEN_CACHE_GB, else BUDGET_GB."""
    try:
        gb = float(os.environ.get("STUDIO_TOKEN_CACHE_GB", BUDGET_GB))
    except ValueError:
        gb = BUDGET_GB
    return int(max(0.0, gb) * 1e9)


def prune(keep: str = "", budget: int | None = None) -> list[str]:
    """Remove least recently used entries until the cache fits `budget` bytes (default
    `budget_bytes()`), never the entry `keep`; remove interrupted writes older than an hour.

    Returns:
        The keys removed.
    """
    root = cache_root()
    if not root.is_dir():
        return []
    budget = budget_bytes() if budget is None else budget
    now, entries = time.time(), []
    for folder in root.iterdir():
        try:  # another process (a rank, a second run) may be pruning at the same time
            if folder.name.startswith("."):
                if now - folder.stat().st_mtime > STALE_TMP_S:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            entries.append((folder.name == keep, _last_used(folder), folder, _size(folder)))
        except OSError:
            continue
    removed, total = [], 0
    for is_kept, _used, folder, size in sorted(entries, key=lambda e: (not e[0], -e[1])):
        if is_kept or total + size <= budget:
            total += size
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed
