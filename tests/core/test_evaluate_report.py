"""The results report from eval.json alone: per-class P/R, the verdict, grouped mistakes."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from core.evaluate import group_mistakes, judge, mistake_rows, per_class_report, suggest_next_run


def evaluation_for(true: list[str], predicted: list[str], labels: list[str], **extra) -> dict:
    """An eval.json as core.train writes it, for these predictions."""
    confusion = confusion_matrix(true, predicted, labels=labels)
    counts = {label: true.count(label) for label in labels}
    return {
        "labels": labels,
        "confusion": confusion.tolist(),
        "accuracy": float(np.trace(confusion) / len(true)),
        "chance_accuracy": max(counts.values()) / len(true),
        "n_validation": len(true),
        **extra,
    }


def test_per_class_precision_recall_f1_match_sklearn():
    rng = np.random.default_rng(0)
    labels = ["1", "2", "3", "4"]
    true = rng.choice(labels, 60).tolist()
    # a noisy classifier that never predicts "4": precision of "4" is undefined
    predicted = [t if rng.random() < 0.6 else rng.choice(labels[:3]) for t in true]
    predicted = [p if p != "4" else "1" for p in predicted]
    report = per_class_report(confusion_matrix(true, predicted, labels=labels).tolist(), labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        true, predicted, labels=labels, zero_division=np.nan
    )
    assert [r["label"] for r in report] == labels
    assert [r["support"] for r in report] == support.tolist()
    for row, p, r, f in zip(report, precision, recall, f1, strict=True):
        assert (row["precision"] is None) == bool(np.isnan(p))
        if row["precision"] is not None:
            assert row["precision"] == pytest.approx(p)
        assert row["recall"] == pytest.approx(r)
        assert row["f1"] == pytest.approx(f)
    assert report[3]["predicted"] == 0 and report[3]["precision"] is None


def test_a_model_that_predicts_the_commonest_label_everywhere_is_called_collapsed():
    true = ["positive"] * 16 + ["negative"] * 9
    verdict = judge(evaluation_for(true, ["positive"] * 25, ["negative", "positive"]))
    assert verdict.level == "collapsed"
    assert "It predicts 'positive' for every row" in verdict.headline
    assert "guessing the commonest label" in verdict.headline
    assert verdict.lift == pytest.approx(0.0) and "Auto" in verdict.advice


def test_collapsing_to_a_rare_label_says_it_is_below_guessing():
    true = ["positive"] * 16 + ["negative"] * 9
    verdict = judge(evaluation_for(true, ["negative"] * 25, ["negative", "positive"]))
    assert verdict.level == "collapsed"
    assert "below always guessing 'positive' (64.0%)" in verdict.headline


def test_at_or_below_chance_with_both_labels_used():
    true = ["a"] * 6 + ["b"] * 4
    at_chance = judge(evaluation_for(true, ["a"] * 5 + ["b"] + ["a"] * 3 + ["b"], ["a", "b"]))
    assert at_chance.level == "chance" and "the same as always guessing 'a'" in at_chance.headline
    below = judge(evaluation_for(true, ["b"] * 6 + ["a"] * 4, ["a", "b"]))
    assert below.level == "chance" and "less than" in below.headline


def test_a_small_lift_on_few_rows_may_be_luck_and_a_clear_lift_is_good():
    true = ["a"] * 60 + ["b"] * 40
    slightly = ["a"] * 54 + ["b"] * 6 + ["a"] * 28 + ["b"] * 12  # 66% vs 60%: p ~ 0.12
    weak = judge(evaluation_for(true, slightly, ["a", "b"]))
    assert weak.level == "weak" and "could be luck" in weak.headline and weak.p_value > 0.05
    few = judge(evaluation_for(["a"] * 6 + ["b"] * 4, ["a"] * 6 + ["a", "b", "a", "a"], ["a", "b"]))
    assert few.level == "weak" and "by 10.0 percentage points on 10 rows" in few.headline
    good = judge(evaluation_for(true, ["a"] * 57 + ["b"] * 3 + ["a"] * 5 + ["b"] * 35, ["a", "b"]))
    assert good.level == "good" and good.p_value < 0.001 and good.advice == ""


def test_next_run_offer_is_auto_and_longer_after_an_auto_run():
    assert suggest_next_run("quick") == {
        "preset": "Auto",
        "minutes": 5,
        "label": "Run Auto for 5 minutes",
    }
    assert suggest_next_run("auto")["minutes"] == 15


def test_mistakes_are_grouped_by_true_and_predicted_biggest_first():
    true = ["1"] * 5 + ["2"] * 5 + ["3"] * 5
    predicted = ["1", "1", "1", "2", "3"] + ["1", "1", "1", "2", "2"] + ["3"] * 5
    mistakes = [
        {"text": "x", "label": 2, "predicted": "1", "confidence": 0.6},
        {"text": "y", "label": 2, "predicted": "1", "confidence": 0.9},
        {"text": "z", "label": 1, "predicted": "3", "confidence": 0.7},
    ]
    groups = group_mistakes(evaluation_for(true, predicted, ["1", "2", "3"], mistakes=mistakes))
    assert [(g["true"], g["predicted"], g["count"]) for g in groups] == [
        ("2", "1", 3),
        ("1", "2", 1),
        ("1", "3", 1),
    ]
    assert [m["text"] for m in groups[0]["examples"]] == ["y", "x"]
    assert groups[1]["examples"] == [] and [m["text"] for m in groups[2]["examples"]] == ["z"]


def test_saved_mistakes_cover_every_confusion_most_confident_first():
    label_ids = [0] * 10 + [1] * 4
    predicted = [1] * 10 + [0] * 4
    confidence = [0.04 * i for i in range(10)] + [0.5, 0.9, 0.6, 0.7]
    rows = mistake_rows(label_ids, predicted, confidence, per_pair=3)
    assert rows == [11, 13, 12, 9, 8, 7]
    assert len(mistake_rows(label_ids, predicted, confidence, per_pair=3, limit=4)) == 4
