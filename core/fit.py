"""The wizard in one line: load, detect, map, split, resolve the preset, train, evaluate, save.

    python -m core.fit --data reviews.csv
    python -m core.fit --data reviews.csv --text review --label sentiment --preset quick
    python -m core.fit --data reviews.csv --preset auto --budget-minutes 5 --out runs/reviews-auto

It writes the same run directory the app shows on its Results page (config.yaml, metrics.jsonl,
eval.json with accuracy and macro_f1 for classification, adapter/) and ends by printing the
validation metric and that directory. Without --text/--label it takes the Data page's suggestion.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from core import jobs, runs
from core.data.load import DataError, load_table
from core.presets import PRESET_NAMES, resolve_preset
from core.search import DEFAULT_BUDGET_MINUTES
from core.settings import EMBEDDED_MODEL, TASKS, ConfigError, RunConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m core.fit", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="data file (CSV, TSV, JSON(L), Parquet …)")
    parser.add_argument("--text", default="", help="text column (default: suggested)")
    parser.add_argument("--label", default="", help="label column (default: suggested)")
    parser.add_argument("--task", choices=TASKS, default="", help="default: suggested")
    parser.add_argument("--model", default=EMBEDDED_MODEL, help="Hub id or local folder")
    parser.add_argument(
        "--preset", default="auto", choices=[p.lower() for p in PRESET_NAMES], help="default: auto"
    )
    parser.add_argument(
        "--budget-minutes", type=float, default=DEFAULT_BUDGET_MINUTES, help="Auto's time budget"
    )
    parser.add_argument("--out", default="", help="run directory to write (must not exist)")
    parser.add_argument("--seed", type=int, default=42, help="training seed")
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change one setting after the preset (repeatable), e.g. --set model.pooling=cls",
    )
    return parser.parse_args(argv)


def setting_changes(items: list[str]) -> dict:
    """--set items as config sections: ["training.seed=3"] → {"training": {"seed": 3}}.

    Values are read as YAML (numbers, true/false, [lists]); the config checks them.

    Raises:
        ConfigError: an item is not SECTION.KEY=VALUE.
    """
    import yaml

    changes: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not (sep and dot and section and name):
            raise ConfigError(
                f"--set {item!r} is not SECTION.KEY=VALUE; for example --set model.pooling=cls."
            )
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        changes.setdefault(section, {})[name] = parsed
    return changes


def data_settings(table, text: str, label: str, task: str) -> tuple[str, dict]:
    """(task, DataSettings fields) from the columns asked for, or the Data page's suggestion.

    Raises:
        DataError: a named column is missing, or nothing in the table looks like text.
    """
    from core.data.detect import suggest_mapping

    for column in filter(None, (text, label)):
        if column not in table.columns:
            raise DataError(
                f"There is no column '{column}'; the file has {', '.join(map(str, table.columns))}."
                " Pass one of these to --text / --label."
            )
    if text and label and task in ("", "classification"):  # nothing left to guess
        return "classification", {"text_column": text, "label_column": label}
    shape = suggest_mapping(table)
    task = task or ("classification" if label else shape["settings_task"])
    if task == "classification":
        return task, {
            "text_column": text or shape.get("text", ""),
            "label_column": label or shape.get("label", ""),
            "text_pair_column": "" if text else shape.get("text_pair", ""),
        }
    if shape.get("messages") and not text:
        return task, {"messages_column": shape["messages"], "text_column": shape["messages"]}
    prompt, response = shape.get("instruction") or shape.get("prompt"), shape.get("output")
    if prompt and response and not text:
        return task, {"prompt_column": prompt, "response_column": response, "text_column": prompt}
    return task, {"text_column": text or shape.get("text", ""), "label_column": ""}


def how_it_was_read(path: Path, table, task: str, columns: dict) -> list[str]:
    """What the Data page shows before training, as lines for the terminal: rows, what was
    guessed (header, separator, layout), every line left out with its number, and the columns
    and task used, so a wrong guess is seen before the run and not after it."""
    lines = [f"Read {path.name}: {len(table):,} rows."]
    lines += table.attrs.get("notes", [])
    for bad in (table.attrs.get("bad_lines") or {}).get("listed", []):
        lines.append(f"  line {bad['lines']}: {bad['problem']}: {bad['content']}")
    used = {key: name for key, name in columns.items() if name}
    described = ", ".join(
        f"{k.removesuffix('_column').replace('_', ' ')} column {v!r}" for k, v in used.items()
    )
    if task == "classification":
        labels = table[columns["label_column"]].dropna().astype(str).str.strip()
        described += f" ({labels[labels != ''].nunique():,} labels)"
    lines.append(f"Task {task}: {described}. Change it with --text, --label or --task.")
    return lines


def build_config(args: argparse.Namespace) -> tuple[RunConfig, str, list[str]]:
    """The run's config, the resolved plan in words, and how the data file was read.

    Raises:
        DataError, ConfigError: the data, a column or a setting cannot be used (message says why).
    """
    path = Path(args.data).expanduser().resolve()
    table = load_table(path)
    task, columns = data_settings(table, args.text, args.label, args.task)
    if task == "classification":
        from core.data.detect import check_labels

        check_labels(table, columns["label_column"])
    reading = how_it_was_read(path, table, task, columns)
    config = RunConfig().replace(
        model={"name_or_path": args.model, "task": task},
        data={"path": str(path), "validation_fraction": args.validation_fraction, **columns},
        training={"seed": args.seed},
    )
    preset = next(p for p in PRESET_NAMES if p.lower() == args.preset)
    config, plan = resolve_preset(config, preset)
    config = config.replace(name=preset.lower(), **setting_changes(args.set))
    return config, plan.describe(), reading


def new_run_dir(config: RunConfig, out: str) -> Path:
    """--out as a fresh run directory (config and status written), or a new one under runs/."""
    config = jobs.with_fingerprint(config)
    if not out:
        return runs.create_run(config)
    run_dir = Path(out).expanduser().resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"--out {run_dir} already holds files; choose a new folder.")
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / runs.CONFIG_FILE)
    runs.write_status(run_dir, state="queued", message="Waiting to start", step=0, total_steps=0)
    return run_dir


def follow(run_dir: Path) -> dict:
    """Print the job's progress (each state, and every 10 s while it trains) until it ends."""
    shown, printed_at = None, 0.0
    while True:
        status = jobs.refresh_status(run_dir)
        state = status.get("state", "queued")
        line = f"{state} · step {status.get('step', 0)} of {status.get('total_steps') or '?'}"
        if line != shown and (not shown or state not in shown or time.time() - printed_at > 10):
            print(line, flush=True)
            shown, printed_at = line, time.time()
        if status.get("state") in runs.FINAL_STATES:
            return status
        time.sleep(2)


