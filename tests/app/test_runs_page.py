"""Runs page: the table, filters, two runs compared (curves, metrics, only differing settings)."""

from __future__ import annotations

import json

from core import runs
from core.settings import RunConfig
from tests.app.conftest import button, go, texts


def finished_run(name: str, lr: float, accuracy: float, losses: list[float]):
    config = RunConfig(name=name).replace(
        training={"learning_rate": lr}, data={"fingerprint": "abc123"}
    )
    run_dir = runs.create_run(config)
    runs.write_status(run_dir, state="completed", started=100.0, finished=160.5)
    for step, loss in enumerate(losses, start=1):
        runs.append_metrics(run_dir, {"step": step, "loss": loss})
    runs.append_metrics(run_dir, {"step": len(losses), "eval_loss": losses[-1] + 0.1})
    evaluation = {"accuracy": accuracy, "eval_loss": losses[-1] + 0.1, "labels": ["a", "b"]}
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(evaluation))
    (run_dir / "energy.json").write_text(
        json.dumps({"method": "estimated", "joules": 1200.0, "seconds": 60.0})
    )
    return run_dir


def test_no_runs_yet(app):
    go(app, "pages/runs.py")
    assert "No runs yet" in texts(app.info)


def test_table_lists_runs_and_filters_them(app):
    finished_run("sweep-trial-1", 3e-3, 0.9, [0.7, 0.5])
    finished_run("sweep-trial-2", 1e-3, 0.8, [0.7, 0.6])
    finished_run("other", 3e-3, 0.7, [0.7, 0.65])
    go(app, "pages/runs.py")
    table = app.dataframe[0].value
    assert len(table) == 3
    row = table[table["run"].str.endswith("other")].iloc[0]
    assert row["value"] == 0.7 and row["wall time (s)"] == 60.5
    assert row["energy"] == "≈ 1.2 kJ estimated" and row["data"] == "abc123"
    assert set(table["group"]) == {"sweep", "other"}
    app.text_input[0].set_value("sweep").run()
    assert len(app.dataframe[0].value) == 2


def test_a_group_compares_curves_metrics_and_only_differing_settings(app):
    finished_run("sweep-trial-1", 3e-3, 0.9, [0.7, 0.5])
    finished_run("sweep-trial-2", 1e-3, 0.8, [0.7, 0.6])
    go(app, "pages/runs.py")
    app.selectbox[0].set_value("sweep").run()
    assert not app.exception
    assert len(app.multiselect[2].value) == 2
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert len(figure["data"]) == 2  # one training-loss line per run
    metrics, diff = app.dataframe[1].value, app.dataframe[2].value
    assert set(metrics["metric"]) == {"accuracy", "eval_loss"}
    assert sorted(diff["setting"]) == ["name", "training.learning_rate"]


def test_reproduce_without_a_card_says_why(app):
    finished_run("old", 3e-3, 0.9, [0.7, 0.5])
    go(app, "pages/runs.py")
    button(app, "Reproduce from its card").click().run()
    assert "has no readable card.json" in texts(app.error)


def test_tracking_off_is_shown_with_its_reason_and_a_server_can_be_set(app, monkeypatch):
    from core import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir = finished_run("tracked", 3e-3, 0.9, [0.7, 0.5])
    reason = "the MLflow server at http://x:1 cannot be reached (refused)"
    (run_dir / tracking.RUN_FILE).write_text(json.dumps({"enabled": False, "reason": reason}))
    go(app, "pages/runs.py")
    assert f"Tracking is off for {run_dir.name}: {reason}" in texts(app.warning)
    field = [t for t in app.text_input if t.label.startswith("Team MLflow server")][0]
    field.set_value("http://mlflow.team:5000").run()
    button(app, "Save tracking server").click().run()
    assert tracking.tracking_uri() == ("http://mlflow.team:5000", "the Runs page setting")
    assert "http://mlflow.team:5000" in texts(app.markdown)


