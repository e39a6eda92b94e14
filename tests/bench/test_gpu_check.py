"""bench/gpu_check.py: its CPU-only parts, and every section end to end on tiny shapes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import gpu_check  # noqa: E402
import gpu_paths  # noqa: E402


def test_rows_have_long_tailed_lengths_within_the_limit():
    rows = gpu_paths.make_rows(400, vocab=1000, max_len=256, seed=3)
    totals = [len(r["prompt"]) + len(r["response"]) for r in rows]
    assert max(totals) <= 256
    assert min(totals) >= 4
    assert all(gpu_paths.SPECIAL <= t < 1000 for r in rows for t in r["prompt"] + r["response"])
    assert len(set(totals)) > 50  # varied lengths, not one fixed length


def test_labels_and_completion_mask_mark_the_same_tokens():
    rows = gpu_paths.make_rows(5, vocab=100, max_len=64, seed=1)
    cols = gpu_paths.labelled(rows)
    for row, labels, mask in zip(rows, cols["labels"], cols["completion_mask"], strict=True):
        assert [x != gpu_paths.IGNORE for x in labels] == [m == 1 for m in mask]
        assert labels[len(row["prompt"]) :] == row["response"]


def test_a_failing_section_is_recorded_and_the_next_still_runs(tmp_path, monkeypatch):
    def broken(rep, ctx):
        rep.put("broken", "partial", 1)
        raise RuntimeError("boom")

    def fine(rep, ctx):
        rep.put("fine", "value", 42)

    monkeypatch.setattr(gpu_check, "SECTIONS", {"broken": broken, "fine": fine})
    monkeypatch.setattr(gpu_check, "CAPS", {"broken": 5, "fine": 5})
    gpu_check.main(["--out", str(tmp_path), "--device", "cpu", "--sections", "broken,fine"])
    data = json.loads((tmp_path / "gpu_check.json").read_text())["sections"]
    assert data["broken"]["partial"] == 1  # what was measured before the error is kept
    assert "RuntimeError: boom" in data["broken"]["status"]["status"]
    assert data["fine"] == {"value": 42, "status": data["fine"]["status"]}
    assert data["fine"]["status"]["status"] == "done"
    assert "fine.value = 42" in (tmp_path / "gpu_check.log").read_text()


def test_a_section_past_its_cap_is_cut_short(tmp_path, monkeypatch):
    def slow(rep, ctx):
        rep.put("slow", "before", True)
        time.sleep(30)

    monkeypatch.setattr(gpu_check, "SECTIONS", {"slow": slow})
    monkeypatch.setattr(gpu_check, "CAPS", {"slow": 1})
    start = time.perf_counter()
    gpu_check.main(["--out", str(tmp_path), "--device", "cpu", "--sections", "slow"])
    assert time.perf_counter() - start < 10
    data = json.loads((tmp_path / "gpu_check.json").read_text())["sections"]["slow"]
    assert data["before"] is True
    assert "SectionTimeout" in data["status"]["status"]


@pytest.mark.slow
def test_every_section_runs_on_tiny_shapes_on_the_cpu(tmp_path):
    gpu_check.main(["--out", str(tmp_path), "--tiny", "--device", "cpu", "--cap-scale", "3"])
    data = json.loads((tmp_path / "gpu_check.json").read_text())["sections"]
    for section in gpu_check.SECTIONS:
        assert data[section]["status"]["status"] == "done", data[section]
    for name, *_ in gpu_check.ESTIMATOR_CASES:
        assert data["estimator"][name]["estimate_gb"]["total"] > 0, data["estimator"][name]
    runs = {k: v for k, v in data["throughput"].items() if "_round" in k}
    assert len(runs) == 6 and all("error" not in v for v in runs.values()), runs
    assert all(v["real_tokens_per_s"] > 0 for v in runs.values())
    # the three paths take the loss on the same tokens: equal losses on one same batch
    losses = [v["same_batch_loss"] for v in runs.values() if v["same_batch_loss"] is not None]
    assert len(losses) == 3 and max(losses) - min(losses) < 1e-4, losses
    assert set(data["throughput"]["summary"]) >= {"app_over_a1", "app_over_a2"}
    assert data["qlora"]["result"]["tokens_per_s"] > 0


def test_training_steps_recompute_checkpointed_layers_even_for_a_loaded_model(tmp_path):
    """A model from `from_pretrained` starts in eval mode, where transformers skips gradient
    checkpointing: the QLoRA section measured its memory without it (59 GB against 18 estimated)."""
    import torch
    from transformers import AutoModelForCausalLM

    gpu_check.build_model(gpu_check.TINY, torch.device("cpu"), torch.float32).save_pretrained(
        tmp_path
    )
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert not model.training
    model.gradient_checkpointing_enable({"use_reentrant": False})
    calls, mlp = [], model.model.layers[0].mlp
    act = mlp.act_fn

    class Counted(torch.nn.Module):  # a module hook is not called again on recomputation
        def forward(self, x):
            calls.append(1)
            return act(x)

    mlp.act_fn = Counted()
    gpu_paths.train_steps(model, 2, 16, gpu_check.TINY["vocab_size"], 1, torch.device("cpu"), False)
    assert len(calls) == 2  # the forward, and its recomputation in the backward pass
