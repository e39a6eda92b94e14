"""Auto's live view for the Train page: the budget, then the trials as they run.

Not a page itself (app.py lists the pages explicitly).
"""

from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from core import jobs, runs
from core.plots.trials import trials_figure
from core.search import (
    DEFAULT_BUDGET_MINUTES,
    MIN_TRIAL_STEPS,
    SearchSpace,
    minimum_budget_s,
    read_search,
    suggested_budget_s,
)
from pages.common import hardware, is_expert

OVERRUN_NOTE_S = 5  # seconds past the budget before the page explains why


@st.cache_data(show_spinner=False, max_entries=16)
def _budget_minutes(config_yaml: str) -> tuple[float, float]:
    """(smallest budget that finishes one trial, budget Auto needs for its plan), in minutes;
    (0, 0) when the data cannot be read."""
    import yaml

    from core.data.load import DataError
    from core.settings import RunConfig

    try:
        config = RunConfig.from_dict(yaml.safe_load(config_yaml))
        return (
            minimum_budget_s(config, hardware()) / 60,
            suggested_budget_s(config, hardware()) / 60,
        )
    except (DataError, KeyError, ValueError):
        return 0.0, 0.0


def budget_input(config) -> tuple[float, str]:
    """The Auto budget in minutes (kept in session state) and why it cannot start ("" if it can)."""
    import yaml

    st.session_state.setdefault("auto_budget_minutes", DEFAULT_BUDGET_MINUTES)
    budget = st.number_input(
        "Time budget for Auto (minutes)",
        min_value=0.1,
        max_value=600.0,
        value=float(st.session_state["auto_budget_minutes"]),
        step=0.5,
        help="Auto tries settings one after another and stops starting new ones when the next "
        "would not finish in time; the best adapter is the result.",
    )
    st.session_state["auto_budget_minutes"] = budget
    smallest, needed = (
        _budget_minutes(yaml.safe_dump(config.to_dict())) if config.data.path else (0.0, 0.0)
    )
    if smallest and budget < smallest:
        return budget, (
            f"A budget of {budget:g} minutes is too small to finish one trial here: the smallest "
            f"that works is about {smallest:.1f} minutes."
        )
    if smallest:
        st.caption(
            f"Auto runs for at most {budget:g} minutes; one short trial takes about "
            f"{smallest:.1f} minutes here, so about {max(1, int(budget / smallest))} settings "
            "fit (weaker ones are stopped early, leaving room for more)."
        )
    if needed and budget < needed:
        suggest = float(math.ceil(needed))
        st.info(
            f"For this data Auto needs about {suggest:g} minutes here to train its best settings "
            f"for the whole plan ({config.training.max_steps:,} steps on all rows). With "
            f"{budget:g} minutes the winner trains for fewer steps, and the result may be clearly "
            "weaker than a longer run's (many labels need many steps).",
            icon=":material/schedule:",
        )
        unit = "minute" if suggest == 1 else "minutes"
        if st.button(f"Use {suggest:g} {unit}", key="auto_budget_suggested"):
            st.session_state["auto_budget_minutes"] = suggest
            st.rerun()
    return budget, ""


METHOD_NAMES = {"lora": "LoRA adapter", "full": "Every weight (full fine-tuning)"}


