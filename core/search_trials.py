"""Auto's trials: ask Optuna for settings, run them as jobs, report evaluations, keep the best.

The loop of core.search, split out so each module reads in one sitting.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

from core import jobs, runs
from core.search import (
    FINAL_SHARE,
    MAX_SEARCH_ROWS,
    MIN_TRIAL_STEPS,
    MIN_TRIALS,
    STUDY_FILE,
    TRIALS_DIR,
    SearchSpace,
    describe_params,
    objective_key,
    objective_name,
    read_search,
    seconds_per_step,
    trial_steps,
    write_search,
)
from core.settings import RunConfig

POLL_S = 1.0
FINAL_STOP_MARGIN_S = 15.0  # the winner's all-rows run is stopped this long before the deadline
# The first trial: the settings measured best so far for LoRA on small encoders (3e-3 took MiniLM
# from 40% to 94% on the sample reviews in one epoch; 5e-4 was still at chance after 30 steps).
FIRST_TRIAL = {"method": "lora", "learning_rate": 3e-3, "lora_r": 16, "batch_size": 16}
# The next, when the space holds full fine-tuning: its measured rate (in Optuna's names), so a
# budget of two or three trials still compares the two methods (BENCHMARKS.md, quality).
FULL_TRIAL = {"method": "full", "full_learning_rate": 5e-5, "batch_size": 16}


def make_study(parent: Path, seed: int):
    """The Optuna study in a journal file beside the trials: TPE sampler, ASHA pruner."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(parent / STUDY_FILE)))
    return optuna.create_study(
        storage=storage,
        study_name="auto",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=3),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        load_if_exists=True,
    )


def search_data(config: RunConfig, parent: Path) -> tuple[RunConfig, bool]:
    """The config the trials train on: the data itself, or a stratified subsample of its training
    part (never its validation rows) when it has more than MAX_SEARCH_ROWS training rows."""
    if config.model.task != "classification":
        return config, False
    from core.data.load import load_table
    from core.data.split import classification_split, split_frame

    train, _ = classification_split(load_table(config.data.path), config.data)
    if len(train) <= MAX_SEARCH_ROWS:
        return config, False
    share = MAX_SEARCH_ROWS / (1 - config.data.validation_fraction) / len(train)
    _, sample = split_frame(train, share, config.data.split_seed + 1)
    path = parent / "search_data.csv"
    sample.to_csv(path, index=False)
    data = {"path": str(path), "text_column": "text", "label_column": "label", "fingerprint": ""}
    data["text_pair_column"] = "text_pair" if "text_pair" in sample else ""
    return config.replace(data=data), True


