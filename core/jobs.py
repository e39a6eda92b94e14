"""Start, queue, stop and reattach to training processes.

A job is a run directory plus a small supervisor process (`python -m core.jobs RUN_DIR`) in its own
process group. The supervisor waits for the device, one job at a time per runs folder (an flock,
released by the OS even if a job dies), then runs `python -m core.train --config ...` (or a
distributed launcher around it) and waits for it. Stop signals the whole group, so it reaches every
rank; a job still waiting is cancelled. The UI never holds a process: reloading the page finds the
job again from the run directory's status.json.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core import runs
from core.settings import RunConfig

# Popen objects of the jobs this server started; polling them reaps finished children.
_children: dict[int, subprocess.Popen] = {}

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def train_command(config_path: Path, config: RunConfig) -> list[str]:
    """The argv that trains this config: one process, or a launcher for several."""
    if config.parallel.world_size > 1:
        from core.launch.local import launch_command

        return launch_command(config, config_path)
    return [sys.executable, "-m", "core.train", "--config", str(config_path)]


def with_fingerprint(config: RunConfig) -> RunConfig:
    """The config with the fingerprint of the data as it is now, so every run records exactly
    which data it used (recomputed: a file can change, an opened config can carry an old one)."""
    if not config.data.path or not Path(config.data.path).exists():
        return config
    from core.data.lineage import data_fingerprint

    return config.replace(data={"fingerprint": data_fingerprint(config.data.path)})


def start_job(
    config: RunConfig,
    root: Path | None = None,
    resume: str | None = None,
    run_dir: Path | None = None,
) -> Path:
    """Write the config into a new run directory and start training it in the background.

    Args:
        config: what to train.
        root: where run directories live (default: the data root's runs/).
        resume: "latest" or a checkpoint path, to continue an existing run (needs run_dir).
        run_dir: an existing run directory to resume.

    Returns:
        The run directory; status.json there says how the job is going.
    """
    run_dir = Path(run_dir) if run_dir else runs.create_run(with_fingerprint(config), root)
    config_path = run_dir / runs.CONFIG_FILE
    argv = train_command(config_path, config)
    if resume:
        argv += ["--resume", resume]
    runs.write_status(
        run_dir, state="queued", message="Waiting for the device", command=argv, queued=time.time()
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    with open(run_dir / runs.LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.jobs", str(run_dir)],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    _children[process.pid] = process
    # supervisor_pid leads the job's process group; the trainer records its own pid as "pid".
    runs.write_status(run_dir, pid=process.pid, supervisor_pid=process.pid)
    return run_dir


class _Cancelled(Exception):
    pass


def _cancel(signum, frame):
    raise _Cancelled


def supervise(run_dir: Path) -> int:
    """Wait for the device, run the job's command, wait for it; return its exit code."""
    run_dir = Path(run_dir)
    argv = runs.read_status(run_dir)["command"]
    signal.signal(signal.SIGTERM, _cancel)
    signal.signal(signal.SIGINT, _cancel)
    with open(run_dir.parent / ".device.lock", "w") as lock:
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                runs.write_status(run_dir, message="Queued: waits for the running job to finish")
                print("queued: waiting for the running job to finish", flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
        except _Cancelled:
            runs.write_status(run_dir, state="stopped", message="Cancelled before it started")
            return 0
        # From here Stop reaches the trainer, or the launcher (torchrun, accelerate), through our
        # process group; a launcher passes it on to its workers' own sessions. We just wait.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: None)
        runs.write_status(
            run_dir, state="starting", message="Starting the training process", started=time.time()
        )
        print(f"$ {' '.join(argv)}", flush=True)
        code = subprocess.call(argv, cwd=PROJECT_ROOT)
    final = runs.read_status(run_dir)
    if final.get("state") == "stopping" and code in (-signal.SIGTERM, 128 + signal.SIGTERM):
        runs.write_status(run_dir, state="stopped", message="Stopped before training began.")
        return code
    if runs.read_status(run_dir).get("state") in runs.ACTIVE_STATES:
        runs.write_status(
            run_dir,
            state="failed",
            message=(
                f"The training process ended without finishing (exit code {code}: killed, or out of "
                "memory). The log below shows its last lines."
            ),
        )
    return code


def job_pid(status: dict) -> int | None:
    """The process that owns the job: its supervisor (older runs: the trainer)."""
    return status.get("supervisor_pid") or status.get("pid")


def is_alive(pid: int | None) -> bool:
    """True while the process runs (a finished child of ours is reaped, not counted)."""
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not running
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def refresh_status(run_dir: Path) -> dict:
    """The run's status; a run whose process died without saying so is marked failed."""
    if (Path(run_dir) / "slurm.json").exists():  # a cluster run: Slurm knows whether it runs
        from core.cluster.slurm import refresh

        return refresh(run_dir)
    status = runs.read_status(run_dir)
    for child in list(_children.values()):
        child.poll()  # reap finished supervisors, so none lingers as a zombie
    pid = job_pid(status)
    just_queued = pid is None and time.time() - status.get("updated", 0) < 30
    if status.get("state") in runs.ACTIVE_STATES and not just_queued and not is_alive(pid):
        time.sleep(0.2)  # the process may have written its final status just now
        status = runs.read_status(run_dir)
        if status.get("state") in runs.ACTIVE_STATES:
            status = runs.write_status(
                run_dir,
                state="failed",
                message="The training process ended without finishing (killed, or out of memory). "
                "The log below shows its last lines.",
            )
    return status


def stop_job(run_dir: Path) -> bool:
    """Ask the job to stop: it saves the adapter as of the current step, then exits.

    Returns:
        False when no live process belongs to the run.
    """
    if (Path(run_dir) / "slurm.json").exists():
        from core.cluster.slurm import request_stop

        return request_stop(run_dir)
    status = runs.read_status(run_dir)
    pid = job_pid(status)
    if status.get("state") not in runs.ACTIVE_STATES or not is_alive(pid):
        return False
    waiting = status.get("state") == "queued"
    runs.write_status(
        run_dir,
        state="stopping",
        message="Cancelling" if waiting else "Stopping: saving the adapter as of this step",
    )
    try:
        os.killpg(os.getpgid(pid), signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def active_run(root: Path | None = None) -> Path | None:
    """The newest run that is queued, starting, running or stopping (to reattach after a reload)."""
    for run_dir in runs.list_runs(root):
        if refresh_status(run_dir).get("state") in runs.ACTIVE_STATES:
            return run_dir
    return None


def wait_for(run_dir: Path, timeout: float = 300.0, poll: float = 0.5) -> dict:
    """Block until the job reaches a final state (for tests and the command line)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = refresh_status(run_dir)
        if status.get("state") in runs.FINAL_STATES:
            return status
        time.sleep(poll)
    raise TimeoutError(f"The job in {run_dir} did not finish within {timeout:.0f} s")


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1])))
