"""Step 3 · Train: pick a preset (or every setting in Expert mode), start, watch it live, stop."""

from pathlib import Path

import streamlit as st

from core import jobs, runs
from core.data.load import DataError
from core.presets import PRESET_NAMES, resolve_preset, summary
from core.search import is_search, read_search
from core.settings import SECTIONS, ConfigError
from core.train.heads import head_words
from pages.common import (
    get_config,
    hardware,
    is_expert,
    next_button,
    readiness,
    require_router,
    set_config,
    setting_input,
    stepper,
)
from pages.live_view import render_live, render_sample_batch
from pages.search_view import budget_input, render_search, search_space_input
from pages.train_where import cluster_caption, submit_to_cluster, where_to_run

require_router()


def expert_settings(section: str) -> list[str]:
    """Every setting of a section except those with their own control or set by the studio."""
    skip = {"fingerprint", "trust_remote_code"}
    return [name for name in SECTIONS[section].model_fields if name not in skip]


def launch_problems(config) -> list[str]:
    """Reasons this config cannot be started on this machine (several nodes, an engine that cannot
    run); an adapter to start from is checked for every place (adapter_problems)."""
    from core.launch.local import effective_strategy

    if config.parallel.nodes > 1:
        return ["Several nodes: submit the Slurm script from the Expert settings page."]
    strategy, why = effective_strategy(config, hardware())
    return [f"Parallel settings: {why}"] if strategy == "none" else []


def adapter_problems(config) -> list[str]:
    """Why the adapter to start from (lora.init_from) cannot start this run, here or on Slurm."""
    from core.train.preflight import start_adapter_problem

    return list(filter(None, [start_adapter_problem(config)]))


config = get_config()
run_dir = st.session_state.get("run_dir")
if run_dir and not (Path(run_dir) / runs.CONFIG_FILE).exists():
    st.info(f"The run {Path(run_dir).name} is no longer on disk; start a new one.")
    run_dir = st.session_state["run_dir"] = None
if not run_dir:  # a reload or a second tab: find the job that is still running
    found = jobs.active_run()
    run_dir = st.session_state["run_dir"] = str(found) if found else None
    if found and not config.data.path:  # a fresh session takes over the job's own choices
        config = runs.read_config(found)
        set_config(config)
        if budget_s := read_search(found).get("budget_s"):  # a search: the budget it runs under
            st.session_state["auto_budget_minutes"] = budget_s / 60
stepper("Train")
st.header("Train your model")
ready = readiness()
status = jobs.refresh_status(Path(run_dir)) if run_dir else {}
active = status.get("state") in runs.ACTIVE_STATES

if st.session_state.get("preset") not in PRESET_NAMES:
    st.session_state["preset"] = "Auto"
preset = st.radio(
    "How much effort?",
    list(PRESET_NAMES),
    horizontal=True,
    index=list(PRESET_NAMES).index(st.session_state["preset"]),
    captions=[summary(name) for name in PRESET_NAMES],
)
st.session_state["preset"] = preset
# The preset is resolved again whenever it or the data changes (rows decide steps and batch).
resolved_for = (preset, config.data.path, config.data.validation_fraction, config.model.task)
if st.session_state.get("_resolved_for") != resolved_for:
    try:
        config, plan = resolve_preset(config, preset)
    except (DataError, ConfigError) as err:
        st.error(f"The preset could not be fitted to the data: {err}", icon=":material/error:")
    else:
        set_config(config)
        st.session_state["_resolved_for"] = resolved_for
        st.session_state["_plan_text"] = plan.describe()
        for key in [k for k in st.session_state if str(k).startswith(("training.", "lora."))]:
            del st.session_state[key]  # the setting widgets show the preset's values, not old ones
if st.session_state.get("_plan_text") and config.data.path:
    if preset == "Auto":
        st.caption(
            f"Auto's trials: at most {st.session_state['_plan_text']}, fitted to your data and "
            "shortened so that several fit the budget."
        )
    else:
        st.caption(f"{preset}: {st.session_state['_plan_text']}, fitted to your data.")
    if words := head_words(config):
        st.caption(words)
budget, budget_problem = budget_input(config) if preset == "Auto" else (0.0, "")
space = search_space_input() if preset == "Auto" else None