def test_card_from_another_machine_lists_differences_before_starting(app, monkeypatch, tmp_path):
    from core import jobs
    from core.card import CARD_FILE, git_state, hardware_summary, library_versions
    from core.data.lineage import data_fingerprint
    from tests.conftest import write_reviews

    data = write_reviews(tmp_path / "reviews.csv", rows=40)
    run_dir = finished_run("moved", 3e-3, 0.9, [0.7, 0.5])
    config = RunConfig(name="moved").replace(
        data={"path": str(data), "fingerprint": data_fingerprint(data)}
    )
    card = {
        "config": config.to_dict(),
        "data": {"fingerprint": config.data.fingerprint},
        "model": {"revision": None},
        "versions": dict(library_versions(), torch="1.0.0"),
        "git": git_state(),
        "hardware": dict(hardware_summary(), cpu_cores=512),
    }
    (run_dir / CARD_FILE).write_text(json.dumps(card))
    started = []
    monkeypatch.setattr(jobs, "start_job", lambda cfg, root=None: started.append(cfg) or run_dir)
    go(app, "pages/runs.py")
    button(app, "Reproduce from its card").click().run()
    warning = texts(app.warning)
    assert "torch: 1.0.0 in the card" in warning and "cpu_cores: 512 in the card" in warning
    assert started == []  # nothing starts before the user has seen the differences
    button(app, "Start the reproduction").click().run()
    assert [c.data.path for c in started] == [str(data)]
    assert started[0].name == "reproduce-moved"


def test_lineage_answers_both_questions_and_keeps_a_version_in_use(app, data_root):
    import pandas as pd

    from core.data.clean import Recipe, Step
    from core.data.lineage import save_version
    from core.data.load import store_upload

    upload = store_upload(b"text,label\ngood,pos\ngood,pos\nbad,neg\n", "r.csv", data_root)
    recipe = Recipe([Step("drop_duplicates")])
    table = pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "neg"]})
    version = save_version(table, data_root, upload, recipe, rows_before=3)
    config = RunConfig(name="on-version").replace(
        data={"path": version.path, "fingerprint": version.fingerprint}
    )
    run_dir = runs.create_run(config)
    go(app, "pages/runs.py")
    used = app.selectbox(key="lineage_data")
    used.set_value(f"version:{version.fingerprint}").run()
    assert not app.exception
    answers = [d.value for d in app.dataframe]
    assert any("run" in a and list(a["run"]) == [run_dir.name] for a in answers)
    made = [a for a in answers if "steps" in a]
    assert made and list(made[0]["steps"]) == ["drop_duplicates"]
    assert len(app.get("plotly_chart")) == 1
    button(app, "Delete this version").click().run()
    assert run_dir.name in texts(app.error) and "kept" in texts(app.error)
    assert (data_root / "datasets" / version.fingerprint / "version.json").is_file()


def test_a_click_on_a_graph_node_opens_it_and_a_later_pick_in_the_list_stays(app, data_root):
    from core.data.load import store_upload

    upload = store_upload(b"text,label\nhi,pos\n", "r.csv", data_root)
    older = runs.create_run(RunConfig(name="older").replace(data={"path": str(upload)}))
    newer = runs.create_run(RunConfig(name="newer").replace(data={"path": str(upload)}))
    (older / runs.ADAPTER_DIR).mkdir()
    go(app, "pages/runs.py")
    model = app.selectbox(key="lineage_model")
    first = model.value
    clicked = older if first == f"run:{newer}" else newer
    (clicked / runs.ADAPTER_DIR).mkdir(exist_ok=True)
    point = {"customdata": f"adapter:{clicked}"}  # what on_select reports for a clicked marker
    app.session_state["lineage_graph"] = {"selection": {"points": [point]}}
    app.run()
    assert not app.exception
    assert app.selectbox(key="lineage_model").value == f"run:{clicked}"
    app.selectbox(key="lineage_model").set_value(first).run()  # the same click is not re-applied
    assert app.selectbox(key="lineage_model").value == first


