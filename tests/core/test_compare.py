"""Runs table helpers: presets recognised, groups, filters, config diff of only what differs."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.compare import config_diff, filter_rows, group_of, preset_of
from core.plots.compare import curve_keys, overlay_figure
from core.presets import PRESETS
from core.settings import RunConfig


def with_preset(name: str) -> RunConfig:
    preset = PRESETS[name]
    return RunConfig().replace(
        training={"learning_rate": preset.learning_rate},
        lora={"r": preset.lora_r, "alpha": 2 * preset.lora_r},
    )


def test_each_preset_is_recognised_and_a_change_makes_it_custom():
    for name in PRESETS:
        assert preset_of(with_preset(name)) == name
        assert preset_of(RunConfig(name=name.lower())) == name  # the app names runs by preset
    assert preset_of(RunConfig(name="trial-3")) == "Auto"
    changed = with_preset("Quick").replace(training={"learning_rate": 1e-5})
    assert preset_of(changed) == "custom"


def test_trials_and_reproductions_share_a_group():
    run = Path("20261127-120000-x")
    assert group_of(RunConfig(name="search-trial-3"), run) == "search"
    assert group_of(RunConfig(name="reproduce-mine"), run) == "mine"
    assert group_of(RunConfig(name=""), run) == run.name


def test_config_diff_shows_only_what_differs():
    a = RunConfig(name="a")
    b = a.replace(training={"learning_rate": 1e-4}, lora={"target_modules": ["query", "value"]})
    diff = config_diff({"a": a, "b": b, "c": a})
    assert [row["setting"] for row in diff] == ["lora.target_modules", "training.learning_rate"]
    assert diff[0] == {"setting": "lora.target_modules", "a": "", "b": "query, value", "c": ""}
    assert config_diff({"a": a, "c": a}) == []


def test_filters_combine():
    rows = [
        {
            "run": "r1",
            "model": "m",
            "group": "g",
            "settings": "Quick",
            "data": "f1",
            "status": "completed",
            "task": "classification",
        },
        {
            "run": "r2",
            "model": "m",
            "group": "g",
            "settings": "custom",
            "data": "f2",
            "status": "failed",
            "task": "causal_lm",
        },
    ]
    assert [r["run"] for r in filter_rows(rows, "F2")] == ["r2"]
    assert [r["run"] for r in filter_rows(rows, states=["completed"])] == ["r1"]
    assert filter_rows(rows, "quick", tasks=["causal_lm"]) == []


def test_overlay_has_one_line_per_run_that_logged_the_curve():
    curves = {
        "a": [{"step": 1, "loss": 0.7}, {"step": 2, "loss": 0.5}, {"step": 2, "eval_loss": 0.6}],
        "b": [{"step": 1, "loss": 0.9}],
    }
    fig = overlay_figure(curves, "eval_loss", "validation loss").to_dict()
    assert [t["name"] for t in fig["data"]] == ["a"]
    fig = overlay_figure(curves, "loss", "loss").to_dict()
    assert [list(t["y"]) for t in fig["data"]] == [[0.7, 0.5], [0.9]]
    assert curve_keys(curves) == ["loss", "eval_loss"]


def test_the_runs_page_modules_load_no_transformers():
    import subprocess
    import sys

    code = (
        "import sys, core.compare, core.tracking, core.energy, core.card, core.reproduce, "
        "core.plots.compare; print('transformers' in sys.modules or 'torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def hand_made_run(
    name: str, evaluation: dict, joules=None, usd_per_hour=None, wall=3600.0, method="estimated"
):
    """A finished run directory as the trainer leaves it: status, eval.json and energy.json."""
    import json

    from core import runs

    run_dir = runs.create_run(RunConfig(name=name))
    runs.write_status(run_dir, state="completed", started=1000.0, finished=1000.0 + wall)
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(evaluation))
    energy = {}
    if joules is not None:
        energy.update(method=method, joules=joules, seconds=wall)
    if usd_per_hour is not None:
        energy["pre_run_estimate"] = {"seconds": wall, "usd_per_hour": usd_per_hour}
    if energy:
        (run_dir / "energy.json").write_text(json.dumps(energy))
    return run_dir


def test_wh_and_cost_per_point_over_guessing_the_commonest_label(data_root):
    from core.compare import efficiency_side_by_side, per_point_line, run_row

    run_dir = hand_made_run(
        "good", {"accuracy": 0.8, "chance_accuracy": 0.6}, joules=7200.0, usd_per_hour=2.9
    )
    row = efficiency_side_by_side([run_dir])[0]  # 20 points for 2 Wh and $2.90
    assert row["base"] == "60.0% (commonest label)" and row["gain (points)"] == "+20.0"
    assert (row["Wh"], row["cost"]) == ("≈ 2", "$2.90")  # estimated energy is marked so
    assert (row["Wh / point"], row["$ / point"]) == ("≈ 0.1", "$0.145")
    assert run_row(run_dir)["Wh / point"] == "≈ 0.1" and run_row(run_dir)["cost"] == "$2.90"
    line = per_point_line(run_dir)
    assert "always guessing the commonest label on the same validation rows, 60.0%" in line
    assert line.endswith("+20.0 points: ≈ 0.1 Wh and $0.145 per point gained.")


def test_a_run_that_gained_nothing_shows_no_gain_never_a_negative_cost(data_root):
    from core.compare import efficiency_side_by_side, per_point_line

    worse = hand_made_run("worse", {"accuracy": 0.5, "chance_accuracy": 0.6}, 7200.0, 2.9)
    same = hand_made_run("same", {"accuracy": 0.6, "chance_accuracy": 0.6}, 7200.0, 2.9)
    rows = efficiency_side_by_side([worse, same])
    assert [r["gain (points)"] for r in rows] == ["-10.0", "+0.0"]
    assert {r["Wh / point"] for r in rows} == {r["$ / point"] for r in rows} == {"no gain"}
    assert per_point_line(same).endswith("no gain, so no energy or cost per point.")


def test_the_base_is_the_step_0_evaluation_when_the_run_logged_one(data_root):
    from core import runs
    from core.compare import accuracy_base, efficiency_side_by_side

    evaluation = {"accuracy": 0.8, "chance_accuracy": 0.6}
    run_dir = hand_made_run("step0", evaluation, joules=3600.0)
    runs.append_metrics(run_dir, {"step": 0, "eval_accuracy": 0.4})
    assert accuracy_base(run_dir, evaluation) == (
        0.4,
        "the model before training (evaluation at step 0)",
    )
    row = efficiency_side_by_side([run_dir])[0]
    assert row["base"] == "40.0% (step 0)" and row["Wh / point"] == "≈ 0.025"
    assert row["cost"] == row["$ / point"] == "—"  # no pre-run estimate: no price to count by


def test_without_chance_the_base_comes_from_the_confusion_matrix(data_root):
    from core.compare import accuracy_base

    evaluation = {"accuracy": 0.7, "confusion": [[6, 1], [2, 1]]}  # 7 of 10 rows are label 0
    assert accuracy_base(data_root, evaluation)[0] == pytest.approx(0.7)
    assert accuracy_base(data_root, {"eval_loss": 1.2}) == (None, "")


def test_runs_without_accuracy_or_energy_show_dashes(data_root):
    from core.compare import efficiency_side_by_side, per_point_line, run_row

    text_run = hand_made_run("gen", {"eval_loss": 1.2, "perplexity": 3.3})
    row = efficiency_side_by_side([text_run])[0]
    assert {row[k] for k in ("accuracy", "base", "Wh", "cost", "Wh / point")} == {"—"}
    assert per_point_line(text_run) == ""
    assert run_row(text_run)["energy"] == run_row(text_run)["vs estimate"] == "—"
    no_energy = hand_made_run("old", {"accuracy": 0.9, "chance_accuracy": 0.5})
    assert "no energy or cost was recorded" in per_point_line(no_energy)


def test_measured_energy_per_point_carries_no_estimate_mark(data_root):
    from core.compare import efficiency_side_by_side

    evaluation = {"accuracy": 0.7, "chance_accuracy": 0.5}
    run_dir = hand_made_run("rapl", evaluation, joules=3600.0, method="measured")
    row = efficiency_side_by_side([run_dir])[0]
    assert (row["Wh"], row["Wh / point"]) == ("1", "0.05")
