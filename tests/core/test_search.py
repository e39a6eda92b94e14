"""Auto: the search's data, trials, budget check, explanation and chart; one real short search."""

from pathlib import Path

import pandas as pd
import pytest

from core import runs
from core.data.load import load_table
from core.data.split import classification_split
from core.plots.trials import trials_figure
from core.search import (
    MAX_SEARCH_ROWS,
    check_budget,
    minimum_budget_s,
    objective_key,
    read_search,
)
from core.search_trials import (
    best_trial,
    explain_winner,
    measured_speed,
    search_data,
    trial_config,
    worth_more_trials,
)
from core.settings import ConfigError, RunConfig
from tests.conftest import write_reviews


def _config(path) -> RunConfig:
    return RunConfig().replace(
        data={"path": str(path), "text_column": "text", "label_column": "label"}
    )


def test_big_data_is_subsampled_from_the_training_rows_only(tmp_path):
    path = tmp_path / "big.csv"
    table = pd.read_csv(write_reviews(tmp_path / "r.csv", rows=4000))
    table["text"] = table["text"] + " #" + table.index.astype(str)  # every row unique
    table.to_csv(path, index=False)
    config = _config(path)
    searched, subsampled = search_data(config, tmp_path)
    assert subsampled
    sample = load_table(searched.data.path)
    train, validation = classification_split(load_table(path), config.data)
    assert abs(len(sample) * 0.8 - MAX_SEARCH_ROWS) < 50
    assert not set(sample["text"]) & set(validation["text"])  # final validation stays unseen
    assert set(sample["text"]) <= set(train["text"])


def test_small_data_is_searched_as_it_is(reviews_csv, tmp_path):
    config = _config(reviews_csv)
    assert search_data(config, tmp_path) == (config, False)


def test_a_trial_config_carries_its_settings_and_a_fixed_length():
    params = {"learning_rate": 1e-3, "lora_r": 32, "batch_size": 8}
    config = trial_config(RunConfig(), params, number=2, steps=120)
    assert config.name == "trial-2" and config.lora.r == 32 and config.lora.alpha == 64
    assert (config.training.max_steps, config.training.per_device_train_batch_size) == (120, 8)
    assert config.training.eval_steps == 20 and config.training.early_stopping_patience == 0


def test_an_adapter_to_start_from_fixes_every_trials_rank_and_scale():
    """Auto over lora.init_from: a trial of another rank could not load the adapter's weights."""
    from core.search import SearchSpace
    from core.search_trials import fitted_space

    base = RunConfig().replace(lora={"r": 4, "alpha": 8, "init_from": "runs/earlier/adapter"})
    space, first = fitted_space(base, SearchSpace())
    assert (space.ranks, space.methods) == ((4,), ("lora",))  # no full fine-tuning either
    assert [trial["lora_r"] for trial in first] == [4]
    config = trial_config(base, {**first[0], "learning_rate": 1e-3}, number=1, steps=120)
    assert (config.lora.r, config.lora.alpha, config.lora.init_from) == (4, 8, base.lora.init_from)
    assert fitted_space(RunConfig(), SearchSpace())[0].ranks == SearchSpace().ranks