def with_energy_and_estimate(run_dir, joules: float, estimate_s: float, chance: float):
    """energy.json as the trainer writes it on a machine without a counter, and eval.json's base."""
    from core.energy import energy_record

    pre_run = {
        "seconds": estimate_s + 5.0,
        "startup_s": 5.0,
        "wh": (estimate_s + 5.0) * 20 / 3600,
        "cost_usd": 0.5,
        "usd_per_hour": 3600 * 0.5 / (estimate_s + 5.0),
        "power_w": 20.0,
        "device": "this computer's CPU",
        "tokens": 1000.0,
    }
    reading = {"seconds": joules / 20, "joules": None, "per_counter": {}}
    record = energy_record(reading, 1200, 20.0, ["no RAPL zones"], pre_run=pre_run)
    (run_dir / "energy.json").write_text(json.dumps(record))
    evaluation = json.loads((run_dir / runs.EVAL_FILE).read_text())
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(dict(evaluation, chance_accuracy=chance)))


def test_energy_against_the_estimate_and_per_accuracy_point(app):
    good = finished_run("cmp-trial-1", 3e-3, 0.9, [0.7, 0.5])
    flat = finished_run("cmp-trial-2", 1e-3, 0.5, [0.7, 0.6])
    with_energy_and_estimate(good, joules=1200.0, estimate_s=30.0, chance=0.5)  # 60 s: 2×
    with_energy_and_estimate(flat, joules=600.0, estimate_s=60.0, chance=0.5)  # 30 s: 0.5×
    go(app, "pages/runs.py")
    table = app.dataframe[0].value
    rows = {name: table[table["run"].str.endswith(name)].iloc[0] for name in ("1", "2")}
    assert rows["1"]["vs estimate"] == "2.00× (100% over)"
    assert rows["2"]["vs estimate"] == "0.50× (50% under)"
    assert rows["1"]["gain (points)"] == "+40.0" and rows["2"]["$ / point"] == "no gain"
    assert rows["1"]["Wh / point"] == f"≈ {1200 / 3600 / 40:.3g}"
    assert "always guessing the commonest label" in texts(app.caption)
    app.selectbox[0].set_value("cmp").run()
    efficiency = app.dataframe[3].value
    assert sorted(efficiency["Wh / point"]) == sorted([f"≈ {1200 / 3600 / 40:.3g}", "no gain"])
    app.selectbox(key="reproduce_run").set_value(good.name).run()
    shown = texts(app.markdown)
    assert "2.00× the estimate (100% over)" in shown and "Both sides are estimates" in shown
    assert "+40.0 points" in shown and "per point gained" in shown


def test_a_filter_that_matches_no_run_says_so(app):
    finished_run("sweep-trial-1", 3e-3, 0.9, [0.7, 0.5])
    go(app, "pages/runs.py")
    app.text_input[0].set_value("no such run").run()
    assert not app.exception, app.exception
    assert "No run matches" in texts(app.info)
    app.text_input[0].set_value("").run()
    assert not app.exception and app.selectbox(key="reproduce_run").value.endswith("trial-1")


def test_older_and_damaged_energy_records_leave_the_table_whole(app):
    """No energy.json (an old run), one from before pre-run estimates, and a damaged one."""
    missing = finished_run("old-none", 3e-3, 0.9, [0.7, 0.5])
    (missing / "energy.json").unlink()
    older = finished_run("old-plain", 3e-3, 0.9, [0.7, 0.5])  # joules and seconds only
    damaged = finished_run("old-bad", 3e-3, 0.9, [0.7, 0.5])
    (damaged / "energy.json").write_bytes(b"\xff\xfe not json")
    listed = finished_run("old-list", 3e-3, 0.9, [0.7, 0.5])
    (listed / "energy.json").write_text("[1, 2]")
    go(app, "pages/runs.py")
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    energy = {
        run.rsplit("-", 1)[-1]: e for run, e in zip(table["run"], table["energy"], strict=True)
    }
    assert energy == {"none": "—", "plain": "≈ 1.2 kJ estimated", "bad": "—", "list": "—"}
    for run_dir, expected in ((missing, "No energy was recorded"),
                              (older, "No pre-run estimate was recorded"),
                              (damaged, "No energy was recorded")):  # fmt: skip
        app.selectbox(key="reproduce_run").set_value(run_dir.name).run()
        assert not app.exception, app.exception
        assert expected in texts(app.markdown)
