"""The "Run on a Slurm cluster" section of the Experts page: options, the script, submit, jobs.

UI only: core.cluster writes the script and talks to Slurm. A submitted run is an ordinary run
directory, so the Train page follows it and the Jobs page lists it beside the local ones.
"""

import streamlit as st

from core import jobs, runs
from core.cluster import slurm
from core.cluster.sbatch import SlurmOptions, sbatch_script
from core.guide import data_ready
from core.settings import RunConfig

KEY = "cluster."


def options_input(known: list[str], key: str = KEY, time: str = "24:00:00") -> SlurmOptions:
    """Partition, account, time limit, GPUs per node, GRES type and extra #SBATCH lines."""
    left, middle, right = st.columns(3)
    partition = left.text_input(
        "Partition",
        key=f"{key}partition",
        placeholder=known[0] if known else "the cluster's default",
        help="This cluster's partitions: " + (", ".join(known) or "none listed"),
    )
    account = middle.text_input("Account", key=f"{key}account", placeholder="your default")
    time_limit = right.text_input("Time limit", time, key=f"{key}time")
    gpus = left.number_input(
        "GPUs per node (0: a CPU run)", min_value=0, value=0, step=1, key=f"{key}gpus"
    )
    gpu_type = middle.text_input(
        "GPU type (GRES)", key=f"{key}gpu_type", placeholder="any", disabled=not gpus
    )
    extra = st.text_area("More #SBATCH options, one per line", key=f"{key}extra", height=68)
    return SlurmOptions(
        partition=partition.strip(),
        account=account.strip(),
        time_limit=time_limit.strip(),
        gpus_per_node=int(gpus),
        gpu_type=gpu_type.strip() if gpus else "",
        extra_lines=tuple(line.strip() for line in extra.splitlines() if line.strip()),
    )


def _submit(config: RunConfig, options: SlurmOptions) -> None:
    run_dir = runs.create_run(jobs.with_fingerprint(config.replace(name="slurm")))
    try:
        job_id = slurm.submit(run_dir, options)
    except slurm.SlurmError as err:
        st.error(f"Not submitted: {err}. The run's settings are kept in {run_dir}.")
        return
    st.session_state["run_dir"] = str(run_dir)
    st.success(f"Submitted as Slurm job {job_id}. The Train page follows it; Stop works there.")


def _job_list() -> None:
    try:
        listed = slurm.list_jobs()
    except slurm.SlurmError as err:
        st.warning(f"The cluster's jobs cannot be listed: {err}")
        return
    if listed:
        st.dataframe(listed, hide_index=True, key=f"{KEY}jobs")
    else:
        st.caption("No studio jobs on the cluster now.")


def cluster_section(config: RunConfig, checks_pass: bool) -> None:
    """Where to run: a Slurm cluster. Explains why when this machine cannot submit."""
    st.subheader("Run on a Slurm cluster")
    try:
        known = slurm.partitions()
    except slurm.SlurmError as err:
        st.info(f"Not available here: {err}.", icon=":material/info:")
        return
    options = options_input(known)
    problems = options.problems()
    for problem in problems:
        st.error(problem)
    if not problems:
        with st.expander("train.sbatch as it will be submitted"):
            st.code(sbatch_script(config, "RUN_DIR/config.yaml", options), language="bash")
    data_ok, data_reason = data_ready(config)
    reasons = [] if checks_pass else ["fix the errors under Checks first"]
    reasons += [] if data_ok else [data_reason[0].lower() + data_reason[1:]]
    reasons += ["fix the cluster options above"] if problems else []
    if st.button("Submit to Slurm", type="primary", disabled=bool(reasons), key=f"{KEY}submit"):
        _submit(config, options)
    if reasons:
        st.caption("Not yet: " + "; ".join(reasons) + ".")
    _job_list()