def test_the_first_trials_are_lora_then_every_weight_each_at_its_measured_rate(reviews_csv):
    """Two trials compare the two methods whatever the budget; full fine-tuning only for a
    classifier (a causal LM's every weight was not measured, and needs far more memory)."""
    import optuna

    from core.search import SearchSpace
    from core.search_trials import fitted_space

    classifier = _config(reviews_csv)
    assert SearchSpace().methods == ("lora",)  # the default: full fine-tuning for experts
    both = SearchSpace(methods=("lora", "full"))
    space, first = fitted_space(classifier, both)  # the embedded MiniLM fits here
    study = optuna.create_study(direction="maximize")
    for settings in first:
        study.enqueue_trial(settings)
    asked = [space.suggest(study.ask()) for _ in range(2)]
    assert asked[0] == {"method": "lora", "learning_rate": 3e-3, "lora_r": 16, "batch_size": 16}
    assert asked[1] == {"method": "full", "learning_rate": 5e-5, "batch_size": 16}
    full = trial_config(classifier, asked[1], number=1, steps=120)
    assert (full.lora.method, full.training.learning_rate) == ("full", 5e-5)
    lm = classifier.replace(model={"task": "causal_lm"})
    assert fitted_space(lm, both)[0].methods == ("lora",)
    too_big = fitted_space(classifier, both, full_fits=lambda config: False)
    assert too_big[0].methods == ("lora",) and len(too_big[1]) == 1
    qlora = classifier.replace(lora={"quantization": "4bit"})
    assert fitted_space(qlora, both, full_fits=lambda config: True)[0].methods == ("lora",)
    # Later trials stay inside each method's own range.
    for _ in range(20):
        params = space.suggest(study.ask())
        low, high = (
            (space.full_lr_low, space.full_lr_high)
            if params["method"] == "full"
            else (space.lr_low, space.lr_high)
        )
        assert low <= params["learning_rate"] <= high
        assert ("lora_r" in params) == (params["method"] == "lora")


def test_a_search_json_from_before_full_fine_tuning_reads_as_lora():
    config = trial_config(
        RunConfig(), {"learning_rate": 1e-3, "lora_r": 8, "batch_size": 16}, 0, 90
    )
    assert (config.lora.method, config.lora.r) == ("lora", 8)


def test_a_shortened_trial_evaluates_at_the_same_steps_as_the_others():
    """The pruner compares k-th evaluations: they must be the same training length in all trials."""
    params = {"learning_rate": 1e-3, "lora_r": 8, "batch_size": 16}
    first = trial_config(RunConfig(), params, number=0, steps=310, eval_every=51)
    shortened = trial_config(RunConfig(), params, number=1, steps=172, eval_every=51)
    assert first.training.eval_steps == shortened.training.eval_steps == 51
    # Without a search cadence each trial's own: 172 steps would evaluate every 28.
    assert trial_config(RunConfig(), params, number=1, steps=172).training.eval_steps == 28


def test_a_budget_too_small_for_one_trial_says_the_smallest_that_works(reviews_csv):
    config = _config(reviews_csv).replace(training={"max_steps": 150})
    smallest = minimum_budget_s(config) / 60
    with pytest.raises(ConfigError, match=r"smallest that works is about \d+\.\d minutes"):
        check_budget(config, smallest / 2)
    check_budget(config, smallest * 1.1)


SEARCH = {
    "budget_s": 300,
    "trials": [
        {
            "number": 0,
            "state": "complete",
            "value": 0.80,
            "params": {"learning_rate": 2e-3, "lora_r": 16, "batch_size": 16},
            "values": [[30, 0.7, 10], [60, 0.8, 20]],
        },
        {
            "number": 1,
            "state": "pruned",
            "value": 0.55,
            "params": {"learning_rate": 5e-4, "lora_r": 8, "batch_size": 8},
            "values": [[90, 0.55, 10]],
        },
        {
            "number": 2,
            "state": "complete",
            "value": 0.90,
            "params": {"learning_rate": 4e-3, "lora_r": 32, "batch_size": 8},
            "values": [[120, 0.85, 10], [150, 0.9, 20]],
        },
    ],
}


def test_the_best_complete_trial_wins_and_the_message_says_why():
    winner = best_trial(SEARCH)
    assert winner["number"] == 2
    text = explain_winner(SEARCH, winner, {"accuracy": 0.9}, "trial-2")
    assert "tried 3 settings (1 stopped early" in text
    assert "trial 3" in text and "against 0.800 for the default settings" in text
    assert "LoRA rank 32" in text and "adapter's validation accuracy: 90.0%" in text
    full = {**winner, "params": {"method": "full", "learning_rate": 5e-5, "batch_size": 16}}
    text = explain_winner(SEARCH, full, {"accuracy": 0.9}, "trial-2")
    assert "every weight, learning rate 5.0e-05" in text and "model's validation accuracy" in text
    alone = {"trials": SEARCH["trials"][:1]}
    assert "Auto tried 1 setting (0 stopped" in explain_winner(alone, alone["trials"][0], {}, "t")


