"""Auto: a short search for good settings within a time budget, with Optuna.

The search is a run directory like any other (the parent); its trials are ordinary runs, started
one after another through the job system, under `<parent>/trials/`:

    <parent>/search.json       budget, space, every trial (settings, metric over time, state)
    <parent>/study.journal     the Optuna study (JournalStorage), so the search can be inspected
    <parent>/trials/<run>/     one run directory per trial
    <parent>/adapter, eval.json, config.yaml, metrics.jsonl   the winner's, copied at the end

Optuna's TPE sampler proposes settings and its successive-halving pruner (ASHA) stops a trial
whose validation metric, at the same evaluation, is below the better trials': the trial reports
each evaluation it writes to metrics.jsonl and is stopped through the job system's Stop. The first
trial is the measured default, so Auto is never a blind guess, and it is never cut short before
MIN_TRIAL_STEPS: on a machine slower than estimated the budget is overrun rather than a
one-class model returned. Data bigger than MAX_SEARCH_ROWS
training rows is subsampled for the search (from the training part only: the validation rows stay
unseen), and the winner is trained on all rows with what is left of the budget.

    python -m core.search_run <parent run dir>  # what the Train page starts in the background
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from core import jobs, runs
from core.settings import RunConfig

SEARCH_FILE = "search.json"
STUDY_FILE = "study.journal"
TRIALS_DIR = "trials"
DEFAULT_BUDGET_MINUTES = 5.0  # Auto's budget unless the user sets one (Train page, core.fit)
MAX_SEARCH_ROWS = 2000  # training rows per trial; more are subsampled (2 CPU cores: ~1 s/step)
FINAL_SHARE = 0.4  # of the budget kept for training the winner on all rows (subsampled data)
# Trials are sized so that this many fit the search's share of the budget: with 3, the 10-minute
# budget on the loaded 2-core machine cut trials to 80 steps and Auto (95.6%) fell behind Quick's
# 150 steps (97.2%) on the sample data; pruned trials cost one evaluation, so 2 full ones suffice.
MIN_TRIALS = 2
MIN_TRIAL_STEPS = 80  # 19 steps left MiniLM at the majority class, 57 reached 84% (issue #10)


@dataclass
class SearchSpace:
    """What Auto varies; experts may narrow or widen it.

    Two methods: a LoRA adapter, or (when an expert adds it) every weight, full fine-tuning, at a
    learning rate a hundred times lower; each has its own learning-rate range, so Optuna's TPE
    models each apart.
    """

    # Measured (BENCHMARKS.md, quality): 80-step trials at 5.7e-4 and 1.2e-3 were still at chance
    # on the sample data (40%) and near it on SUBJ-377 at their first evaluation; 3e-3 reached 95%.
    lr_low: float = 1.5e-3
    lr_high: float = 6e-3
    ranks: tuple[int, ...] = (8, 16, 32)
    batch_sizes: tuple[int, ...] = (8, 16)
    # LoRA only by default: with full fine-tuning added, its trial won the subsample on AG News
    # and Banking77 but left no time to train the winner on all rows, and Banking77's result fell
    # (BENCHMARKS.md, quality). Experts may add "full": 1e-4 diverged in one of three AG News
    # runs, 5e-5 trained in every run, 2e-5 was no better (AG News) or worse (SUBJ-377).
    methods: tuple[str, ...] = ("lora",)
    full_lr_low: float = 3e-5
    full_lr_high: float = 8e-5

    def suggest(self, trial) -> dict:
        """One trial's settings from Optuna (define-by-run: the rank and the LoRA learning rate
        exist only for a LoRA trial), as {"method", "learning_rate", "batch_size"[, "lora_r"]}."""
        method = trial.suggest_categorical("method", list(self.methods))
        batch = trial.suggest_categorical("batch_size", list(self.batch_sizes))
        if method == "full":
            rate = trial.suggest_float(
                "full_learning_rate", self.full_lr_low, self.full_lr_high, log=True
            )
            return {"method": "full", "learning_rate": rate, "batch_size": batch}
        rate = trial.suggest_float("learning_rate", self.lr_low, self.lr_high, log=True)
        rank = trial.suggest_categorical("lora_r", list(self.ranks))
        return {"method": "lora", "learning_rate": rate, "lora_r": rank, "batch_size": batch}


def describe_params(params: dict) -> str:
    """A trial's settings in words: "LoRA rank 16, learning rate 3.0e-03, batch 16"."""
    how = "every weight" if params.get("method") == "full" else f"LoRA rank {params.get('lora_r')}"
    return f"{how}, learning rate {params['learning_rate']:.1e}, batch {params['batch_size']}"


