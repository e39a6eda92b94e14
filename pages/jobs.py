"""Jobs: every run on this machine, running or finished; open one, stop one."""

from pathlib import Path

import streamlit as st

from core import jobs, runs
from pages.common import require_router

require_router()

st.header("Jobs")
all_runs = runs.list_runs()
if not all_runs:
    st.info("No runs yet. Start one on the Train page.")
    st.stop()

rows = []
for run_dir in all_runs:
    status = jobs.refresh_status(run_dir)
    evaluation = runs.read_eval(run_dir)
    rows.append(
        {
            "run": run_dir.name,
            "state": status.get("state", "?"),
            "step": f"{status.get('step', 0)}/{status.get('total_steps', 0)}",
            "accuracy": round(evaluation["accuracy"], 3) if evaluation else None,
            "message": status.get("message", ""),
        }
    )
st.dataframe(rows, width="stretch", hide_index=True)

chosen = st.selectbox("Run", [r["run"] for r in rows])
path = runs.runs_root() / chosen
state = jobs.refresh_status(path).get("state")
checkpoints = sorted((path / runs.CHECKPOINT_DIR).glob("checkpoint-*"))
cols = st.columns(3)
if cols[0].button("Open on the Train page"):
    st.session_state["run_dir"] = str(path)
    st.switch_page("pages/train.py")
if state in runs.ACTIVE_STATES:
    label = "Cancel (not started yet)" if state == "queued" else "Stop this run"
    if cols[1].button(label):
        jobs.stop_job(path)
        st.rerun()
elif checkpoints and cols[2].button(
    "Resume from the latest checkpoint",
    help="Continues exactly: optimizer, schedule, random state and position in the data.",
):
    jobs.start_job(runs.read_config(path), resume="latest", run_dir=path)
    st.session_state["run_dir"] = str(path)
    st.switch_page("pages/train.py")
with st.expander("Log tail"):
    st.code(runs.tail_log(Path(path), 30) or "(empty)", language="text")
