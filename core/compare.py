"""Every run in one table, and two or more runs side by side: metrics and the settings that differ,
energy and cost, and both per point of accuracy gained over the base.

The base of a classification run is what the run directory can show: the model's own evaluation
before any step where metrics.jsonl has one at step 0, else always guessing the commonest label
on the same validation rows (eval.json's chance_accuracy); `accuracy_base` names which. The Runs
page (pages/runs.py) shows these; the figures are in core.plots.compare.
"""

from __future__ import annotations

import re
from pathlib import Path

from core import runs
from core.presets import PRESETS
from core.settings import ConfigError, RunConfig

# Trials of an automatic search and reproductions share their origin's group.
_GROUP_SUFFIX = re.compile(r"(-trial-?\d+|-\d+)$")


def preset_of(config: RunConfig) -> str:
    """The guided preset a run came from: its name says so (the app names runs "quick",
    "auto", "trial-3" …); otherwise the preset whose learning rate and LoRA rank it has, else
    "custom". Steps and batch depend on the data (core.presets), so they are not compared."""
    name = config.name.lower()
    if name.startswith(("auto", "trial-", "winner")):
        return "Auto"
    for preset in PRESETS:
        if name.startswith(preset.lower()):
            return preset
    for preset, facts in PRESETS.items():
        same_lr = config.training.learning_rate == facts.learning_rate
        if same_lr and config.lora.r == facts.lora_r and config.lora.alpha == 2 * facts.lora_r:
            return preset
    return "custom"


def settings_text(config: RunConfig) -> str:
    """The settings that matter most, in one short line."""
    t, lora = config.training, config.lora
    steps = f"{t.max_steps} steps" if t.max_steps > 0 else f"{t.num_train_epochs:g} ep"
    return f"{preset_of(config)}: {steps}, lr {t.learning_rate:g}, {lora.method} r{lora.r}"


def main_metric(evaluation: dict) -> tuple[str, float | None]:
    """The run's headline number: accuracy for classification, else validation loss."""
    if "accuracy" in evaluation:
        return "accuracy", evaluation["accuracy"]
    if "eval_loss" in evaluation:
        return "eval loss", evaluation["eval_loss"]
    return "", None


def wall_seconds(status: dict) -> float | None:
    """From process start to the end of the run (None while it has not ended)."""
    start, end = status.get("started"), status.get("finished")
    return round(end - start, 1) if start and end else None


def energy_text(record: dict) -> str:
    """Measured joules, or the estimate labelled as such; a dash when neither was recorded."""
    if "joules" not in record:
        return "—"
    if record.get("method") == "measured":
        return f"{record['joules'] / 1000:.3g} kJ measured"
    return f"≈ {record['joules'] / 1000:.3g} kJ estimated"


def versus_text(record: dict) -> str:
    """How far the energy was from the pre-run estimate: '0.41× (59% under)'; a dash if unknown."""
    from core.energy import ratio_text

    versus = record.get("vs_estimate")
    return ratio_text(versus).replace(" the estimate", "") if versus else "—"


def accuracy_base(run_dir: Path, evaluation: dict) -> tuple[float | None, str]:
    """The accuracy a run's gain is counted from, and what it is in words (None: no base)."""
    for record in runs.read_metrics(run_dir):
        if record.get("step") == 0 and isinstance(record.get("eval_accuracy"), (int, float)):
            return record["eval_accuracy"], "the model before training (evaluation at step 0)"
    chance = evaluation.get("chance_accuracy")
    if chance is None and evaluation.get("confusion"):
        supports = [sum(row) for row in evaluation["confusion"]]
        chance = max(supports) / sum(supports) if sum(supports) else None
    if chance is None:
        return None, ""
    return chance, "always guessing the commonest label on the same validation rows"


def run_cost(status: dict, energy: dict) -> float | None:
    """$ of a run: its wall time × the price per hour its pre-run estimate used (None: unknown)."""
    wall, pre_run = wall_seconds(status), energy.get("pre_run_estimate") or {}
    if wall is None or "usd_per_hour" not in pre_run:
        return None
    return wall / 3600 * pre_run["usd_per_hour"]


def per_point(run_dir: Path, status: dict, evaluation: dict) -> dict:
    """Energy and cost of the run, and per percentage point of accuracy gained over the base:
    "no gain" where it gained under 0.05 points (never a division by zero or a negative cost).
    Energy from an estimate (no counter) is marked "≈"."""
    from core.energy import read_energy

    energy = read_energy(run_dir)
    wh = energy["joules"] / 3600 if "joules" in energy else None
    cost = run_cost(status, energy)
    base, what = accuracy_base(run_dir, evaluation)
    about = "" if energy.get("method") == "measured" else "≈ "  # an estimate is marked as one
    row = {"base": "—", "gain (points)": "—", "Wh / point": "—", "$ / point": "—"}
    row.update(Wh=_number(wh, about + "{:.3g}"), cost=_number(cost, "${:.2f}"), base_what=what)
    accuracy = evaluation.get("accuracy")
    if base is None or not isinstance(accuracy, (int, float)):
        return row
    gain = 100 * (accuracy - base)
    row["base"] = f"{base:.1%} ({'step 0' if 'step 0' in what else 'commonest label'})"
    row["gain (points)"] = f"{gain:+.1f}"
    if gain < 0.05:
        row["Wh / point"] = row["$ / point"] = "no gain"
        return row
    row["Wh / point"] = _number(None if wh is None else wh / gain, about + "{:.3g}")
    row["$ / point"] = _number(None if cost is None else cost / gain, "${:.3g}")
    return row


