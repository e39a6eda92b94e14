"""Runs table helpers: presets recognised, groups, filters, config diff of only what differs."""

from __future__ import annotations

from pathlib import Path

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