def evaluation_every(steps: int) -> int:
    """Steps between evaluations for a trial of `steps`: 2 to 6 evaluations, one per ~20 steps."""
    return max(1, steps // max(2, min(6, steps // 20)))


def trial_config(
    base: RunConfig, params: dict, number: int, steps: int, eval_every: int | None = None
) -> RunConfig:
    """The base config with one trial's settings.

    `eval_every`: the search's one evaluation cadence, so that the pruner's k-th report is the
    same number of optimizer steps in every trial, also in one shortened to fit the time left
    (with a cadence per trial, a shortened trial's first evaluation came at 29 steps and was
    pruned against the first trial's at 52). Default: `evaluation_every(steps)`.
    """
    method = params.get("method", "lora")  # search.json files before full fine-tuning: LoRA
    rank = int(params.get("lora_r", base.lora.r))
    return base.replace(
        training={
            "learning_rate": float(params["learning_rate"]),
            "per_device_train_batch_size": int(params["batch_size"]),
            "max_steps": steps,
            "eval_steps": min(steps, eval_every or evaluation_every(steps)),
            "early_stopping_patience": 0,  # ASHA decides; the best checkpoint is still kept
        },
        # An adapter to start from (lora.init_from) fixes the rank (search_loop) and its scale.
        lora={
            "method": method,
            "r": rank,
            "alpha": base.lora.alpha if base.lora.init_from or method == "full" else 2 * rank,
        },
        name=f"trial-{number}",
    )


def run_trial(trial, config: RunConfig, parent: Path, record: dict, deadline: float, stop) -> str:
    """Train one trial as a job, report each evaluation to Optuna, stop it if pruned or late.

    Returns:
        "complete", "pruned" or "failed"; `record` gets the run dir, values and final value.
    """
    key, sign = objective_key(config)
    run_dir = jobs.start_job(config, root=parent / TRIALS_DIR)
    record.update(run_dir=str(run_dir), values=[], state="running")
    started, pruned, stopping = read_search(parent).get("started", time.time()), False, False
    while True:
        status = jobs.refresh_status(run_dir)
        evals = [m for m in runs.read_metrics(run_dir) if key in m]
        for index, metric in enumerate(evals[len(record["values"]) :], len(record["values"]) + 1):
            value = sign * float(metric[key])
            record["values"].append([round(time.time() - started, 1), value, metric["step"]])
            trial.report(value, step=index)
            if not stopping and trial.should_prune():
                jobs.stop_job(run_dir)
                pruned = stopping = True
        # Late: it saves its best checkpoint so far and evaluates it. Never before it has learnt
        # something (MIN_TRIAL_STEPS): an adapter stopped sooner predicts the majority class.
        late = time.time() > deadline and status.get("step", 0) >= MIN_TRIAL_STEPS
        if not stopping and (late or stop.requested):
            jobs.stop_job(run_dir)
            stopping = True
        yield_search_progress(parent, record, status)
        if status.get("state") in runs.FINAL_STATES:
            break
        time.sleep(POLL_S)
    final = final_value(run_dir, key, sign)
    record["value"] = final
    if pruned:
        return "pruned"
    return "complete" if final is not None else "failed"


def final_value(run_dir: Path, key: str, sign: float) -> float | None:
    """The trial's result from eval.json (the adapter it saved), None when it saved none."""
    result = runs.read_eval(run_dir)
    name = key.removeprefix("eval_")
    if name not in result or not (Path(run_dir) / runs.ADAPTER_DIR).exists():
        return None
    return sign * float(result[name])


def yield_search_progress(parent: Path, record: dict, status: dict) -> None:
    """Mirror the running trial into the parent's status and search.json for the page."""
    search = read_search(parent)
    trials = [t for t in search.get("trials", []) if t["number"] != record["number"]]
    search["trials"] = trials + [dict(record)]
    write_search(parent, search)
    runs.write_status(
        parent,
        step=status.get("step", 0),
        total_steps=status.get("total_steps", 0),
        message=f"Auto: trial {record['number'] + 1} ({describe_params(record['params'])})",
    )


def fitted_space(
    base: RunConfig, space: SearchSpace, full_fits=None
) -> tuple[SearchSpace, list[dict]]:
    """(space, the trials to run first, in Optuna's names) for this run.

    Full fine-tuning stays in the space for classifiers only, where it was measured, and only
    when the estimator says its every weight fits this machine's memory (`full_fits(config)`,
    default full_fine_tuning_fits): several times LoRA's memory, a 7B model's would fail; nor with
    a quantized base (QLoRA freezes the base weights). An adapter to start from (lora.init_from)
    keeps every trial a LoRA of its one rank (another could not load its weights).
    """
    full_fits = full_fits or full_fine_tuning_fits
    full_ok = base.model.task == "classification" and "full" in space.methods
    full_ok = full_ok and not base.lora.init_from and base.lora.quantization == "none"
    full_ok = full_ok and full_fits(base)
    methods = tuple(m for m in space.methods if m == "lora" or full_ok)
    if base.lora.init_from:
        space = replace(space, ranks=(base.lora.r,), methods=("lora",))
        return space, [{**FIRST_TRIAL, "lora_r": base.lora.r}]
    space = replace(space, methods=methods or ("lora",))
    return space, [dict(FULL_TRIAL if m == "full" else FIRST_TRIAL) for m in space.methods]


def full_fine_tuning_fits(config: RunConfig) -> bool:
    """Whether this run with every weight trained fits this machine's memory (the estimator's
    verdict "fits"; unknown model facts or unreadable data: no)."""
    from core.guide import run_estimate
    from core.hardware import detect_hardware

    try:
        estimate = run_estimate(config.replace(lora={"method": "full"}), detect_hardware())
    except (OSError, ValueError):  # DataError is a ValueError: the search reports it itself
        return False
    return estimate is not None and estimate.verdict == "fits"


def search_loop(parent: Path, stop, say) -> None:
    """Ask, run and tell trials until the search's share of the budget is spent."""
    from optuna.trial import TrialState

    search = read_search(parent)
    base = runs.read_config(parent)
    space = SearchSpace(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in search["space"].items()}
    )
    space, first_trials = fitted_space(base, space)
    trial_base, subsampled = search_data(base, parent)
    if subsampled:  # steps for the subsample's size, not the whole data's
        from core.presets import resolve_preset

        trial_base, _ = resolve_preset(trial_base, "Balanced")
    share = 1 - FINAL_SHARE if subsampled else 1.0
    deadline = search["started"] + search["budget_s"] * share
    steps = trial_steps(trial_base, search["budget_s"] * share)
    eval_every = evaluation_every(steps)  # one cadence for every trial (see trial_config)
    search.update(
        subsampled=subsampled,
        trial_steps=steps,
        eval_every=eval_every,
        search_deadline=deadline,
        metric=objective_name(base),
    )
    write_search(parent, search)
    study = make_study(parent, base.training.seed)
    for settings in first_trials:
        study.enqueue_trial(settings)
    per_step = 0.0  # measured seconds per step, start-up included (0: no trial ended yet)
    while not stop.requested:
        left = deadline - time.time()
        if per_step:  # later trials are sized by the speed measured here, not the estimate
            steps = resize_steps(steps, per_step, left, MIN_TRIALS - trial_count(parent))
            if left < MIN_TRIAL_STEPS * per_step:
                break  # not even a short trial would finish in time
        trial = study.ask()
        params = space.suggest(trial)
        record = {"number": trial.number, "params": params, "started_at": time.time()}
        say(f"trial {trial.number + 1}: {describe_params(params)}")
        begun = time.time()
        outcome = run_trial(
            trial,
            trial_config(trial_base, params, trial.number, steps, eval_every),
            parent,
            record,
            deadline,
            stop,
        )
        duration = time.time() - begun
        trained = runs.read_status(Path(record["run_dir"]))
        per_step = duration / max(1, trained.get("step", 0))
        state = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(
            outcome, TrialState.FAIL
        )
        study.tell(trial, record["value"] if outcome == "complete" else None, state=state)
        record.update(
            state=outcome,
            duration_s=round(duration, 1),
            steps=steps,
            steps_run=int(trained.get("step", 0)),
            startup_s=float(trained.get("first_step_s") or 0.0),
        )
        yield_search_progress(parent, record, {})
        say(f"trial {trial.number + 1}: {outcome}, value {record.get('value')}")
        if not worth_more_trials(outcome, trial.number, trained.get("message", "")):
            break


