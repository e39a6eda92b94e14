"""Results page on finished runs written to disk: a collapsed run, a weak one, a good one."""

from __future__ import annotations

import json

from streamlit.proto.Metric_pb2 import Metric as MetricProto

from core import runs
from core.settings import RunConfig
from tests.app.conftest import button, go, texts

OFFER = "Run Auto for 5 minutes"


def finished_run(true: list[str], predicted: list[str], labels: list[str], name="quick"):
    """A completed run directory whose eval.json scores these predictions, as core.train writes."""
    from sklearn.metrics import confusion_matrix

    config = RunConfig(name=name).replace(
        data={"path": "/data/reviews.csv", "text_column": "text", "label_column": "label"}
    )
    run_dir = runs.create_run(config)
    runs.write_status(run_dir, state="completed", step=10, total_steps=10)
    (run_dir / runs.ADAPTER_DIR).mkdir()
    (run_dir / runs.ADAPTER_DIR / "labels.json").write_text(json.dumps({"labels": labels}))
    confusion = confusion_matrix(true, predicted, labels=labels)
    wrong = [i for i, (t, p) in enumerate(zip(true, predicted, strict=True)) if t != p]
    evaluation = {
        "labels": labels,
        "confusion": confusion.tolist(),
        "accuracy": float(confusion.trace() / len(true)),
        "macro_f1": 0.5,
        "chance_accuracy": max(true.count(x) for x in labels) / len(true),
        "n_validation": len(true),
        "eval_loss": 0.6,
        "mistakes": [
            {"text": f"row {i}", "label": true[i], "predicted": predicted[i], "confidence": 0.7}
            for i in wrong[:20]
        ],
    }
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(evaluation))
    return run_dir


def open_results(app, run_dir):
    app.session_state["run_dir"] = str(run_dir)
    return go(app, "pages/results.py")


def accuracy_metric(app):
    return [m for m in app.metric if m.label == "Validation accuracy"][0]


def test_a_model_that_predicts_one_label_is_a_warning_with_a_one_click_next_try(app, data_root):
    true = ["positive"] * 48 + ["negative"] * 27  # 64.0% positive, as in the reviews
    open_results(app, finished_run(true, ["positive"] * 75, ["negative", "positive"]))
    metric = accuracy_metric(app)
    assert metric.value == "64.0%" and metric.proto.delta == "+0.0 points over guessing"
    assert metric.proto.color == MetricProto.GRAY and metric.proto.direction == MetricProto.NONE
    warning = texts(app.warning)
    assert "It predicts 'positive' for every row" in warning and "Auto" in warning
    assert not app.success
    assert button(app, OFFER).proto.type == "primary"
    [group] = [e.label for e in app.expander]
    assert group == "True 'negative', predicted 'positive': 27 rows"


def test_the_one_click_offer_sets_the_auto_preset_and_budget_on_the_same_data(app, data_root):
    true = ["a"] * 30 + ["b"] * 20
    run_dir = finished_run(true, ["a"] * 50, ["a", "b"])
    open_results(app, run_dir)
    button(app, OFFER).click().run()
    assert app.session_state["preset"] == "Auto"
    assert app.session_state["auto_budget_minutes"] == 5
    assert app.session_state["config"].data.path == "/data/reviews.csv"


def test_the_one_click_offer_lands_on_the_train_page_with_auto_chosen(app, data_root):
    true = ["a"] * 30 + ["b"] * 20
    open_results(app, finished_run(true, ["a"] * 50, ["a", "b"]))
    button(app, OFFER).click().run()
    assert not app.exception, app.exception
    assert [h.value for h in app.header] == ["Train your model"]


def test_below_guessing_is_red_and_a_small_lift_is_grey_with_a_warning(app, data_root):
    true = ["a"] * 30 + ["b"] * 20
    below = ["b"] * 20 + ["a"] * 10 + ["a"] * 10 + ["b"] * 10  # 40%
    open_results(app, finished_run(true, below, ["a", "b"]))
    assert accuracy_metric(app).proto.color == MetricProto.RED
    assert "less than always guessing 'a'" in texts(app.warning)
    true = ["a"] * 60 + ["b"] * 40
    slightly = ["a"] * 54 + ["b"] * 6 + ["a"] * 28 + ["b"] * 12  # 66% against 60%
    open_results(app, finished_run(true, slightly, ["a", "b"], name="auto"))
    assert accuracy_metric(app).proto.color == MetricProto.GRAY
    assert "could be luck" in texts(app.warning)
    assert button(app, "Run Auto for 15 minutes")  # a longer budget after an Auto run


