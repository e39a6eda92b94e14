"""Jobs: your runs, running or finished; open one, stop one. An admin sees every user's runs."""

from pathlib import Path

import streamlit as st

from core import jobs, runs
from core.cluster import slurm
from pages.common import require_router

require_router()

st.header("Jobs")
is_admin = st.session_state.get("user", {}).get("role") == "admin"
roots = runs.all_runs_roots() if is_admin else [runs.runs_root()]
all_runs = sorted((p for root in roots for p in runs.list_runs(root)), key=lambda p: p.name)[::-1]
if not all_runs:
    st.info("No runs yet. Start one on the Train page.")
    st.stop()


def owner(run_dir: Path) -> str:
    """The folder of the user who started the run ("" for the shared folder)."""
    parent = run_dir.parent.parent
    return parent.name if parent.parent.name == "users" else ""


rows, by_name = [], {}
for run_dir in all_runs:
    status = jobs.refresh_status(run_dir)
    evaluation = runs.read_eval(run_dir)
    label = f"{owner(run_dir)}/{run_dir.name}" if is_admin and owner(run_dir) else run_dir.name
    by_name[label] = run_dir
    rows.append(
        {
            "run": label,
            "state": status.get("state", "?"),
            "step": f"{status.get('step', 0)}/{status.get('total_steps', 0)}",
            "accuracy": round(evaluation["accuracy"], 3) if evaluation else None,
            "slurm": " ".join(filter(None, [slurm.job_id_of(run_dir), status.get("slurm_state")])),
            "message": status.get("message", ""),
        }
    )
st.dataframe(rows, width="stretch", hide_index=True)

chosen = st.selectbox("Run", [r["run"] for r in rows])
path = by_name[chosen]
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
    try:
        if slurm.job_id_of(path):  # a cluster run goes back to the cluster, with its script
            slurm.resubmit(path, resume="latest")
        else:
            jobs.start_job(runs.read_config(path), resume="latest", run_dir=path)
    except slurm.SlurmError as err:
        st.error(f"Not resumed: {err}. The run and its checkpoints are kept.")
    else:
        st.session_state["run_dir"] = str(path)
        st.switch_page("pages/train.py")
with st.expander("Log tail"):
    st.code(runs.tail_log(Path(path), 30) or "(empty)", language="text")