def search_space_input() -> SearchSpace:
    """Auto's search space: the measured default, or (Expert mode) what the expert sets."""
    default = SearchSpace()
    if not is_expert():
        return default
    with st.expander("Auto's search space"):
        methods = st.multiselect(
            "Methods",
            list(METHOD_NAMES),
            list(default.methods),
            format_func=METHOD_NAMES.get,
            help="Every weight is tried for classifiers only, at its own learning rates; it "
            "trains a whole model (not an adapter). Not in the default: at 5 minutes it left no "
            "time to train its winner on all rows.",
        )
        left, right = st.columns(2)
        low = left.number_input("Lowest learning rate", 1e-6, 1.0, default.lr_low, format="%.1e")
        high = right.number_input(
            "Highest learning rate", 1e-6, 1.0, default.lr_high, format="%.1e"
        )
        full_low = left.number_input(
            "Lowest rate, every weight", 1e-7, 1e-2, default.full_lr_low, format="%.1e"
        )
        full_high = right.number_input(
            "Highest rate, every weight", 1e-7, 1e-2, default.full_lr_high, format="%.1e"
        )
        ranks = left.multiselect("LoRA ranks", [4, 8, 16, 32, 64], list(default.ranks))
        batches = right.multiselect("Batch sizes", [4, 8, 16, 32], list(default.batch_sizes))
    if low >= high or full_low >= full_high or not ranks or not batches or not methods:
        st.warning("The search space is empty: the default is used.", icon=":material/warning:")
        return default
    return SearchSpace(
        lr_low=low,
        lr_high=high,
        ranks=tuple(ranks),
        batch_sizes=tuple(batches),
        methods=tuple(methods),
        full_lr_low=full_low,
        full_lr_high=full_high,
    )


def _trial_table(search: dict) -> list[dict]:
    rows = []
    for trial in search.get("trials", []):
        params = trial.get("params", {})
        rows.append(
            {
                "trial": trial["number"] + 1,
                "state": trial.get("state", ""),
                "trains": "every weight" if params.get("method") == "full" else "LoRA",
                "learning rate": f"{params.get('learning_rate', 0):.1e}",
                "LoRA rank": str(params.get("lora_r", "—")),
                "batch": params.get("batch_size"),
                "score": _score(trial),
                "seconds": "—" if trial.get("duration_s") is None else f"{trial['duration_s']:.0f}",
                "run": Path(trial.get("run_dir", "")).name,
            }
        )
    return rows


def _score(trial: dict) -> str:
    """The trial's value, or while it runs its latest evaluation (marked), or a dash."""
    if trial.get("value") is not None:
        return f"{trial['value']:.3f}"
    values = trial.get("values") or []
    return f"{values[-1][1]:.3f} so far" if values else "—"


def render_search(run_dir: str) -> None:
    """Status, the trials chart and table, Stop, and which settings won and why."""
    path = Path(run_dir)
    status = jobs.refresh_status(path)
    state = status.get("state", "queued")
    search = read_search(path)
    elapsed = 0.0
    if search.get("started"):
        import time

        end = status.get("finished") if state in runs.FINAL_STATES else time.time()
        elapsed = (end or time.time()) - search["started"]
    budget = search.get("budget_s", 0)
    st.progress(
        min(1.0, elapsed / budget) if budget else 0.0,
        text=f"{state.capitalize()} · {elapsed / 60:.1f} of {budget / 60:.1f} minutes"
        + (f" · {status.get('message', '')}" if state in runs.ACTIVE_STATES else ""),
    )
    over = elapsed - budget
    finished = state in ("completed", "stopped") and status.get("finished")
    if budget and finished and over > OVERRUN_NOTE_S:
        st.caption(
            f"Auto ran {over:.0f} s past its {budget / 60:g}-minute budget: it never stops a "
            f"trial before {MIN_TRIAL_STEPS} steps (fewer learn nothing here), and a run stopped "
            "at the deadline still saves and evaluates its best checkpoint."
        )
    if any(t.get("values") for t in search.get("trials", [])):
        st.plotly_chart(
            trials_figure(search, search.get("metric", "validation accuracy")), width="stretch"
        )
    if search.get("trials"):
        st.dataframe(_trial_table(search), hide_index=True, width="stretch")
        st.caption(f"Each trial is its own run, kept under {path / 'trials'}.")
    if state in runs.ACTIVE_STATES and st.button("Stop", icon=":material/stop:"):
        jobs.stop_job(path)
    if state == "failed":
        st.error(status.get("message", "Auto failed."), icon=":material/error:")
        st.code(runs.tail_log(path, 25) or "(the log is empty)", language="text")
    elif state in ("completed", "stopped"):
        st.success(status.get("message", "Done."), icon=":material/check_circle:")
    if state not in runs.ACTIVE_STATES and st.session_state.get("_was_active"):
        st.session_state["_was_active"] = False
        st.rerun()
    st.session_state["_was_active"] = state in runs.ACTIVE_STATES
