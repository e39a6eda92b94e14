"""A job that reaches its time limit on the real one-node Slurm saves a checkpoint (Slurm's own
`--signal=TERM@60`, not a Stop), and Resume resubmits its script and continues from there.

Slurm's shortest limit is a minute and it sends `--signal` on its 30-second housekeeping tick
(up to 60 s early), so the test shortens the running job's limit with `scontrol update` once it
trains: the warning is then due at once and arrives within one tick.
"""

from __future__ import annotations

import math
import re
import subprocess
import time

import pytest

from core import jobs, runs
from core.cluster import slurm
from core.cluster.sbatch import SBATCH_FILE
from tests.cluster.test_slurm import JOB_TIMEOUT_S, _job_end, _run_dir, _why

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _wait_for_step(run_dir, job_id: str, step: int) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while runs.read_status(run_dir).get("step", 0) < step and time.monotonic() < deadline:
        assert slurm.job_state(job_id).active, _why(run_dir)
        time.sleep(0.5)
    assert runs.read_status(run_dir).get("step", 0) >= step, _why(run_dir)


def test_time_limit_leaves_a_checkpoint_that_resume_continues(slurm_cluster, tiny_bert, tmp_path):
    # Far more steps than the limit allows: 200 epochs took 37 s on an idle machine, less than
    # Slurm's 30-second tick may need to send the warning, so the run would complete first.
    run_dir = _run_dir(tmp_path, tiny_bert, epochs=1000.0)  # the schema's most: ~3 min idle
    config = runs.read_config(run_dir)
    config.replace(training={"logging_steps": 1}).save(run_dir / runs.CONFIG_FILE)
    submitted = time.monotonic()
    job_id = slurm.submit(run_dir)
    assert "#SBATCH --signal=TERM@60" in (run_dir / SBATCH_FILE).read_text()
    _wait_for_step(run_dir, job_id, 2)
    minutes = math.ceil((time.monotonic() - submitted) / 60) + 1  # ends within 2 minutes
    subprocess.run(
        ["scontrol", "update", f"JobId={job_id}", f"TimeLimit={minutes}"], check=True, timeout=30
    )
    status = jobs.wait_for(run_dir, timeout=JOB_TIMEOUT_S)
    assert status["state"] == "stopped", _why(run_dir)
    assert not status.get("stop_requested")  # Slurm's warning stopped it, not the Stop button
    assert status["message"].startswith("Stopped before Slurm's time limit at step"), status
    stopped_at = status["step"]
    assert 2 <= stopped_at < status["total_steps"]
    saved = [
        int(p.name.split("-")[1]) for p in (run_dir / runs.CHECKPOINT_DIR).glob("checkpoint-*")
    ]
    assert saved and max(saved) >= 2, _why(run_dir)
    assert (run_dir / runs.ADAPTER_DIR / "adapter_model.safetensors").exists()
    assert not _job_end(job_id).active  # (FAILED: torchrun exits 1 after passing on SIGTERM)

    resumed = slurm.resubmit(run_dir)  # the Jobs page's Resume: the same script, --resume latest
    assert resumed != job_id and slurm.job_id_of(run_dir) == resumed
    _wait_for_step(run_dir, resumed, stopped_at + 1)
    assert slurm.request_stop(run_dir)  # continuing is shown; no need to train to the end
    status = jobs.wait_for(run_dir, timeout=JOB_TIMEOUT_S)
    assert status["state"] == "stopped", _why(run_dir)
    assert status["message"].startswith("Stopped by you at step"), status
    log = (run_dir / f"slurm-{resumed}.out").read_text()
    logged = [int(step) for step in re.findall(r"\[step (\d+)/", log)]
    assert logged and logged[0] == max(saved) + 1, log[-2000:]  # from the checkpoint, not step 1
    _job_end(resumed)