def objective_key(config: RunConfig) -> tuple[str, float]:
    """(metrics.jsonl key, sign): macro-F1 is maximised; loss is minimised as -loss.

    Classifiers are ranked by macro-F1, the metric their best checkpoint and early stopping use
    (core.train.recipe): ranking trials by accuracy would let a trial that ignores a small class
    win against the checkpoint choice of its own run.
    """
    if config.model.task == "classification":
        return "eval_macro_f1", 1.0
    return "eval_loss", -1.0


def objective_name(config: RunConfig) -> str:
    """The objective in words, for the trials chart and the winner's explanation."""
    return (
        "validation macro-F1"
        if config.model.task == "classification"
        else "negated validation loss"
    )


def read_search(parent: Path) -> dict:
    try:
        return json.loads((Path(parent) / SEARCH_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_search(parent: Path, search: dict) -> None:
    runs.write_json_atomic(Path(parent) / SEARCH_FILE, search)


def is_search(run_dir: Path) -> bool:
    return (Path(run_dir) / SEARCH_FILE).exists()


def seconds_per_step(config: RunConfig, hardware=None) -> tuple[float, float]:
    """(seconds per optimizer step, start-up seconds) from the estimator, for sizing trials."""
    from core.guide import run_estimate
    from core.hardware import detect_hardware

    estimate = run_estimate(config, hardware or detect_hardware())
    steps = max(1, config.training.max_steps)
    if estimate is None:
        return 1.0, 20.0
    total = estimate.hours.value * 3600
    startup = min(total * 0.5, 20.0)
    return max(0.01, (total - startup) / steps), startup


def minimum_budget_s(config: RunConfig, hardware=None) -> float:
    """The smallest budget that finishes one trial of MIN_TRIAL_STEPS (with evaluation)."""
    per_step, startup = seconds_per_step(config, hardware)
    return startup + MIN_TRIAL_STEPS * per_step * 1.25


def suggested_budget_s(config: RunConfig, hardware=None) -> float:
    """About what Auto needs to reach its plan on this data: one short trial, then the Balanced
    plan's steps (what `config`, resolved for Auto, holds) on all rows. A smaller budget still
    finishes, with its winner trained for fewer steps: on 77 labels and 8,000 rows the 5-minute
    default gave the winner about a quarter of the plan (BENCHMARKS.md, quality)."""
    per_step, startup = seconds_per_step(config, hardware)
    full = startup + max(1, config.training.max_steps) * per_step * 1.25
    return full + minimum_budget_s(config, hardware)


def trial_steps(config: RunConfig, budget_s: float, hardware=None) -> int:
    """Optimizer steps per trial: the Balanced plan, shortened so MIN_TRIALS fit the budget."""
    per_step, startup = seconds_per_step(config, hardware)
    fits = int((budget_s / MIN_TRIALS - startup) / (per_step * 1.25))
    return max(MIN_TRIAL_STEPS, min(config.training.max_steps, fits))


def check_budget(config: RunConfig, budget_minutes: float, hardware=None) -> None:
    """Raise ConfigError when the budget cannot finish one trial, naming the smallest that can."""
    from core.settings import ConfigError

    smallest = minimum_budget_s(config, hardware) / 60
    if budget_minutes < smallest:
        raise ConfigError(
            f"A budget of {budget_minutes:g} minutes is too small to finish one trial here; the "
            f"smallest that works is about {smallest:.1f} minutes. Raise the budget or pick Quick."
        )


def create_search(parent: Path, budget_minutes: float, space: SearchSpace | None = None) -> None:
    """Write the search's budget and space into an existing (parent) run directory."""
    search = {"budget_s": float(budget_minutes) * 60, "space": asdict(space or SearchSpace())}
    write_search(parent, {**search, "trials": []})


def start_search(
    config: RunConfig, budget_minutes: float, root: Path | None = None, space=None
) -> Path:
    """Create the parent run and start the search in its own background process.

    Args:
        config: the data and model, resolved with the "Auto" preset (core.presets).
        budget_minutes: wall-clock time the whole search may take, winner included.
        root: where run directories live (default: the data root's runs/).
        space: a SearchSpace (default: the measured one).

    Returns:
        The parent run directory; its status.json and search.json say how the search goes.
    """
    parent = runs.create_run(jobs.with_fingerprint(config.replace(name="auto")), root)
    create_search(parent, budget_minutes, space)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(jobs.PROJECT_ROOT), env.get("PYTHONPATH")])
    )
    with open(parent / runs.LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.search_run", str(parent)],
            cwd=jobs.PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    jobs._children[process.pid] = process  # reaped by jobs.refresh_status like any job
    runs.write_status(
        parent,
        state="queued",
        message="Auto: waiting for the device",
        pid=process.pid,
        supervisor_pid=process.pid,
    )
    return parent
