"""Presets resolved from the data: enough steps on small data, bounded on big data."""

import pytest

from core.presets import PRESET_NAMES, PRESETS, apply_plan, resolve_plan, resolve_preset
from core.settings import ConfigError, RunConfig


def test_a_small_dataset_gets_enough_optimizer_steps_to_learn():
    # The case: 377 rows, 20% held out; one epoch at batch 16 was 19 steps.
    plan = resolve_plan("Quick", train_rows=302)
    assert plan.steps >= PRESETS["Quick"].min_steps
    assert plan.batch_size == 8 and plan.epochs > 3
    assert f"about {plan.steps} steps" in plan.describe()
    assert f"{plan.evaluations} evaluations" in plan.describe()


def test_a_big_dataset_stays_within_the_presets_step_limit():
    for name in ("Quick", "Balanced", "Thorough"):
        plan = resolve_plan(name, train_rows=200_000)
        assert plan.steps == PRESETS[name].max_steps and plan.epochs < 1


@pytest.mark.parametrize("rows", [50, 302, 1_986, 8_000, 120_000])
def test_more_effort_never_means_fewer_steps(rows):
    steps = [resolve_plan(name, rows).steps for name in ("Quick", "Balanced", "Thorough")]
    assert steps == sorted(steps)


def test_auto_starts_from_balanced_and_unknown_names_say_which_exist():
    assert resolve_plan("Auto", 1000).steps == resolve_plan("Balanced", 1000).steps
    with pytest.raises(ConfigError, match="Auto, Quick, Balanced, Thorough"):
        resolve_plan("Fast", 1000)


def test_short_texts_get_a_shorter_max_length_never_a_longer_one():
    assert resolve_plan("Quick", 1000, token_p95=10).max_length == 32
    assert resolve_plan("Quick", 1000, token_p95=500, max_length=128).max_length == 128


def test_the_plan_lands_in_the_config_the_trainer_reads():
    plan = resolve_plan("Balanced", 302)
    config = apply_plan(RunConfig(), plan)
    t = config.training
    assert (t.max_steps, t.per_device_train_batch_size) == (plan.steps, plan.batch_size)
    assert t.eval_steps == plan.steps // plan.evaluations
    assert t.early_stopping_patience == PRESETS["Balanced"].patience
    assert config.lora.r == PRESETS["Balanced"].lora_r


def test_an_adapter_to_start_from_keeps_its_rank_under_every_preset():
    config = RunConfig().replace(lora={"r": 4, "alpha": 12, "init_from": "runs/earlier/adapter"})
    for name in PRESET_NAMES:
        resolved = apply_plan(config, resolve_plan(name, 500, 40, 128))
        assert (resolved.lora.r, resolved.lora.alpha) == (4, 12), name
    fresh = apply_plan(RunConfig(), resolve_plan("Thorough", 500, 40, 128))
    assert fresh.lora.r == PRESETS["Thorough"].lora_r


def test_resolve_preset_reads_rows_and_lengths_from_the_data(reviews_csv):
    config = RunConfig().replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"}
    )
    resolved, plan = resolve_preset(config, "Quick")
    assert plan.train_rows == 128  # 160 rows, 20% held out
    assert resolved.training.max_length == 32  # 4-9 words
    assert set(PRESET_NAMES) == {"Auto", "Quick", "Balanced", "Thorough"}