def test_the_trials_chart_marks_pruned_trials_and_the_winner():
    figure = trials_figure({**SEARCH, "winner": {"number": 2}}).to_dict()
    traces = {t["name"]: t for t in figure["data"]}
    assert traces["trial 2 (pruned)"]["marker"]["symbol"][-1] == "x"
    assert (
        traces["trial 3 (complete)"]["line"]["width"]
        > traces["trial 1 (complete)"]["line"]["width"]
    )
    assert list(traces["trial 3 (complete)"]["x"]) == [120, 150]


def short_search(data, model, minutes: float):
    """(parent run, final status, search.json) of a real Auto search on `data` with `model`."""
    from core.presets import resolve_preset
    from core.search import create_search
    from core.search_run import run_search

    config, _ = resolve_preset(_config(data).replace(model={"name_or_path": str(model)}), "Auto")
    parent = runs.create_run(config.replace(name="auto"))
    create_search(parent, budget_minutes=minutes)
    status = run_search(parent, say=lambda _: None)
    assert status["state"] == "completed", runs.tail_log(parent)
    return parent, status, read_search(parent)


@pytest.mark.slow
def test_a_short_search_trains_trials_as_runs_and_promotes_the_best(
    tiny_bert, reviews_csv, data_root
):
    parent, status, search = short_search(reviews_csv, tiny_bert, minutes=1.0)
    assert search["trials"][0]["params"]["learning_rate"] == 3e-3  # the measured default first
    assert all((parent / "trials").glob("*/config.yaml"))
    winner = best_trial(search)
    assert runs.read_eval(parent)["accuracy"] == runs.read_eval(winner["run_dir"])["accuracy"]
    assert (parent / runs.ADAPTER_DIR / "adapter_model.safetensors").exists()
    # No trial starts after the deadline (on a loaded machine the first may finish after it).
    assert all(t["started_at"] < search["search_deadline"] for t in search["trials"])
    assert {t["state"] for t in search["trials"]} <= {"complete", "pruned"}
    # Ranked by the metric the runs' own best checkpoint uses, and the speed measured per trial.
    assert search["metric"] == "validation macro-F1"
    assert winner["value"] == pytest.approx(runs.read_eval(winner["run_dir"])["macro_f1"])
    assert all(t["steps_run"] > 0 and t["startup_s"] > 0 for t in search["trials"])
    for trial in search["trials"]:  # one evaluation cadence, so the pruner compares like with like
        config = runs.read_config(Path(trial["run_dir"]))
        assert config.training.eval_steps == min(trial["steps"], search["eval_every"])
    # The search's energy is its trials' together (estimated here: no counter on this machine).
    from core.energy import read_energy

    trials = [read_energy(Path(t["run_dir"])) for t in search["trials"]]
    energy = read_energy(parent)
    assert energy["joules"] == pytest.approx(sum(t["joules"] for t in trials if "joules" in t))
    assert energy["method"] == "estimated" and "runs of this search, summed" in energy["source"]


def test_later_trials_shrink_to_the_measured_speed_never_below_the_floor():
    from core.search import MIN_TRIAL_STEPS
    from core.search_trials import resize_steps

    assert resize_steps(300, per_step=1.0, left_s=200, trials_wanted=2) == 100
    assert resize_steps(300, per_step=0.1, left_s=600, trials_wanted=2) == 300  # never longer
    assert resize_steps(300, per_step=5.0, left_s=100, trials_wanted=3) == MIN_TRIAL_STEPS


