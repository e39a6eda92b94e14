"""Runs: every run with its data, model, settings, result, time and energy; compare and reproduce."""

from pathlib import Path

import streamlit as st

from core import compare, runs, tracking
from core.plots.compare import curve_keys, overlay_figure
from pages.common import require_router
from pages.lineage import lineage_section

require_router()

st.header("Runs")
st.caption(
    "Every run on this machine. Pick two or more to overlay their curves and see only the "
    "settings that differ; reproduce one from its card."
)
all_rows = compare.run_rows()
if not all_rows:
    st.info("No runs yet. Start one on the Train page.")
    st.stop()

cols = st.columns([2, 1, 1])
text = cols[0].text_input("Filter", placeholder="run, model, data fingerprint, settings…")
states = cols[1].multiselect("Status", sorted({r["status"] for r in all_rows}))
tasks = cols[2].multiselect("Task", sorted({r["task"] for r in all_rows}))
rows = compare.filter_rows(all_rows, text, states, tasks)
st.dataframe(rows, width="stretch", hide_index=True)  # click a column header to sort
st.caption(
    f"{len(rows)} of {len(all_rows)} runs. Energy says 'measured' only where a hardware "
    "counter was read; otherwise it is the estimate, labelled so. 'vs estimate': the energy "
    "against the pre-run estimate (training part). Cost: wall time × the price per hour the "
    "estimate used. Gain: accuracy points over the base, which is the run's own evaluation "
    "before training where it logged one at step 0, else always guessing the commonest label "
    "on the same validation rows; 'no gain' has no cost per point."
)
if not rows:
    st.info("No run matches the filter: clear it, or change the status or task chosen.")
    st.stop()

groups = sorted({r["group"] for r in rows})
group = st.selectbox(
    "Select a group (a search's trials, a run and its reproductions)", ["—"] + groups
)
default = [r["run"] for r in rows if r["group"] == group] if group != "—" else []
chosen = st.multiselect("Runs to compare", [r["run"] for r in rows], default=default)


def show_comparison(names: list[str]) -> None:
    dirs = [runs.runs_root() / name for name in names]
    curves = {d.name: runs.read_metrics(d) for d in dirs}
    keys = curve_keys(curves)
    if keys:
        key = st.radio("Curve", keys, horizontal=True)
        st.plotly_chart(overlay_figure(curves, key, key.replace("_", " ")), width="stretch")
    else:
        st.info("None of these runs has logged a step yet.")
    st.subheader("Final metrics")
    st.dataframe(compare.metrics_side_by_side(dirs), width="stretch", hide_index=True)
    st.subheader("Settings that differ")
    configs = {d.name: runs.read_config(d) for d in dirs}
    diff = compare.config_diff(configs)
    if diff:
        st.dataframe(diff, width="stretch", hide_index=True)
    else:
        st.success("Same settings in every chosen run.")
    st.subheader("Energy and cost per accuracy point gained")
    st.dataframe(compare.efficiency_side_by_side(dirs), width="stretch", hide_index=True)
    st.caption(
        "Base: 'step 0' is the run's evaluation before training; 'commonest label' is always "
        "guessing the commonest label on the same validation rows. Wh: measured where a counter "
        "was read, else estimated (see the energy column above)."
    )


def show_reproduction(run_dir: Path) -> None:
    """For a reproduction: does it match the run it reproduces (eval loss; predictions on ask)?"""
    from core.reproduce import compare_runs, read_reproduction, summary_lines

    record = read_reproduction(run_dir)
    if not record:
        return
    original = Path(record["of"])
    exact = st.checkbox("Compare every prediction too (loads both models)")
    result = compare_runs(original, run_dir, record.get("differences"), predictions=exact)
    st.markdown(f"Reproduction of **{original.name}**:")
    st.code("\n".join(summary_lines(result)), language="text")


if len(chosen) >= 2:
    show_comparison(chosen)
elif chosen:
    st.info("Pick at least one more run to compare.")


def show_tracking(run_dir: Path) -> None:
    """Where runs are tracked, the team server setting, and this run's tracking state."""
    uri, source = tracking.tracking_uri()
    st.markdown(f"Runs are tracked in MLflow at `{uri}` ({source}).")
    record = tracking.read_tracking(run_dir)
    if record and not record.get("enabled"):
        st.warning(f"Tracking is off for {run_dir.name}: {record.get('reason')}")
    elif record:
        st.success(f"{run_dir.name} is MLflow run `{record.get('run_id')}`.")
    saved = tracking.read_settings().get("uri", "")
    new_uri = st.text_input("Team MLflow server (empty: the local store)", value=saved)
    if st.button("Save tracking server") and new_uri != saved:
        tracking.save_uri(new_uri)
        st.rerun()
    st.caption(
        "See the local store's runs with `mlflow ui --backend-store-uri "
        f"{tracking.local_store_uri()}`. `MLFLOW_TRACKING_URI`, when set, wins over both."
    )
    board = record.get("tensorboard") if record else None
    if board and board.get("enabled"):
        st.success(f"TensorBoard logs of {run_dir.name} are in `{board['logdir']}`.")
    elif board:
        st.warning(f"TensorBoard is off for {run_dir.name}: {board['reason']}")
    st.caption(
        "TensorBoard (turn it on in Expert settings): `tensorboard --logdir "
        f"{runs.runs_root()}` shows every run that wrote logs."
    )


st.subheader("One run: reproduce it, its energy, its tracking")
target = st.selectbox("Run", [r["run"] for r in rows], key="reproduce_run")
show_reproduction(runs.runs_root() / target)
with st.expander("Energy against the pre-run estimate"):
    st.markdown(compare.energy_summary(runs.runs_root() / target))
with st.expander("Tracking in MLflow and TensorBoard"):
    show_tracking(runs.runs_root() / target)
if st.button("Reproduce from its card", help="Checks the card against this machine first."):
    from core.reproduce import ReproduceError, check_card

    try:
        st.session_state["reproduce_check"] = (target, check_card(runs.runs_root() / target)[1])
    except ReproduceError as err:
        st.session_state.pop("reproduce_check", None)
        st.error(str(err))
checked = st.session_state.get("reproduce_check")
if checked and checked[0] == target:
    if checked[1]:
        st.warning(
            "Differs from the card (the likely cause of any mismatch):\n\n- "
            + "\n- ".join(checked[1])
        )
    else:
        st.info("Same library versions, app commit, hardware and model content as the card.")
    if st.button("Start the reproduction"):
        from core.reproduce import start_reproduction

        new_dir, _ = start_reproduction(runs.runs_root() / target)
        st.session_state.pop("reproduce_check")
        st.success(f"Started {Path(new_dir).name}; pick it above when it finishes to compare.")

st.subheader("Lineage")
st.caption(
    "Where each run's data came from (upload → cleaned versions → runs → adapters and exports)."
)
lineage_section()
