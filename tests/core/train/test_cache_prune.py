"""The token cache stays within its budget, least recently used first, never the entry in use."""

from __future__ import annotations

import os
import time

from core.train import cache


def entry(root, key, size, used):
    folder = root / key
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "data.arrow").write_bytes(b"x" * size)
    (folder / "splits.json").write_text('["train"]')
    os.utime(folder / "splits.json", (used, used))
    return folder


def test_prune_removes_least_recently_used_beyond_the_budget(data_root):
    root = cache.cache_root()
    now = time.time()
    for i, key in enumerate(["old", "mid", "new"]):
        entry(root, key, 1000, now - 1000 * (3 - i))
    entry(root, "current", 1500, now - 10_000)  # the oldest, but the one in use
    removed = cache.prune(keep="current", budget=2600)
    assert removed == ["mid", "old"]
    assert sorted(p.name for p in root.iterdir()) == ["current", "new"]


def test_a_cache_hit_counts_as_recent_use(data_root):
    root = cache.cache_root()
    now = time.time()
    entry(root, "a", 100, now - 5000)
    entry(root, "b", 100, now - 100)
    os.utime(root / "a" / "splits.json", (now - 5000, now - 5000))
    from datasets import Dataset

    Dataset.from_dict({"input_ids": [[1, 2]]}).save_to_disk(str(root / "a" / "train"))
    datasets, hit = cache.cached_datasets("a", lambda: {})
    assert hit and datasets["train"]["input_ids"] == [[1, 2]]
    assert cache.prune(budget=cache._size(root / "a")) == ["b"]


def test_interrupted_writes_are_removed_after_an_hour_and_budget_comes_from_env(
    data_root, monkeypatch
):
    root = cache.cache_root()
    stale, fresh = root / ".k.1.tmp", root / ".k.2.tmp"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    cache.prune()
    assert not stale.exists() and fresh.exists()
    monkeypatch.setenv("STUDIO_TOKEN_CACHE_GB", "0.5")
    assert cache.budget_bytes() == 500_000_000
    monkeypatch.setenv("STUDIO_TOKEN_CACHE_GB", "lots")
    assert cache.budget_bytes() == int(cache.BUDGET_GB * 1e9)