def test_a_queued_search_that_is_stopped_ends_without_training(reviews_csv, data_root, monkeypatch):
    import fcntl

    from core import search, search_run

    parent = runs.create_run(_config(reviews_csv).replace(name="auto"))
    search.create_search(parent, budget_minutes=5)
    monkeypatch.setattr(search_run._Stopping, "install", classmethod(lambda cls: None))
    monkeypatch.setattr(search_run._Stopping, "requested", True)
    with open(parent.parent / ".device.lock", "w") as busy:  # another job holds the device
        fcntl.flock(busy, fcntl.LOCK_EX)
        status = search_run.run_search(parent, say=lambda _: None)
    assert status["state"] == "stopped" and "Cancelled" in status["message"]
    assert not (parent / "trials").exists()


def test_classifier_trials_are_ranked_by_macro_f1_like_their_best_checkpoint():
    classifier = RunConfig().replace(model={"task": "classification"})
    assert objective_key(classifier) == ("eval_macro_f1", 1.0)
    assert objective_key(classifier.replace(model={"task": "causal_lm"})) == ("eval_loss", -1.0)


def test_the_winner_is_timed_by_its_steps_without_its_start_up(reviews_csv):
    trial = {"duration_s": 100.0, "startup_s": 40.0, "steps_run": 120}
    per_step, startup = measured_speed(trial, RunConfig())
    assert per_step == pytest.approx(0.5) and startup == 40.0
    # Nothing measured (an old search.json): the estimator's figures, never a division by zero.
    per_step, startup = measured_speed({"duration_s": 30.0}, _config(reviews_csv))
    assert per_step > 0 and startup >= 0


def test_the_budget_auto_needs_covers_its_whole_plan_and_one_trial(reviews_csv):
    from core.presets import resolve_preset
    from core.search import seconds_per_step, suggested_budget_s

    config, _ = resolve_preset(_config(reviews_csv), "Auto")
    per_step, startup = seconds_per_step(config)
    needed = suggested_budget_s(config)
    assert needed >= startup + config.training.max_steps * per_step + minimum_budget_s(config)
    longer, _ = resolve_preset(_config(reviews_csv).replace(training={"max_steps": 0}), "Thorough")
    assert suggested_budget_s(longer) > needed  # more steps in the plan: more time asked for


def test_a_first_trial_that_diverged_lets_the_search_try_other_settings():
    from core.train.health import LossWatch

    watch = LossWatch()
    reason = None
    for step, loss in enumerate([0.7, 0.6, 0.5, 1.5, 3.0, 6.0, 9.0, 12.0], start=1):
        reason = reason or watch.update(step, loss)
    assert reason  # the guard's own words, as the trial's status message holds them
    assert worth_more_trials("failed", 0, reason)
    assert not worth_more_trials("failed", 0, "No column 'text' in the data")  # same for all
    assert worth_more_trials("failed", 2, "No column 'text' in the data")
    assert worth_more_trials("pruned", 0, "")


@pytest.mark.slow
def test_on_subsampled_data_the_winner_is_trained_again_on_all_rows(
    tiny_bert, tmp_path, data_root, monkeypatch
):
    from core import search_trials

    monkeypatch.setattr(search_trials, "MAX_SEARCH_ROWS", 60)  # 240 rows: 192 train, subsampled
    monkeypatch.setattr(search_trials, "MIN_TRIALS", 1)
    data = write_reviews(tmp_path / "reviews.csv", rows=240)
    parent, status, search = short_search(data, tiny_bert, minutes=1.5)
    assert search["subsampled"]
    final = Path(search["winner"]["final_run_dir"])
    assert final.name.endswith("winner-all-rows")
    trained = runs.read_config(final)
    assert trained.data.path == str(data) and trained.lora.init_from == ""  # a fresh adapter
    winner = runs.read_config(Path(search["winner"]["run_dir"]))
    assert trained.training.learning_rate == winner.training.learning_rate
    assert trained.lora.r == winner.lora.r
    assert "head start: fitted" in runs.tail_log(final, 400)
    assert "the adapter was trained on all rows" in status["message"]
    assert runs.read_eval(parent)["accuracy"] == runs.read_eval(final)["accuracy"]