def worth_more_trials(outcome: str, number: int, message: str) -> bool:
    """False when the first trial failed for a reason every trial shares (the data, the model,
    memory): more would fail the same way. A first trial stopped by the divergence guard is
    different: other learning rates may train, so the search goes on."""
    from core.train.health import DIVERGED  # imports transformers: only once trials ran

    return not (outcome == "failed" and number == 0 and DIVERGED not in message)


def trial_count(parent: Path) -> int:
    return len(read_search(parent).get("trials", []))


def resize_steps(steps: int, per_step: float, left_s: float, trials_wanted: int) -> int:
    """Steps for the next trial: no more than before, fewer when the measured speed says the
    trials still wanted would not fit in the time left (never below MIN_TRIAL_STEPS)."""
    fits = int(left_s / max(1, trials_wanted) / per_step)
    return max(MIN_TRIAL_STEPS, min(steps, fits))


def best_trial(search: dict) -> dict | None:
    done = [t for t in search.get("trials", []) if t.get("state") == "complete"]
    return max(done, key=lambda t: t["value"]) if done else None


def finish_search(parent: Path, stop, say) -> dict:
    """Train the winner on all rows if the data was subsampled, copy it into the parent, and say
    which settings won and why."""
    search = read_search(parent)
    winner = best_trial(search)
    if winner is None:
        last = search["trials"][-1]["run_dir"] if search.get("trials") else ""
        reason = runs.read_status(Path(last)).get("message", "") if last else ""
        return runs.write_status(
            parent, state="failed", message=f"Auto: no trial finished. {reason}".strip()
        )
    source = Path(winner["run_dir"])
    if search.get("subsampled") and not stop.requested:
        source = train_winner_on_all_rows(parent, winner, search, say) or source
    promote(source, parent)
    record_search_energy(parent)
    search["winner"] = {**winner, "final_run_dir": str(source)}
    write_search(parent, search)
    message = explain_winner(search, winner, runs.read_eval(parent), source.name)
    say(message)
    return runs.write_status(
        parent,
        state="stopped" if stop.requested else "completed",
        message=message,
        finished=time.time(),
    )


