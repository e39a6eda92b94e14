"""Step 3 · Train: pick a preset (or every setting in Expert mode), start, watch it live, stop."""

from pathlib import Path

import streamlit as st

from core import jobs, runs
from core.plots.training import loss_figure
from core.settings import PRESETS, apply_preset
from pages.common import (
    get_config,
    is_expert,
    next_button,
    readiness,
    set_config,
    setting_input,
    stepper,
)

EXPERT_SETTINGS = [
    ("training", "learning_rate"),
    ("training", "num_train_epochs"),
    ("training", "per_device_train_batch_size"),
    ("training", "max_length"),
    ("lora", "r"),
    ("lora", "alpha"),
    ("lora", "dropout"),
    ("lora", "target_modules"),
]

stepper("Train")
st.header("Train your model")

config = get_config()
ready = readiness()
run_dir = st.session_state.get("run_dir")
if not run_dir:  # a reload or a second tab: find the job that is still running
    found = jobs.active_run()
    run_dir = st.session_state["run_dir"] = str(found) if found else None
status = jobs.refresh_status(Path(run_dir)) if run_dir else {}
active = status.get("state") in runs.ACTIVE_STATES

preset = st.radio(
    "How much effort?",
    list(PRESETS),
    horizontal=True,
    index=list(PRESETS).index(st.session_state["preset"]),
    captions=[PRESETS[name]["summary"] for name in PRESETS],
)
if preset != st.session_state["preset"]:
    st.session_state["preset"] = preset
    config = apply_preset(config, preset)
    set_config(config)


@st.cache_data(show_spinner=False)
def device_count() -> tuple[int, str]:
    """How many processes make sense here: one per GPU, or up to the CPU cores (at most 4)."""
    from core.hardware import detect_hardware

    hardware = detect_hardware()
    if hardware.gpus:
        return len(hardware.gpus), "GPUs"
    return max(1, min(4, hardware.cpu_cores)), "CPU processes"


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
        cols = st.columns(4)
        changes: dict[str, dict] = {"training": {}, "lora": {}}
        for i, (section, name) in enumerate(EXPERT_SETTINGS):
            current = getattr(getattr(config, section), name)
            with cols[i % 4]:
                changes[section][name] = setting_input(section, name, current)
        try:
            config = config.replace(**changes)
            set_config(config)
        except ValueError as err:
            st.error(f"{err}. The previous value is kept.", icon=":material/error:")

blocked = [
    f"{step}: {why}" for step, (ok, why) in ready.items() if step in ("Model", "Data") and not ok
]
for reason in blocked:
    st.warning(reason, icon=":material/block:")
if st.button(
    "Queue this run" if active else "Start training",
    type="primary",
    disabled=bool(blocked),
    icon=":material/play_arrow:",
    help="One job runs at a time; a queued run starts by itself when the device is free.",
):
    run_dir = str(jobs.start_job(config.replace(name=f"{preset.lower()}")))
    st.session_state["run_dir"] = run_dir
    st.rerun()
if active:
    st.caption("A run is in progress: a new run waits in the queue (see Jobs) until it ends.")


def render_live(run_dir: str) -> None:
    """Progress, loss chart, throughput and log tail; polled from the run directory's files."""
    path = Path(run_dir)
    status = jobs.refresh_status(path)
    state = status.get("state", "queued")
    if state == "queued":
        st.info(status.get("message", "Queued"), icon=":material/hourglass_top:")
    step, total = status.get("step", 0), status.get("total_steps", 0)
    eta = status.get("eta_s")
    eta_text = f" · about {eta:.0f} s left" if eta and state == "running" else ""
    st.progress(
        min(1.0, step / total) if total else 0.0,
        text=f"{state.capitalize()} · step {step} of {total or '?'}{eta_text}",
    )
    metrics = runs.read_metrics(path)
    train_points = [m for m in metrics if "loss" in m]
    cols = st.columns(3)
    if train_points:
        cols[0].metric("Training loss", f"{train_points[-1]['loss']:.3f}")
    evals = [m for m in metrics if "eval_loss" in m]
    if evals:
        cols[1].metric("Validation accuracy", f"{evals[-1].get('eval_accuracy', 0):.1%}")
    speed = [m["tokens_per_s"] for m in metrics if "tokens_per_s" in m]
    if speed:
        cols[2].metric("Speed", f"{speed[-1]:,.0f} tokens/s")
    if metrics:
        st.plotly_chart(loss_figure(metrics, smooth=0.6), width="stretch")
    if state in runs.ACTIVE_STATES and st.button("Stop", icon=":material/stop:"):
        jobs.stop_job(path)
    if state == "failed":
        st.error(status.get("message", "Training failed."), icon=":material/error:")
        st.code(runs.tail_log(path, 25) or "(the log is empty)", language="text")
    elif state in ("completed", "stopped"):
        st.success(status.get("message", "Done."), icon=":material/check_circle:")
    with st.expander("Log"):
        st.code(runs.tail_log(path, 15) or "(nothing yet)", language="text")
    if state not in runs.ACTIVE_STATES and st.session_state.get("_was_active"):
        st.session_state["_was_active"] = False
        st.rerun()  # leave polling mode: the whole page redraws once with the final state
    st.session_state["_was_active"] = state in runs.ACTIVE_STATES


if run_dir:
    st.subheader(f"Run {Path(run_dir).name}")
    fingerprint = runs.read_config(Path(run_dir)).data.fingerprint
    st.caption(f"Data fingerprint `{fingerprint or 'n/a'}`: the exact data this run trains on.")
    st.fragment(run_every=2 if active else None)(render_live)(run_dir)
    if not active:
        next_button("Train", "Next: see the results", "pages/results.py")
    with st.expander("Run it headless (same config, from a terminal)"):
        st.code(
            f"python -m core.train --config {Path(run_dir) / runs.CONFIG_FILE}", language="bash"
        )
        st.code((Path(run_dir) / runs.CONFIG_FILE).read_text(), language="yaml")