def fit(args: argparse.Namespace) -> int:
    """Run the whole path; return the exit code (0 trained, 1 training failed, 2 bad input)."""
    try:
        config, plan, reading = build_config(args)
        print("\n".join(reading), flush=True)
        from core.train.preflight import start_adapter_problem

        if problem := start_adapter_problem(config):
            raise ConfigError(problem)
        if config.name == "auto":
            from core.search import check_budget, create_search

            check_budget(config, args.budget_minutes)
        run_dir = new_run_dir(config, args.out)
    except (DataError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if config.name == "auto":
        plan = f"up to {args.budget_minutes:g} minutes of trials; the first is Balanced: {plan}"
    print(f"{config.name}: {plan}; run directory {run_dir}", flush=True)
    if config.name == "auto":
        from core.search_run import run_search

        say_if_budget_short(config, args.budget_minutes)
        create_search(run_dir, args.budget_minutes)
        status = run_search(run_dir)
    else:
        status = follow(jobs.start_job(config, run_dir=run_dir))
    return report(run_dir, status)


def say_if_budget_short(config: RunConfig, budget_minutes: float) -> None:
    """A note when the budget is short of what Auto needs for its whole plan on this data."""
    from core.search import suggested_budget_s

    needed = suggested_budget_s(config) / 60
    if budget_minutes < needed:
        minutes = math.ceil(needed)  # the same rounding as the Train page's button
        print(
            f"note: Auto needs about {minutes} minutes here for its whole plan on this data; "
            f"with {budget_minutes:g} the winner trains for fewer steps (--budget-minutes "
            f"{minutes} for the whole plan)",
            flush=True,
        )


def report(run_dir: Path, status: dict) -> int:
    """The last lines: the validation metric and where everything is."""
    print(status.get("message", ""), flush=True)
    result = runs.read_eval(run_dir)
    if "accuracy" in result:
        print(f"validation accuracy {result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}")
    elif "eval_loss" in result:
        print(f"validation loss {result['eval_loss']:.4f}  perplexity {result['perplexity']:.2f}")
    print(f"run directory: {run_dir}")
    return 1 if status.get("state") == "failed" else 0


if __name__ == "__main__":
    sys.exit(fit(parse_args()))
