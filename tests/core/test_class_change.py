"""What training changed per class: per-class scores, the first-vs-final recall rows, the
sentence and the figure; and which validation metric picks the best checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from core.class_change import change_summary, recall_changes
from core.plots.results import recall_change_figure
from core.settings import RunConfig
from core.train.classification import make_compute_metrics
from core.train.recipe import build_training_args


class EvalPred:
    def __init__(self, predicted: list[int], true: list[int], n_labels: int):
        self.predictions = np.eye(n_labels)[predicted]  # one-hot logits: argmax is `predicted`
        self.label_ids = np.asarray(true)


def test_compute_metrics_gives_each_label_precision_recall_f1_and_rows():
    compute = make_compute_metrics(["other", "refund", "spam"])
    # other: 3 rows, 2 found; refund: 2 rows, 1 found; spam: 1 row, never predicted.
    metrics = compute(EvalPred([0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 2], 3))
    per_class = metrics["per_class"]
    assert per_class["other"] == {"precision": 0.5, "recall": 0.6667, "f1": 0.5714, "support": 3}
    assert per_class["refund"]["recall"] == 0.5 and per_class["refund"]["precision"] == 0.5
    assert per_class["spam"] == {"precision": None, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["accuracy"] == pytest.approx(3 / 6)


def metrics_with_first_recall(recalls: dict[str, float], step: int = 4) -> list[dict]:
    per_class = {label: {"recall": r, "support": 10} for label, r in recalls.items()}
    return [
        {"step": 1, "loss": 1.0},
        {"step": step, "eval_loss": 0.9, "eval_per_class": per_class},
        {"step": 2 * step, "eval_loss": 0.5, "eval_per_class": {}},  # later ones are not used
    ]


def evaluation(confusion: list[list[int]], labels: list[str]) -> dict:
    return {"confusion": confusion, "labels": labels}


def test_recall_changes_compare_the_first_evaluation_with_the_final_model():
    metrics = metrics_with_first_recall({"other": 0.8, "refund": 0.1})
    change = recall_changes(metrics, evaluation([[8, 2], [1, 9]], ["other", "refund"]))
    assert change["first_step"] == 4
    assert [(r["label"], r["first"], r["final"]) for r in change["rows"]] == [
        ("other", 0.8, 0.8),
        ("refund", 0.1, 0.9),
    ]
    assert change["rows"][1]["change"] == pytest.approx(0.8)
    summary = change_summary(change["rows"])
    assert summary == "'refund' went from 10% to 90% recall; 'other' barely moved."


def test_a_drop_is_named_and_a_run_without_per_class_scores_has_no_change():
    rows = recall_changes(
        metrics_with_first_recall({"a": 0.9, "b": 0.2}), evaluation([[6, 4], [0, 10]], ["a", "b"])
    )["rows"]
    assert change_summary(rows) == "'b' went from 20% to 100% recall; 'a' fell from 90% to 60%."
    old_run = [{"step": 4, "eval_loss": 0.9, "eval_accuracy": 0.5}]
    assert recall_changes(old_run, evaluation([[1, 0], [0, 1]], ["a", "b"])) is None


def test_recall_change_figure_has_first_and_final_bars_per_label_as_categories():
    rows = [{"label": "0", "first": 0.2, "final": 0.7}, {"label": "1", "first": 0.5, "final": 0.6}]
    fig = recall_change_figure(rows, first_step=12).to_dict()
    assert [t["name"] for t in fig["data"]] == ["first evaluation (step 12)", "final model"]
    assert list(fig["data"][0]["y"]) == [0.2, 0.5] and list(fig["data"][1]["y"]) == [0.7, 0.6]
    assert fig["layout"]["xaxis"]["type"] == "category"
    assert list(fig["layout"]["xaxis"]["categoryarray"]) == ["0", "1"]


@pytest.mark.parametrize(
    ("task", "metric", "greater"),
    [("classification", "eval_macro_f1", True), ("causal_lm", "eval_loss", False)],
)
def test_best_checkpoint_and_early_stopping_follow_the_task_metric(tmp_path, task, metric, greater):
    config = RunConfig().replace(model={"task": task}, training={"early_stopping_patience": 2})
    args = build_training_args(config, tmp_path, n_train=100)
    assert args.metric_for_best_model == metric
    assert args.greater_is_better is greater
    assert args.load_best_model_at_end
