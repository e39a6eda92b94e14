"""Bad input around Slurm that needs no cluster: no sbatch here, a folder the nodes cannot see,
Slurm's error lines in plain words."""

import socket
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import runs
from core.cluster import slurm
from core.settings import RunConfig

EXPERTS_PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "experts.py")


def open_experts_page(config: RunConfig) -> AppTest:
    at = AppTest.from_file(EXPERTS_PAGE, default_timeout=60)
    at.session_state["config"] = config
    return at.run()


def test_no_sbatch_on_the_path_says_why_and_submits_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    run_dir = runs.create_run(RunConfig(), root=tmp_path)
    assert "no sbatch" in slurm.unavailable_reason()
    with pytest.raises(slurm.SlurmError, match="no sbatch, squeue, scancel on the PATH"):
        slurm.submit(run_dir)
    assert not (run_dir / slurm.SLURM_FILE).exists()
    assert runs.read_status(run_dir)["state"] == "queued"


def test_bad_options_are_refused_before_slurm_is_asked(tmp_path):
    run_dir = runs.create_run(RunConfig(), root=tmp_path)
    with pytest.raises(slurm.SlurmError, match="time limit 'soon'"):
        slurm.submit(run_dir, slurm.SlurmOptions(time_limit="soon"))


def test_a_folder_on_this_machines_disk_is_refused_for_other_nodes(tmp_path):
    here = socket.gethostname().split(".")[0]
    local = tmp_path.resolve()  # pytest's folders live under /tmp
    assert str(local).startswith("/tmp/")
    assert "cannot see" in slurm.run_dir_problem(local, ["gpu-node-01", "gpu-node-02"])
    assert "STUDIO_DATA" in slurm.run_dir_problem(local, ["gpu-node-01"])
    assert slurm.run_dir_problem(local, [here]) == ""  # a one-node cluster on this machine
    assert "does not exist" in slurm.run_dir_problem(local / "missing", [here])


def test_slurm_errors_read_as_plain_words():
    stderr = (
        "sbatch: error: invalid partition specified: gpu\n"
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n"
    )
    assert slurm.plain_reason(stderr) == (
        "invalid partition specified: gpu; Batch job submission failed: "
        "Invalid partition name specified"
    )
    assert slurm.plain_reason("") == "Slurm gave no reason"


def test_a_run_without_a_job_is_left_to_the_local_path(tmp_path):
    run_dir = runs.create_run(RunConfig(), root=tmp_path)
    assert slurm.job_id_of(run_dir) == ""
    assert slurm.refresh(run_dir) == runs.read_status(run_dir)
    assert not slurm.request_stop(run_dir)


def test_experts_page_says_why_slurm_is_unavailable(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("PATH", str(tmp_path))
    at = open_experts_page(RunConfig())
    assert not at.exception
    notes = " ".join(str(info.value) for info in at.info)
    assert "Not available here: no sbatch" in notes
    assert not [b for b in at.button if b.label == "Submit to Slurm"]


def test_experts_page_says_so_when_no_cluster_answers(tmp_path, monkeypatch, data_root):
    """Slurm's commands are here but no cluster is configured: Slurm's own reason is shown."""
    for name in ("sbatch", "squeue", "scancel"):
        (tmp_path / name).write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "sinfo").write_text(  # what Slurm 23 prints on a machine without slurm.conf
        "#!/bin/sh\necho 'sinfo: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown "
        "host' >&2\necho 'sinfo: fatal: Could not establish a configuration source' >&2\nexit 1\n"
    )
    for tool in tmp_path.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    at = open_experts_page(RunConfig())
    assert not at.exception
    notes = " ".join(str(info.value) for info in at.info)
    assert "sinfo cannot reach a cluster: Could not establish a configuration source" in notes
    assert "set SLURM_CONF" in notes and "res_nsearch" not in notes


@pytest.mark.parametrize(
    ("squeue_says", "state_after"),
    [
        ("SIGNALING|None", "running"),  # the time limit's --signal warning being delivered
        ("STAGE_OUT|None", "running"),
        ("COMPLETING|None", "running"),
        ("FAILED|NonZeroExitCode", "failed"),
        ("TIMEOUT|None", "stopped"),
    ],
)
def test_only_an_ended_job_ends_the_run(tmp_path, monkeypatch, squeue_says, state_after):
    """While Slurm still holds the job the trainer writes its own end: a transient state such
    as SIGNALING (seen while the time-limit warning reached a saving trainer) must not mark the
    run failed; a job Slurm really ended does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text(f"#!/bin/sh\necho '{squeue_says}'\n")
    (bin_dir / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    run_dir = runs.create_run(RunConfig(), root=tmp_path / "runs")
    (run_dir / slurm.SLURM_FILE).write_text('{"job_id": "42"}')
    runs.write_status(run_dir, state="running", step=3)
    status = slurm.refresh(run_dir)
    assert status["slurm_state"] == squeue_says.split("|")[0]
    assert status["state"] == state_after
    assert runs.read_status(run_dir)["state"] == state_after


def test_a_resumed_job_is_not_cancelled_for_the_stop_of_the_job_before(tmp_path, monkeypatch):
    """Stop, then Resume days later: the new job must run, not be cancelled by the next refresh
    because the earlier job's Stop is older than the grace time."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "sbatch": "echo '77'",
        "squeue": "echo 'RUNNING|None'",
        "scancel": f'echo "$@" >> {tmp_path}/scancel.log',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    run_dir = runs.create_run(RunConfig(), root=tmp_path / "runs")
    (run_dir / "train.sbatch").write_text("#!/bin/sh\n")
    (run_dir / slurm.SLURM_FILE).write_text('{"job_id": "76"}')
    runs.write_status(run_dir, state="stopped", step=5, stop_requested=time.time() - 3600)
    assert slurm.resubmit(run_dir) == "77"
    runs.write_status(run_dir, state="running", step=6)  # the new job's trainer started
    status = slurm.refresh(run_dir)
    assert status["state"] == "running"
    assert not (tmp_path / "scancel.log").exists()


def test_a_stop_is_put_down_to_whoever_asked(tmp_path, monkeypatch):
    """The trainer's "Stopped … at step N": the user's Stop, or Slurm's time-limit warning in a
    submitted job nobody asked to stop; a local run inside an allocation is still the user's."""
    from core.train.recipe import _stopped_by

    run_dir = runs.create_run(RunConfig(), root=tmp_path / "runs")
    monkeypatch.setenv("SLURM_JOB_ID", "9")
    assert _stopped_by(run_dir) == "by you"  # started here (no slurm.json), inside salloc
    (run_dir / slurm.SLURM_FILE).write_text('{"job_id": "9"}')
    assert _stopped_by(run_dir) == "before Slurm's time limit"
    runs.write_status(run_dir, stop_requested=time.time())
    assert _stopped_by(run_dir) == "by you"
    monkeypatch.delenv("SLURM_JOB_ID")
    runs.write_status(run_dir, stop_requested=None)
    assert _stopped_by(run_dir) == "by you"  # the supervisor's own process, not a Slurm job
