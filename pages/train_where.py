"""The Train page's "Where to run": this computer, or a Slurm cluster (the Experts page's options).

UI only: core.cluster.slurm writes the script and submits it. A cluster run is an ordinary run
directory, so the Train page follows it as it follows a local one.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core import jobs, runs
from core.cluster import slurm
from core.cluster.sbatch import SlurmOptions
from core.settings import ConfigError, RunConfig
from pages.cluster import options_input

HERE, CLUSTER = "This computer", "A Slurm cluster"
KEY = "train.cluster."


@st.cache_data(ttl=60, show_spinner=False)
def _cluster_partitions(path: str, slurm_conf: str) -> tuple[list[str], str, str]:
    """The partitions `sinfo` lists (default first) and the default one's time limit, or why no
    cluster can be used from here.

    Cached a minute per PATH and SLURM_CONF (its arguments): every rerun of the page asks.
    """
    try:
        known = slurm.partitions()
    except slurm.SlurmError as err:
        return [], "", str(err)
    return known, slurm.default_time_limit(known[0]) if known else "24:00:00", ""


def where_to_run(config: RunConfig, preset: str) -> tuple[RunConfig, SlurmOptions | None, list]:
    """The "Where to run" choice.

    Returns:
        The config (nodes set for a cluster run), the cluster options (None: this computer) and
        why the cluster run cannot start yet (empty when it can).
    """
    known, time_limit, unavailable = _cluster_partitions(
        os.environ.get("PATH", ""), os.environ.get("SLURM_CONF", "")
    )
    default = f"default partition {known[0]}" if known else ""
    where = st.radio(
        "Where to run",
        [HERE, CLUSTER],
        horizontal=True,
        key=f"{KEY}where",
        disabled=bool(unavailable),
        captions=[
            "a separate process on this machine's CPU or GPUs",
            f"Unavailable: {unavailable}" if unavailable else f"submitted with sbatch; {default}",
        ],
    )
    if where != CLUSTER or unavailable:
        return config, None, []
    nodes = st.number_input("Nodes", min_value=1, value=config.parallel.nodes, key=f"{KEY}nodes")
    if int(nodes) != config.parallel.nodes:
        config = config.replace(parallel={"nodes": int(nodes)})
    options = options_input(known, KEY, time_limit)
    problems = options.problems()
    if preset == "Auto":
        problems.append("Auto's search runs on this computer: pick Quick, Balanced or Thorough")
    return config, options, problems


def submit_to_cluster(config: RunConfig, options: SlurmOptions, preset: str) -> str:
    """Make the run directory and submit it with sbatch.

    Raises:
        ConfigError: the cluster refused the job or cannot be asked (Slurm's reason, in plain
            words); the run directory keeps the settings and says why in its status.
    """
    run_dir = runs.create_run(jobs.with_fingerprint(config.replace(name=preset.lower())))
    try:
        slurm.submit(run_dir, options)
    except slurm.SlurmError as err:
        raise ConfigError(
            f"Not submitted: {err}. The run's settings are kept in {run_dir}."
        ) from None
    return str(Path(run_dir))


def cluster_caption(run_dir: str, status: dict) -> None:
    """The Slurm job id and state of a cluster run (nothing for a local one)."""
    job_id = slurm.job_id_of(run_dir)
    if job_id:
        why = f" ({status['slurm_reason']})" if status.get("slurm_reason") else ""
        st.caption(f"Slurm job {job_id}: {status.get('slurm_state', 'UNKNOWN')}{why}")