def device_count() -> tuple[int, str]:
    """How many processes make sense here: one per GPU, or up to the CPU cores (at most 4)."""
    found = hardware()
    if found.gpus:
        return len(found.gpus), "GPUs"
    return max(1, min(4, found.cpu_cores)), "CPU processes"


most, unit = device_count()
if most > 1:
    processes = st.select_slider(
        f"How many {unit} to train with",
        options=list(range(1, most + 1)),
        value=min(config.parallel.processes_per_node, most),
        help="More than one runs data-parallel (DDP): each process trains on its share of every "
        "batch. The Expert settings page has every other parallel option.",
    )
    if processes != config.parallel.processes_per_node:
        strategy = config.parallel.strategy if processes > 1 else "single"
        if processes > 1 and strategy == "single":
            strategy = "ddp"
        config = config.replace(parallel={"processes_per_node": processes, "strategy": strategy})
        set_config(config)

if is_expert():
    with st.expander("All training settings", expanded=True):
        changes: dict[str, dict] = {"training": {}, "lora": {}}
        for section in changes:
            st.markdown(f"**{'LoRA' if section == 'lora' else 'Training'}**")
            cols = st.columns(4)
            for i, name in enumerate(expert_settings(section)):
                with cols[i % 4]:
                    changes[section][name] = setting_input(
                        section, name, getattr(getattr(config, section), name)
                    )
        try:
            config = config.replace(**changes)
            set_config(config)
        except ValueError as err:
            st.error(f"{err}. The previous value is kept.", icon=":material/error:")


@st.cache_data(show_spinner=False, max_entries=16)
def estimate_text(config_yaml: str) -> str:
    """The plain-words estimate for this config and data on this machine ("" when unknown)."""
    import yaml

    from core.data.load import DataError
    from core.guide import run_estimate
    from core.settings import RunConfig

    try:
        result = run_estimate(RunConfig.from_dict(yaml.safe_load(config_yaml)), hardware())
    except (DataError, KeyError, ValueError):
        return ""
    return result.summary() if result else ""


if ready["Data"][0]:
    import yaml

    summary = estimate_text(yaml.safe_dump(config.to_dict()))
    if summary:
        st.info(summary + " Details on the Model page.", icon=":material/speed:")

blocked = [
    f"{step}: {why}" for step, (ok, why) in ready.items() if step in ("Model", "Data") and not ok
]
config, cluster, cluster_problems = where_to_run(config, preset)
blocked += cluster_problems if cluster else launch_problems(config)
blocked += adapter_problems(config)
blocked += [budget_problem] if budget_problem else []
for reason in blocked:
    st.warning(reason, icon=":material/block:")
if st.button(
    "Queue this run" if active else "Start training",
    type="primary",
    disabled=bool(blocked),
    icon=":material/play_arrow:",
    help="One job runs at a time; a queued run starts by itself when the device is free.",
):
    try:
        if cluster:
            run_dir = submit_to_cluster(config, cluster, preset)
        elif preset == "Auto":
            from core.search import start_search

            run_dir = str(start_search(config, budget, space=space))
        else:
            run_dir = str(jobs.start_job(config.replace(name=f"{preset.lower()}")))
    except ConfigError as err:
        st.error(str(err), icon=":material/error:")
    else:
        st.session_state["run_dir"] = run_dir
        st.rerun()
if active:
    st.caption("A run is in progress: a new run waits in the queue (see Jobs) until it ends.")


if run_dir:
    st.subheader(f"Run {Path(run_dir).name}")
    cluster_caption(run_dir, status)
    fingerprint = runs.read_config(Path(run_dir)).data.fingerprint
    st.caption(f"Data fingerprint `{fingerprint or 'n/a'}`: the exact data this run trains on.")
    searching = is_search(Path(run_dir))
    live = render_search if searching else render_live
    st.fragment(run_every=2 if active else None)(live)(run_dir)
    render_sample_batch(Path(run_dir))
    if not active:
        next_button("Train", "Next: see the results", "pages/results.py")
    with st.expander("Run it headless (same config, from a terminal)"):
        st.code(
            f"python -m core.train --config {Path(run_dir) / runs.CONFIG_FILE}", language="bash"
        )
        st.caption("Or the whole guided path, Auto included, in one line:")
        st.code(f"python -m core.fit --data {config.data.path} --preset auto", language="bash")
        st.code((Path(run_dir) / runs.CONFIG_FILE).read_text(), language="yaml")
