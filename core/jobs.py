"""Start, queue, stop and reattach to training processes.

A job is a run directory plus a small supervisor process (`python -m core.jobs RUN_DIR`) in its own
process group. The supervisor waits for the device, one job at a time per runs folder (an flock,
released by the OS even if a job dies), then runs `python -m core.train --config ...` (or a
distributed launcher around it) and waits for it. Stop signals the whole group, so it reaches every
rank; a job still waiting is cancelled. The UI never holds a process: reloading the page finds the
job again from the run directory's status.json.

Each process is recorded by identity (pid and start time, psutil), and Stop signals a group only
while a recorded process with that identity still lives: a pid reused after a restart is never
signalled, and its job is marked "lost" with the reason. The trainer inherits the device lock, so
the queue waits for it even when its supervisor was killed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

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
    with open(run_dir / runs.LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.jobs", str(run_dir)],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_job_env(),
            start_new_session=True,
        )
    _children[process.pid] = process
    # supervisor_pid leads the job's process group; the trainer records its own pid as "pid".
    runs.write_status(
        run_dir,
        pid=process.pid,
        supervisor_pid=process.pid,
        supervisor_created=process_created(process.pid),
    )
    return run_dir


def _job_env() -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def process_created(pid: int) -> float | None:
    """The process's start time (epoch seconds, psutil): with the pid, its identity."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def same_process(pid: int | None, created: float | None) -> bool:
    """True while the process `pid` runs and is the one that started at `created`."""
    if not pid or created is None:
        return False
    try:
        process = psutil.Process(pid)
        return (
            abs(process.create_time() - created) < 0.05 and process.status() != psutil.STATUS_ZOMBIE
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


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
    runs.device_lock(run_dir).parent.mkdir(parents=True, exist_ok=True)
    with open(runs.device_lock(run_dir), "w") as lock:
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
        # The trainer inherits the locked file: the device stays taken until the trainer ends,
        # even if this supervisor is killed (else the next queued job would start beside it).
        trainer = subprocess.Popen(argv, cwd=PROJECT_ROOT, pass_fds=(lock.fileno(),))
        _write_quietly(
            run_dir, trainer_pid=trainer.pid, trainer_created=process_created(trainer.pid)
        )
        code = trainer.wait()
    return _finish(run_dir, code)


def _write_quietly(run_dir: Path, **changes) -> dict | None:
    """write_status that reports a full or read-only disk in the log instead of raising."""
    try:
        return runs.write_status(run_dir, **changes)
    except OSError as err:
        print(f"could not update {runs.STATUS_FILE}: {err}", flush=True)
        return None


def _finish(run_dir: Path, code: int) -> int:
    """Record how the trainer ended, where it did not say so itself."""
    final = runs.read_status(run_dir)
    if final.get("state") == "stopping" and code in (-signal.SIGTERM, 128 + signal.SIGTERM):
        _write_quietly(run_dir, state="stopped", message="Stopped before training began.")
        return code
    if final.get("state") in runs.ACTIVE_STATES:
        _write_quietly(run_dir, state="failed", message=failure_reason(run_dir, code))
    return code


def failure_reason(run_dir: Path, code: int | None = None) -> str:
    """Why a trainer ended without saying so: a full disk when it is full, else a kill or OOM."""
    exit_text = f" (exit code {code})" if code is not None else ""
    if disk_full(run_dir):
        return (
            f"The training process ended{exit_text} because the disk where runs are saved is "
            "full. Free some space (old runs' checkpoints/ folders are the largest), then resume "
            "from the latest checkpoint on the Jobs page."
        )
    return (
        f"The training process ended without finishing{exit_text}: killed, or out of memory. "
        "The log below shows its last lines."
    )


def disk_full(run_dir: Path, min_free: int = 64 * 2**20) -> bool:
    """True when the run's disk has under `min_free` bytes left, or the log says it ran out."""
    try:
        if shutil.disk_usage(run_dir).free < min_free:
            return True
    except OSError:
        return False
    return "No space left on device" in runs.tail_log(run_dir, 40)


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
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def live_process(status: dict) -> int | None:
    """The pid of a live process of this job whose identity matches the record, else None.

    The supervisor first, then the trainer (it goes on when its supervisor was killed). Runs
    recorded before identities were kept fall back to the pid alone.
    """
    for role in ("supervisor", "trainer"):
        pid, created = status.get(f"{role}_pid"), status.get(f"{role}_created")
        if created is None and pid and role == "supervisor":
            child = _children.get(pid)
            if child is not None and child.poll() is None:
                return pid
        elif same_process(pid, created):
            return pid
    if "supervisor_created" not in status and is_alive(job_pid(status)):
        return job_pid(status)
    return None


def lost_reason(status: dict) -> str | None:
    """Why a job is lost: a recorded pid now belongs to another process (None when not so)."""
    for role in ("supervisor", "trainer"):
        pid, created = status.get(f"{role}_pid"), status.get(f"{role}_created")
        if pid and created is not None and is_alive(pid) and not same_process(pid, created):
            return (
                f"Lost: the job's {role} (pid {pid}) is gone and that pid now belongs to another "
                "process (the machine or the app restarted?), so it is not signalled. The log "
                "below shows how far training got."
            )
    return None


def refresh_status(run_dir: Path) -> dict:
    """The run's status; a run whose processes died without saying so is marked failed or lost.

    Reading never fails on a full disk: the verdict is returned even when it cannot be saved.
    """
    if (Path(run_dir) / "slurm.json").exists():  # a cluster run: Slurm knows whether it runs
        from core.cluster.slurm import refresh

        return refresh(run_dir)
    status = runs.read_status(run_dir)
    for child in list(_children.values()):
        child.poll()  # reap finished supervisors, so none lingers as a zombie
    just_queued = job_pid(status) is None and time.time() - status.get("updated", 0) < 30
    if status.get("state") not in runs.ACTIVE_STATES or just_queued or live_process(status):
        return status
    time.sleep(0.2)  # the process may have written its final status just now
    status = runs.read_status(run_dir)
    if status.get("state") not in runs.ACTIVE_STATES:
        return status
    reason = lost_reason(status)
    verdict = {
        "state": "lost" if reason else "failed",
        "message": reason or failure_reason(run_dir),
    }
    try:
        return runs.write_status(run_dir, **verdict)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            verdict["message"] += f" (could not be saved: {err.strerror})"
        return {**status, **verdict}


def stop_job(run_dir: Path) -> bool:
    """Ask the job to stop: it saves the adapter as of the current step, then exits.

    Only a process whose pid and start time match the record is signalled (its whole group).

    Returns:
        False when no live process belongs to the run (the job is then marked failed or lost).
    """
    if (Path(run_dir) / "slurm.json").exists():
        from core.cluster.slurm import request_stop

        return request_stop(run_dir)
    status = runs.read_status(run_dir)
    pid = live_process(status) if status.get("state") in runs.ACTIVE_STATES else None
    if pid is None:
        refresh_status(run_dir)
        return False
    group = status.get("supervisor_pid") or pid
    try:
        if os.getpgid(pid) != group and status.get("supervisor_created") is not None:
            return False  # not in the job's group any more: never signal a stranger's group
    except ProcessLookupError:
        return False
    waiting = status.get("state") == "queued"
    _write_quietly(
        run_dir,
        state="stopping",
        message="Cancelling" if waiting else "Stopping: saving the adapter as of this step",
    )
    try:
        os.killpg(group, signal.SIGTERM)
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