def train_winner_on_all_rows(parent: Path, winner: dict, search: dict, say) -> Path | None:
    """The winning settings trained on every training row, as many steps as the budget allows."""
    from core.presets import resolve_preset

    base = runs.read_config(parent)
    resolved, _ = resolve_preset(base, "Balanced")
    config = trial_config(resolved, winner["params"], 0, resolved.training.max_steps)
    deadline = search["started"] + search["budget_s"]
    per_step, startup = measured_speed(winner, config)
    fits = int((deadline - time.time() - startup) / (per_step * 1.15))
    steps = min(resolved.training.max_steps, fits)
    if steps < search.get("trial_steps", 0):
        say(f"no time left to train the winner on all rows ({steps} steps would fit)")
        return None
    # A fresh adapter, not the winning trial's continued: continuing from it (lora.init_from)
    # measured worse on Banking77 in 3 of 3 paired seeds (BENCHMARKS.md, quality).
    config = trial_config(resolved, winner["params"], 0, steps).replace(name="winner-all-rows")
    say(f"training the winner on all rows: {steps} steps")
    run_dir = jobs.start_job(config, root=parent / TRIALS_DIR)
    stopping = False
    while jobs.refresh_status(run_dir).get("state") not in runs.FINAL_STATES:
        # Stopped a little before the deadline: Stop still saves, reloads the best checkpoint
        # and evaluates it, which took ~40 s past a deadline+30 s stop on AG News under load.
        if not stopping and time.time() > deadline - FINAL_STOP_MARGIN_S:
            stopping = jobs.stop_job(run_dir) or True  # saves the best checkpoint so far
        time.sleep(POLL_S)
    return run_dir if (run_dir / runs.ADAPTER_DIR).exists() else None


def measured_speed(trial: dict, config: RunConfig) -> tuple[float, float]:
    """(seconds per step, start-up seconds) as the trial measured them, else the estimator's.

    The start-up (process start, model load, tokenising) is counted once, not spread over the
    steps: spread, it made a short trial look much slower per step than it trained, and the
    winner's all-rows run was sized far below what its budget allowed (BENCHMARKS.md, quality).
    Evaluations stay inside the per-step time (the all-rows run evaluates as often).
    """
    steps, duration = trial.get("steps_run") or 0, trial.get("duration_s") or 0.0
    startup = trial.get("startup_s") or 0.0
    if steps < 1 or duration <= startup:
        return seconds_per_step(config)
    return (duration - startup) / steps, startup


def record_search_energy(parent: Path) -> None:
    """The search's energy.json: every trial's energy summed (the winner's all-rows run included),
    so the Runs view shows what the whole search cost, not nothing."""
    from core.energy import ENERGY_FILE, combined_record, read_energy

    trials = sorted((parent / TRIALS_DIR).glob("*/" + ENERGY_FILE))
    record = combined_record([read_energy(path.parent) for path in trials], "runs of this search")
    if record:
        runs.write_json_atomic(parent / ENERGY_FILE, record)


def promote(source: Path, parent: Path) -> None:
    """Copy the winner's config, adapter, evaluation and metrics into the parent run."""
    for name in (runs.CONFIG_FILE, runs.EVAL_FILE, runs.METRICS_FILE, "sample_batch.json"):
        if (source / name).exists():
            shutil.copy2(source / name, parent / name)
    if (parent / runs.ADAPTER_DIR).exists():
        shutil.rmtree(parent / runs.ADAPTER_DIR)
    shutil.copytree(source / runs.ADAPTER_DIR, parent / runs.ADAPTER_DIR)


def explain_winner(search: dict, winner: dict, result: dict, final_name: str) -> str:
    """Which settings won and why, in words, with the adapter's own validation result."""
    trials = search.get("trials", [])
    pruned = sum(t.get("state") == "pruned" for t in trials)
    first = trials[0] if trials else {}
    text = (
        f"Auto tried {len(trials)} setting{'s' * (len(trials) != 1)} ({pruned} stopped early as "
        "weaker); the best was "
        f"trial {winner['number'] + 1}: {describe_params(winner['params'])}, "
        f"{search.get('metric', 'validation score')} {winner['value']:.3f}"
    )
    if first and first is not winner and first.get("value") is not None:
        text += f" against {first['value']:.3f} for the default settings (trial 1)"
    kept = "model" if winner["params"].get("method") == "full" else "adapter"
    if search.get("subsampled"):
        trained = "all rows" if final_name.endswith("winner-all-rows") else "the subsample only"
        text += f"; trials used a subsample of the rows, the {kept} was trained on {trained}"
    if "accuracy" in result:
        text += f". The {kept}'s validation accuracy: {result['accuracy']:.1%}"
    return text + "."
