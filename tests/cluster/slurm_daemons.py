"""A real one-node Slurm on this machine, for the `slurm` tests: munged, slurmctld and slurmd.

Needs Debian's `slurm-wlm` and `munge` (`bash .ci/setup --test` installs them) and root: the
daemons run as root on loopback, without systemd, each with its files under one folder, so
nothing in /etc is touched and two test sessions never share a cluster. Clients (sbatch, squeue,
scancel) find it through the SLURM_CONF variable that `SlurmDaemons.env` holds.

    python -m tests.cluster.slurm_daemons /tmp/slurm-here   # start one by hand; Ctrl-C stops it
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo")
PARTITION = "studio"
START_TIMEOUT_S = 40


def missing_programs() -> list[str]:
    """The daemons and clients that are not installed (empty when Slurm can start here)."""
    found = {name: shutil.which(name) or _sbin(name) for name in DAEMONS + CLIENTS}
    return [name for name, path in found.items() if not path]


def _sbin(name: str) -> str | None:
    path = Path("/usr/sbin") / name
    return str(path) if path.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def slurm_conf(root: Path, node: str) -> str:
    """A one-node slurm.conf for this machine: its CPUs and memory, loopback, no cgroups."""
    ctld_port, slurmd_port = _free_port(), _free_port()
    return f"""ClusterName=studio
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs stay visible to squeue for 5 minutes (there is no accounting database here).
MinJobAge=300
# Seconds between the SIGTERM of a cancel and the SIGKILL: the time the trainer has to save.
KillWait=20
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={node} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={_memory_mb() * 3 // 4} \
State=UNKNOWN
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class SlurmDaemons:
    """A running one-node cluster; `stop()` ends every daemon it started."""

    root: Path
    node: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.root / "slurm.conf")}

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of each daemon's log, for a failure message."""
        out = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log"):
            path = self.root / name
            if path.exists():
                out.append(f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-lines:]))
        return "\n".join(out)

    def stop(self) -> None:
        """Cancel every job and wait (up to KillWait and a little) until none is left, so no
        job process outlives the cluster; then stop the daemons (TERM, then KILL after 10 s)."""
        if all(process.poll() is None for process in self.processes):
            self._cancel_jobs()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def _cancel_jobs(self, timeout: float = 30.0) -> None:
        try:
            subprocess.run(["scancel", "--partition", PARTITION], env=self.env, timeout=10)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                left = subprocess.run(
                    ["squeue", "-h", "-t", "PD,R,CG,S"],
                    env=self.env,
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                if left.returncode == 0 and not left.stdout.strip():
                    return
                time.sleep(0.5)
        except subprocess.TimeoutExpired:
            return


def _start(daemons: SlurmDaemons, argv: list[str], log: str) -> None:
    out = open(daemons.root / log, "ab")
    daemons.processes.append(
        subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=daemons.env)
    )


def _wait_idle(daemons: SlurmDaemons, deadline: float) -> None:
    while time.monotonic() < deadline:
        dead = [p.args[0] for p in daemons.processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{dead} exited at start\n{daemons.log_tail()}")
        result = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%t"],
            env=daemons.env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if result.stdout.strip() == "idle":
            return
        time.sleep(0.5)
    raise RuntimeError(f"the node was not idle after {START_TIMEOUT_S} s\n{daemons.log_tail()}")


def start_slurm(root: Path) -> SlurmDaemons:
    """Start munged, slurmctld and slurmd (foreground, as root) and wait until the node is idle.

    Raises:
        RuntimeError: a daemon exited or the node did not come up; the logs' tails say why.
    """
    root = Path(root).resolve()
    for folder in ("state", "spool"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    node = socket.gethostname().split(".")[0]
    (root / "slurm.conf").write_text(slurm_conf(root, node))
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    daemons = SlurmDaemons(root, node)
    munged = shutil.which("munged") or _sbin("munged")
    _start(
        daemons,
        [
            munged,
            "-F",
            "-f",
            f"--socket={root}/munge.socket",
            f"--key-file={key}",
            f"--pid-file={root}/munged.pid",
            f"--seed-file={root}/munged.seed",
            f"--log-file={root}/munged.log",
        ],
        "munged.out",
    )
    conf = str(root / "slurm.conf")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (root / "munge.socket").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        _start(
            daemons,
            [shutil.which("slurmctld") or _sbin("slurmctld"), "-D", "-i", "-f", conf],
            "slurmctld.out",
        )
        _start(
            daemons,
            [shutil.which("slurmd") or _sbin("slurmd"), "-D", "-f", conf, "-N", node],
            "slurmd.out",
        )
        _wait_idle(daemons, deadline)
    except BaseException:
        daemons.stop()
        raise
    return daemons


if __name__ == "__main__":
    cluster = start_slurm(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/studio-slurm"))
    print(f"Slurm is up: export SLURM_CONF={cluster.root}/slurm.conf   (Ctrl-C stops it)")
    try:
        signal.pause()
    finally:
        cluster.stop()
