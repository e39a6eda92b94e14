"""The Slurm batch script that runs one `RunConfig`, and the cluster options it is written from.

The script asks for GPUs only when the run uses them (a CPU Slurm, or one without GPU GRES,
rejects `--gpus-per-node` with "Invalid generic resource (gres) specification"), and it does not
depend on the shell that submits it: it changes to the code folder and activates the virtualenv
it names. `--signal=TERM@N` gives the trainer N seconds before the time limit to save its adapter
(core/train/stop.py), and the batch shell ignores SIGTERM so a Stop never ends the job under it.

    sbatch train.sbatch        # from any folder
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from core.launch.batch import global_batch_size
from core.settings import RunConfig

SBATCH_FILE = "train.sbatch"
CODE_DIR = Path(__file__).resolve().parents[2]
TIME_LIMIT = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$|^(\d+-)?\d+$")


@dataclass(frozen=True)
class SlurmOptions:
    """Where and how a run goes on the cluster: the `#SBATCH` lines' values."""

    partition: str = ""  # empty: the cluster's default partition
    account: str = ""  # empty: the user's default account
    time_limit: str = "24:00:00"  # Slurm's forms: MM, HH:MM:SS, D-HH:MM:SS
    gpus_per_node: int = 0  # 0: a CPU run, no GPU GRES asked for
    gpu_type: str = ""  # GRES type (e.g. "a100"), when the cluster names its GPUs
    stop_grace_s: int = 60  # SIGTERM this long before the time limit, so the adapter is saved
    extra_lines: tuple[str, ...] = ()  # more `#SBATCH` options, e.g. "--qos=high"
    code_dir: str = ""  # empty: this checkout of the studio
    venv: str = ""  # empty: the virtualenv running the studio now, if any

    def problems(self) -> list[str]:
        """What is wrong with these options, one line each (empty when they can be used)."""
        found = []
        if not TIME_LIMIT.match(self.time_limit.strip()):
            found.append(
                f"time limit {self.time_limit!r}: use Slurm's form, e.g. 90 (minutes), "
                "04:00:00 or 2-00:00:00"
            )
        if self.gpus_per_node < 0:
            found.append(f"GPUs per node {self.gpus_per_node}: use 0 (CPU) or more")
        if self.gpu_type and not re.fullmatch(r"[\w.-]+", self.gpu_type):
            found.append(f"GPU type {self.gpu_type!r}: one GRES type name, e.g. a100")
        for line in self.extra_lines:
            if not _sbatch_option(line).startswith("--") or "\n" in line:
                found.append(f"extra line {line!r}: one sbatch option, e.g. --qos=high")
        return found


def _sbatch_option(line: str) -> str:
    return line.strip().removeprefix("#SBATCH").strip()


def default_venv() -> str:
    """The virtualenv this Python runs in, or "" when it is a system Python."""
    return sys.prefix if sys.prefix != sys.base_prefix else ""


def _directives(config: RunConfig, options: SlurmOptions, output: str) -> list[str]:
    parallel = config.parallel
    lines = [
        f"--job-name=fs-{re.sub(r'[^A-Za-z0-9_-]+', '-', config.name or 'run')[:40]}",
        f"--nodes={parallel.nodes}",
        "--ntasks-per-node=1",
    ]
    if options.gpus_per_node:
        gres = f"{options.gpu_type}:" if options.gpu_type else ""
        lines.append(f"--gpus-per-node={gres}{options.gpus_per_node}")
    else:  # a CPU run: one core per process
        lines.append(f"--cpus-per-task={parallel.processes_per_node}")
    lines += [f"--time={options.time_limit}", f"--signal=TERM@{options.stop_grace_s}"]
    lines.append(f"--output={output}")
    if options.partition:
        lines.append(f"--partition={options.partition}")
    if options.account:
        lines.append(f"--account={options.account}")
    lines += [_sbatch_option(line) for line in options.extra_lines]
    return [f"#SBATCH {line}" for line in lines]


def _environment(options: SlurmOptions) -> list[str]:
    code_dir = options.code_dir or str(CODE_DIR)
    lines = [f"cd {shlex.quote(code_dir)}"]
    venv = options.venv or default_venv()
    if venv:
        lines.append(f"source {shlex.quote(str(Path(venv) / 'bin' / 'activate'))}")
    return lines


def sbatch_script(
    config: RunConfig,
    config_path: str = "config.yaml",
    options: SlurmOptions | None = None,
    output: str = "%x-%j.out",
) -> str:
    """A Slurm batch script: one srun task per node, each running torchrun with c10d rendezvous on
    the first node of the allocation (so the same script works on any nodes Slurm picks).

    Args:
        config: the run's settings (nodes × processes per node).
        config_path: the run's config.yaml; give an absolute path for a script submitted anywhere.
        options: partition, GPUs, time limit, code folder and venv; default: a CPU run.
        output: where Slurm writes the job's output (`%j` is the job id).
    """
    options = options or SlurmOptions()
    parallel = config.parallel
    ppn = parallel.processes_per_node
    kind = f"{options.gpus_per_node} GPU(s)" if options.gpus_per_node else "CPU"
    directives = "\n".join(_directives(config, options, output))
    environment = "\n".join(_environment(options))
    return f"""#!/bin/bash
# Finetune Studio run '{config.name or "run"}': {parallel.nodes} node(s) x {ppn} process(es), \
{kind} per node, strategy {parallel.strategy}, global batch {global_batch_size(config)}.
# Submit from any folder:  sbatch {SBATCH_FILE}
{directives}
set -euo pipefail
{environment}

# One torchrun per node (ntasks-per-node=1) starts the {ppn} processes; all of them meet at a c10d
# rendezvous on the first node of the allocation.
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export OMP_NUM_THREADS=${{OMP_NUM_THREADS:-1}} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

srun torchrun \\
  --nnodes "$SLURM_NNODES" \\
  --nproc_per_node {ppn} \\
  --rdzv_id "$SLURM_JOB_ID" \\
  --rdzv_backend c10d \\
  --rdzv_endpoint "$head_node:{parallel.master_port}" \\
  -m core.train --config {shlex.quote(config_path)} "$@" &
training=$!
# Stop (scancel --signal=TERM) and the time limit (--signal) reach training, which saves its
# adapter and exits; this shell waits for it instead of ending the job under it.
trap '' TERM
wait "$training"
"""
