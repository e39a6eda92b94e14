"""Submit, follow and stop a run on a Slurm cluster with Slurm's own commands.

A cluster run is an ordinary run directory (config.yaml, status.json, metrics, adapter) on a
path the cluster's nodes share, plus `train.sbatch` (the script the Experts page shows) and
`slurm.json` (the job id). The job writes the directory as a local run does, so the same pages
follow it; Slurm's side (PENDING and why, RUNNING, TIMEOUT …) comes from `squeue`, or `sacct`
once the job has left the queue. Clients find the cluster as the user's shell does
(slurm.conf, or SLURM_CONF).

    job_id = submit(run_dir, SlurmOptions(partition="gpu", gpus_per_node=4))
    job_state(job_id)  ->  JobState(state="PENDING", reason="Priority")
    stop(job_id)       # SIGTERM: the trainer saves its adapter; then cancel
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core import runs
from core.cluster.sbatch import SBATCH_FILE, SlurmOptions, sbatch_script

SLURM_FILE = "slurm.json"
JOB_PREFIX = "fs-"  # every studio job's name starts with this (core.cluster.sbatch)
COMMAND_TIMEOUT_S = 30
NODE_LOCAL = ("/tmp", "/var/tmp", "/dev/shm", "/run")
# States in which Slurm still holds the job (squeue's JOB STATE CODES): the trainer may still run
# and write its own end. SIGNALING is what squeue shows while the time limit's `--signal` warning
# is delivered; counting it as an end marked a job that was saving its checkpoint "failed".
ACTIVE = {
    "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_FED",
    "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD",
}  # fmt: skip


class SlurmError(Exception):
    """Slurm cannot take or answer for the job; the message says why in plain words."""


@dataclass(frozen=True)
class JobState:
    """Slurm's state of a job (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT …)."""

    state: str
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def unavailable_reason() -> str:
    """Why runs cannot go to a Slurm cluster from here, or "" when `sbatch` is on the PATH."""
    missing = [name for name in ("sbatch", "squeue", "scancel") if not shutil.which(name)]
    if not missing:
        return ""
    return (
        f"no {', '.join(missing)} on the PATH: start the studio on a login node of the cluster "
        "(or install Slurm's client commands and its slurm.conf here)"
    )


NO_CONFIG = "Could not establish a configuration source"  # Slurm without a slurm.conf


def plain_reason(stderr: str) -> str:
    """Slurm's error lines without the "sbatch: error:" prefixes, each said once; where Slurm found
    no slurm.conf (every command fails the same way), its last line and the fix instead."""
    if NO_CONFIG in stderr:
        return (
            f"{NO_CONFIG} (this machine has no slurm.conf: set SLURM_CONF to the cluster's, or "
            "run the app on a login node of the cluster)"
        )
    lines = []
    for line in stderr.splitlines():
        text = line.split(": error: ", 1)[-1].split(": fatal: ", 1)[-1].strip()
        if text and text not in lines:
            lines.append(text)
    return "; ".join(lines) or "Slurm gave no reason"


def _run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    reason = unavailable_reason()
    if reason:
        raise SlurmError(reason)
    try:
        return subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise SlurmError(
            f"`{argv[0]}` got no answer from the cluster in {COMMAND_TIMEOUT_S} s: "
            "is slurmctld up? (`sinfo` should list the partitions)"
        ) from None


def cluster_nodes() -> list[str]:
    """The node names `sinfo` lists (empty when it cannot be asked)."""
    try:
        result = _run(["sinfo", "-h", "-N", "-o", "%N"])
    except SlurmError:
        return []
    return sorted(set(result.stdout.split()))


def partitions() -> list[str]:
    """The partitions `sinfo` lists, the cluster's default first.

    Raises:
        SlurmError: no Slurm commands here, or no cluster answers (Slurm's reason).
    """
    result = _run(["sinfo", "-h", "-o", "%P"])
    if result.returncode != 0:
        raise SlurmError(f"sinfo cannot reach a cluster: {plain_reason(result.stderr)}")
    names = result.stdout.split()
    return sorted((name.rstrip("*") for name in names), key=lambda n: f"{n}*" not in names)


def time_limits() -> dict[str, str]:
    """Each partition's longest time limit as `sinfo` says it ("4:00:00", "infinite" …); empty
    when it cannot be asked."""
    try:
        result = _run(["sinfo", "-h", "-o", "%P|%l"])
    except SlurmError:
        return {}
    pairs = (line.split("|", 1) for line in result.stdout.splitlines() if "|" in line)
    return {name.rstrip("*"): limit.strip() for name, limit in pairs}