def per_point_line(run_dir: Path) -> str:
    """The gain over the base and its energy and cost per point, in one plain sentence ("" for a
    run without accuracy, e.g. text generation)."""
    evaluation = runs.read_eval(run_dir)
    row = per_point(run_dir, runs.read_status(run_dir), evaluation)
    if row["base"] == "—":
        return ""
    base = row["base"].split(" (")[0]
    head = (
        f"Accuracy gained over the base ({row['base_what']}, {base}): {row['gain (points)']} points"
    )
    if row["Wh / point"] == "no gain":
        return head + ": no gain, so no energy or cost per point."
    parts = [f"{row['Wh / point']} Wh"] if row["Wh / point"] != "—" else []
    parts += [row["$ / point"]] if row["$ / point"] != "—" else []
    if not parts:
        return head + " (no energy or cost was recorded, so none per point)."
    return f"{head}: {' and '.join(parts)} per point gained."


def energy_summary(run_dir: Path) -> str:
    """The run's energy (measured or estimated), its pre-run estimate and how far off it was, and
    the cost per accuracy point, as Markdown paragraphs (Results page and Runs view)."""
    from core.energy import energy_lines, read_energy

    record = read_energy(run_dir)
    lines = energy_lines(record) if record else ["No energy was recorded for this run."]
    point = per_point_line(run_dir)
    return "\n\n".join(lines + ([point] if point else []))


def _number(value: float | None, pattern: str) -> str:
    return "—" if value is None else pattern.format(value)


def group_of(config: RunConfig, run_dir: Path) -> str:
    """A search's trials and a run's reproductions share a group: the name without its suffix."""
    name = config.name or run_dir.name
    return _GROUP_SUFFIX.sub("", name.removeprefix("reproduce-")) or name


def run_row(run_dir: Path) -> dict | None:
    """One line of the Runs table; None for a folder whose config cannot be read."""
    try:
        config = runs.read_config(run_dir)
    except (ConfigError, OSError):
        return None
    from core.energy import read_energy

    status, evaluation = runs.read_status(run_dir), runs.read_eval(run_dir)
    metric, value = main_metric(evaluation)
    energy, efficiency = read_energy(run_dir), per_point(run_dir, status, evaluation)
    return {
        "run": run_dir.name,
        "group": group_of(config, run_dir),
        "status": status.get("state", "?"),
        "model": config.model.name_or_path,
        "task": config.model.task,
        "data": config.data.fingerprint or "—",
        "settings": settings_text(config),
        "metric": metric,
        "value": None if value is None else round(value, 4),
        "wall time (s)": wall_seconds(status),
        "energy": energy_text(energy),
        "vs estimate": versus_text(energy),
        "cost": efficiency["cost"],
        "gain (points)": efficiency["gain (points)"],
        "Wh / point": efficiency["Wh / point"],
        "$ / point": efficiency["$ / point"],
    }


def run_rows(root: Path | None = None) -> list[dict]:
    """The Runs table: every readable run, newest first."""
    return [row for run_dir in runs.list_runs(root) if (row := run_row(run_dir))]


def filter_rows(rows: list[dict], text: str = "", states=(), tasks=()) -> list[dict]:
    """Rows whose run, model, group or settings contain `text`, in the chosen states and tasks."""
    needle = text.strip().lower()

    def keep(row: dict) -> bool:
        haystack = " ".join(str(row[k]) for k in ("run", "model", "group", "settings", "data"))
        return (
            (not needle or needle in haystack.lower())
            and (not states or row["status"] in states)
            and (not tasks or row["task"] in tasks)
        )

    return [row for row in rows if keep(row)]


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_diff(configs: dict[str, RunConfig]) -> list[dict]:
    """Only the settings that differ between the runs: one row per setting, one column per run."""
    flat = {name: _flatten(config.to_dict()) for name, config in configs.items()}
    keys = sorted(set().union(*flat.values()))
    rows = []
    for key in keys:
        values = [flat[name].get(key) for name in flat]
        if any(v != values[0] for v in values[1:]):
            rows.append({"setting": key, **{name: _cell(flat[name].get(key)) for name in flat}})
    return rows


def _cell(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def metrics_side_by_side(run_dirs: list[Path]) -> list[dict]:
    """Final validation numbers (eval.json's scalars) as rows, one column per run."""
    evals = {Path(d).name: runs.read_eval(d) for d in run_dirs}
    keys = sorted({k for e in evals.values() for k, v in e.items() if isinstance(v, (int, float))})
    return [{"metric": k, **{name: e.get(k) for name, e in evals.items()}} for k in keys]


def efficiency_side_by_side(run_dirs: list[Path]) -> list[dict]:
    """One row per run: accuracy, its base, the gain, energy and cost, and both per point."""
    rows = []
    for run_dir in run_dirs:
        evaluation = runs.read_eval(run_dir)
        row = per_point(run_dir, runs.read_status(run_dir), evaluation)
        accuracy = evaluation.get("accuracy")
        head = {
            "run": Path(run_dir).name,
            "accuracy": "—" if accuracy is None else f"{accuracy:.1%}",
        }
        rows.append(head | {key: row[key] for key in _EFFICIENCY_COLUMNS})
    return rows


_EFFICIENCY_COLUMNS = ("base", "gain (points)", "Wh", "cost", "Wh / point", "$ / point")
