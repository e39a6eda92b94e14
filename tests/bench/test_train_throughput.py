"""bench/train_throughput.py's bookkeeping: the strongest baseline, ratios, paired comparisons."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import throughput_paths  # noqa: E402
import train_throughput as tt  # noqa: E402


def run(tokens_per_s, accuracy=0.9, loss=0.3):
    return {"real_tokens_per_s": tokens_per_s, "step_time_s": 1.0, "padding_share": 0.1,
            "peak_rss_mb": 100.0, "matmul_tflops": 0.1, "mfu": 0.2, "accuracy": accuracy,
            "eval_loss": loss}  # fmt: skip


def test_the_ratio_is_taken_to_the_fastest_ordinary_recipe_not_the_tutorial():
    results = {
        "a0": [run(100), run(110)],
        "a1": [run(300), run(320)],
        "a2": [run(400), run(380)],
        "b": [run(600), run(570)],
    }
    assert tt.strongest(results) == "a2"
    table = "\n".join(tt.summarise("causal_lm", results))
    assert "(b) ÷ a2" in table
    assert "| real_tokens_per_s | 105 | 310 | 390 | 585 | 1.50 |" in table
    assert "per round: 1.50, 1.50 (median 1.50)" in table


def test_a_failed_path_is_listed_and_left_out_of_the_medians():
    results = {"a1": [run(300), {"error": "OOM"}], "b": [run(450), run(500)]}
    rows = tt.summarise("x", results)
    assert "errors: a1 round 2: OOM" in rows
    assert any("per round: 1.50" in r for r in rows)


def test_paired_quality_reports_the_median_difference_and_a_test_from_five_seeds():
    results = {
        "a1": [run(1, accuracy=a) for a in (0.80, 0.82, 0.81, 0.79, 0.83)],
        "b": [run(1, accuracy=a) for a in (0.81, 0.82, 0.80, 0.80, 0.84)],
    }
    text = tt.paired(results, "a1", "accuracy")
    assert text.startswith("median diff +0.0100 over 5 paired seeds")
    assert "Wilcoxon p = " in text


def test_counting_collator_counts_real_padded_and_trained_tokens():
    def pad(features):
        width = max(len(f["input_ids"]) for f in features)
        ids = [f["input_ids"] + [0] * (width - len(f["input_ids"])) for f in features]
        labels = [f["labels"] + [-100] * (width - len(f["labels"])) for f in features]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}

    counter = tt.CountingCollator(pad)
    counter([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5], "labels": [5]}])
    assert (counter.real, counter.computed, counter.trained) == ([4], [6], [3])


def test_trl_rows_train_on_the_same_tokens_as_the_app_rows():
    class Reference:
        datasets = {"train": {"input_ids": [[1, 2, 3, 4], [5, 6]], "labels": [[-100, -100, 3, 4],
                                                                            [-100, 6]]}}  # fmt: skip

    app = throughput_paths.causal_rows(Reference())
    trl = throughput_paths.causal_rows(Reference(), completion_mask=True)
    for labels, mask in zip(app["labels"], trl["completion_mask"], strict=True):
        assert [x != -100 for x in labels] == [m == 1 for m in mask]