def default_time_limit(partition: str, fallback: str = "24:00:00") -> str:
    """The time limit to offer for `partition`: its own maximum when it has one, else `fallback`
    (a job asking for more than the partition allows would wait forever)."""
    limit = time_limits().get(partition, "")
    return limit if limit and limit not in ("infinite", "n/a") else fallback


def run_dir_problem(run_dir: Path, nodes: list[str]) -> str:
    """Why the cluster's nodes may not see `run_dir`, with the fix; "" when they can.

    A folder on this machine's own disk (/tmp, /dev/shm …) is only visible to a node that is this
    machine; everything else is taken as shared (home, /scratch, NFS), as clusters set them up.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_absolute() or not run_dir.is_dir():
        return f"run directory {run_dir} does not exist here: create the run first"
    here = socket.gethostname().split(".")[0]
    local = str(run_dir.resolve()).startswith(tuple(f"{root}/" for root in NODE_LOCAL))
    if local and any(node != here for node in nodes):
        return (
            f"run directory {run_dir} is on this machine's own disk, which the cluster's nodes "
            "cannot see: set the studio's data folder (STUDIO_DATA) to a shared path "
            "such as your home or /scratch folder"
        )
    return ""


def submit(run_dir: Path, options: SlurmOptions | None = None, resume: str | None = None) -> str:
    """Write `train.sbatch` into the run directory and submit it with sbatch.

    Args:
        run_dir: a run directory made by `core.runs.create_run`, on a path the nodes share.
        options: partition, GPUs, time limit …; default: a CPU job on the default partition.
        resume: "latest" or a checkpoint path: continue the run (after a time limit or a Stop).

    Returns:
        Slurm's job id; it is also kept in the run directory's slurm.json.

    Raises:
        SlurmError: bad options, no Slurm here, a folder the nodes cannot see, an adapter to
            start from that does not fit the run (it would fail only once the job starts on a
            node, after its wait in the queue), or the cluster refused the job (Slurm's reason).
            The run directory keeps everything, status says why.
    """
    from core.train.preflight import start_adapter_problem

    options = options or SlurmOptions()
    run_dir = Path(run_dir).resolve()
    problem = "; ".join(options.problems()) or unavailable_reason()
    problem = problem or run_dir_problem(run_dir, cluster_nodes())
    if problem:
        raise SlurmError(problem)
    config = runs.read_config(run_dir)
    if problem := start_adapter_problem(config):
        raise SlurmError(problem)
    script = sbatch_script(
        config, str(run_dir / runs.CONFIG_FILE), options, str(run_dir / "slurm-%j.out")
    )
    (run_dir / SBATCH_FILE).write_text(script)
    return _sbatch(run_dir, resume)


def resubmit(run_dir: Path, resume: str = "latest") -> str:
    """Submit the run's own train.sbatch again (same partition, GPUs, time limit), continuing
    from `resume`: Resume after a time limit or a Stop.

    Raises:
        SlurmError: no script in the run directory, no Slurm here, or the cluster refused it.
    """
    run_dir = Path(run_dir).resolve()
    if not (run_dir / SBATCH_FILE).exists():
        raise SlurmError(f"{run_dir} has no {SBATCH_FILE}: it was not submitted to Slurm")
    return _sbatch(run_dir, resume)


def _sbatch(run_dir: Path, resume: str | None) -> str:
    argv = ["sbatch", "--parsable", SBATCH_FILE] + (["--resume", resume] if resume else [])
    result = _run(argv, cwd=run_dir)
    if result.returncode != 0:
        reason = plain_reason(result.stderr)
        runs.write_status(run_dir, state="failed", message=f"The cluster refused the job: {reason}")
        raise SlurmError(f"the cluster refused the job: {reason}")
    job_id = result.stdout.strip().split(";")[0]
    runs.write_json_atomic(
        run_dir / SLURM_FILE, {"job_id": job_id, "submitted": time.time(), "script": SBATCH_FILE}
    )
    # A new job has been asked nothing: an earlier job's Stop (`stop_requested`) would otherwise
    # get this one cancelled by `refresh` once the grace time has passed since that old Stop.
    runs.write_status(
        run_dir,
        state="queued",
        message=f"Submitted to Slurm as job {job_id}",
        slurm_job=job_id,
        stop_requested=None,
    )
    return job_id


def job_id_of(run_dir: Path) -> str:
    """The Slurm job id of a cluster run, or "" for a local one."""
    try:
        return json.loads((Path(run_dir) / SLURM_FILE).read_text())["job_id"]
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return ""


def job_state(job_id: str) -> JobState:
    """Slurm's state of the job and its reason: squeue while Slurm holds it, then sacct.

    Raises:
        SlurmError: no Slurm commands here, or the cluster did not answer.
    """
    result = _run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T|%r"])
    line = result.stdout.strip() if result.returncode == 0 else ""
    if not line:
        result = _run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State,Reason"])
        line = result.stdout.strip().splitlines()[0] if result.returncode == 0 else ""
    if not line:
        return JobState("UNKNOWN", "Slurm no longer lists the job (and keeps no accounting)")
    state, _, reason = line.partition("|")
    state = state.split()[0]  # sacct says "CANCELLED by 0"
    return JobState(state, "" if reason in ("None", "") else reason)


def stop(job_id: str, grace_s: float = 60.0) -> JobState:
    """Stop a job the way the time limit does: SIGTERM to its job steps (torchrun passes it to
    the trainer, which saves its adapter and exits), then, if it still runs after `grace_s`,
    cancel it. Not `--full`: srun, in the batch shell, takes SIGTERM as "kill the step now".

    Returns:
        The job's state afterwards.
    """
    state = job_state(job_id)
    if state.state == "RUNNING":
        _run(["scancel", "--signal=TERM", job_id])
        deadline = time.monotonic() + grace_s
        while state.active and state.state != "PENDING" and time.monotonic() < deadline:
            time.sleep(1)
            state = job_state(job_id)
    if state.active:
        _run(["scancel", job_id])
        state = job_state(job_id)
    return state


def refresh(run_dir: Path, grace_s: float = 60.0) -> dict:
    """The run's status with Slurm's view merged in (`slurm_state`, `slurm_reason`).

    A job that Slurm ended before the trainer could say so (cancelled while pending, killed at
    the time limit, a node failure) gets its end written to status.json, with Slurm's reason; a
    job still running `grace_s` after `request_stop` is cancelled. Never raises: when Slurm
    cannot be asked, `slurm_reason` says why and status.json is left as it is.
    """
    job_id = job_id_of(run_dir)
    status = runs.read_status(run_dir)
    if not job_id:
        return status
    try:
        state = job_state(job_id)
        asked = status.get("stop_requested")
        if state.active and asked and time.time() - asked > grace_s:
            _run(["scancel", job_id])
    except SlurmError as err:
        return {**status, "slurm_state": "UNKNOWN", "slurm_reason": str(err)}
    changes = {"slurm_state": state.state, "slurm_reason": state.reason}
    if state.active and status.get("state") == "queued":  # the trainer has not started yet
        why = f" ({state.reason})" if state.reason else ""
        changes["message"] = f"Slurm job {job_id}: {state.state}{why}"
    ended_early = state.state not in ("COMPLETED", "UNKNOWN")
    if not state.active and ended_early and status.get("state") in runs.ACTIVE_STATES:
        stopped = state.state in ("CANCELLED", "TIMEOUT") or bool(status.get("stop_requested"))
        why = f" ({state.reason})" if state.reason else ""
        changes.update(
            state="stopped" if stopped else "failed",
            message=f"Slurm ended job {job_id}: {state.state}{why}. The log has the details.",
        )
    return runs.write_status(run_dir, **changes)


def request_stop(run_dir: Path) -> bool:
    """Stop from the page without waiting: SIGTERM to a running job (the trainer saves its
    adapter; `refresh` cancels it if it still runs after the grace time), cancel a pending one.

    Returns:
        False when the run has no job Slurm still holds (or Slurm cannot be asked).
    """
    job_id = job_id_of(run_dir)
    try:
        state = job_state(job_id) if job_id else JobState("UNKNOWN")
        if not state.active:
            return False
        running = state.state == "RUNNING"
        _run(["scancel", "--signal=TERM", job_id] if running else ["scancel", job_id])
    except SlurmError:
        return False
    message = "Stopping: saving the adapter as of this step" if running else "Cancelling"
    runs.write_status(run_dir, state="stopping", message=message, stop_requested=time.time())
    return True


def list_jobs() -> list[dict]:
    """The studio's jobs on the cluster (this user's, queued or recent): id, name, state, reason,
    elapsed time and the folder they were submitted from (the run directory)."""
    fields = ("job_id", "name", "state", "reason", "elapsed", "run_dir")
    result = _run(["squeue", "-h", "-t", "all", "-u", getpass.getuser(), "-o", "%i|%j|%T|%r|%M|%Z"])
    if result.returncode != 0:
        raise SlurmError(f"squeue failed: {plain_reason(result.stderr)}")
    lines = [line.split("|", 5) for line in result.stdout.splitlines()]
    jobs = [dict(zip(fields, parts, strict=True)) for parts in lines if len(parts) == len(fields)]
    return [job for job in jobs if job.get("name", "").startswith(JOB_PREFIX)]