def test_a_good_run_with_numeric_labels_is_green_with_confusions_grouped(app, data_root):
    labels = ["1", "2", "3", "4"]
    true = [label for label in labels for _ in range(25)]
    predicted = list(true)
    for i in (25, 26, 27):  # three "2" rows called "1", one "4" row called "3"
        predicted[i] = "1"
    predicted[90] = "3"
    run_dir = finished_run(true, predicted, labels)
    open_results(app, run_dir)
    metric = accuracy_metric(app)
    assert metric.proto.color == MetricProto.GREEN and metric.proto.direction == MetricProto.UP
    assert "It beats always guessing '1' (25.0%) by 71.0 percentage points" in texts(app.success)
    assert not app.warning and OFFER not in [b.label for b in app.button]
    assert any(f"python -m core.predict --run {run_dir}" in c.value for c in app.code)
    assert [e.label for e in app.expander] == [
        "True '2', predicted '1': 3 rows",
        "True '4', predicted '3': 1 row",
    ]
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    assert len(charts) == 2
    for chart in charts:  # "1".."4" drawn as the four label names, not on a number line
        assert chart["layout"]["xaxis"]["type"] == "category"
        assert chart["layout"]["xaxis"]["categoryarray"] == labels
    per_class = app.dataframe[0].value
    assert list(per_class["label"]) == labels
    # In percent, one decimal in every cell (100.0%, 89.3%), not Streamlit's 100% beside 89.3%.
    assert per_class["recall"].tolist() == [100.0, 88.0, 100.0, 96.0]
    assert per_class["precision"].tolist() == [89.3, 100.0, 96.2, 100.0]


def test_what_training_changed_per_class_compares_the_first_evaluation_with_the_final(
    app, data_root
):
    labels = ["other", "refund"]
    true = ["other"] * 10 + ["refund"] * 10
    predicted = ["other"] * 10 + ["refund"] * 9 + ["other"]  # final recall 100% and 90%
    run_dir = finished_run(true, predicted, labels)
    first = {"other": {"recall": 0.98, "support": 10}, "refund": {"recall": 0.12, "support": 10}}
    runs.append_metrics(run_dir, {"step": 1, "loss": 0.7})
    runs.append_metrics(run_dir, {"step": 5, "eval_loss": 0.6, "eval_per_class": first})
    open_results(app, run_dir)
    assert "What training changed per class" in texts(app.subheader)
    assert "'refund' went from 12% to 90% recall; 'other' barely moved." in texts(app.markdown)
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    change_chart = charts[-1]
    assert [t["name"] for t in change_chart["data"]] == [
        "first evaluation (step 5)",
        "final model",
    ]
    table = app.dataframe[1].value
    assert list(table["label"]) == labels
    assert table["first"].tolist() == [98.0, 12.0] and table["final"].tolist() == [100.0, 90.0]


def test_energy_is_shown_against_the_pre_run_estimate_with_the_cost_per_point(app, data_root):
    from core.energy import energy_record

    true = ["a"] * 30 + ["b"] * 20  # guessing 'a' scores 60%
    run_dir = finished_run(true, true[:45] + ["a"] * 5, ["a", "b"])  # 90% right
    pre_run = {
        "seconds": 15.0,
        "startup_s": 5.0,
        "wh": 15 * 20 / 3600,
        "cost_usd": 0.0,
        "usd_per_hour": 0.0,
        "power_w": 20.0,
        "device": "CPU",
        "tokens": 900.0,
    }
    reading = {"seconds": 30.0, "joules": None, "per_counter": {}}
    record = energy_record(reading, 900, 20.0, ["no RAPL zones"], pre_run=pre_run)
    (run_dir / "energy.json").write_text(json.dumps(record))
    open_results(app, run_dir)
    shown = texts(app.markdown)
    assert "estimated**" in shown and "≈ 1.5 tokens per joule (estimated)" in shown
    assert "3.00× the estimate (200% over)" in shown  # 30 s of training for 10 s estimated
    assert "the commonest label on the same validation rows, 60.0%): +30.0 points" in shown
