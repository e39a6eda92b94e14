"""Runs submitted through core.cluster.slurm to a real one-node Slurm (the `slurm_cluster`
fixture): a Quick run completes with its adapter and evaluation, Stop saves the adapter, and a
refused job says Slurm's reason while the run directory keeps everything."""

from __future__ import annotations

import time

import pytest

from core import jobs, runs
from core.cluster import slurm
from core.cluster.sbatch import SBATCH_FILE, SlurmOptions
from core.settings import RunConfig
from tests.app.conftest import button, texts
from tests.cluster.test_slurm_input import open_experts_page
from tests.conftest import write_reviews

pytestmark = pytest.mark.slurm
JOB_TIMEOUT_S = 150


def _run_dir(tmp_path, model, epochs: float = 1.0):
    data = write_reviews(tmp_path / "reviews.csv", rows=120)
    config = RunConfig().replace(
        name="quick on slurm",
        model={"name_or_path": str(model)},
        data={"path": str(data)},
        training={"num_train_epochs": epochs, "per_device_train_batch_size": 8, "max_length": 32},
        lora={"r": 4, "alpha": 8},
    )
    return runs.create_run(config, root=tmp_path / "runs")


def _job_end(job_id: str, timeout: float = 30.0) -> slurm.JobState:
    """The job's state once Slurm has let it go (the trainer says "completed" a little before)."""
    deadline = time.monotonic() + timeout
    while (state := slurm.job_state(job_id)).active and time.monotonic() < deadline:
        time.sleep(0.5)
    return state


def _why(run_dir) -> str:
    outs = sorted(run_dir.glob("slurm-*.out"))
    return runs.tail_log(run_dir) + "\n" + "\n".join(p.read_text()[-3000:] for p in outs)


def test_quick_run_completes_on_slurm_with_adapter_and_evaluation(
    slurm_cluster, tiny_bert, tmp_path
):
    run_dir = _run_dir(tmp_path, tiny_bert)
    job_id = slurm.submit(run_dir)
    assert slurm.job_id_of(run_dir) == job_id
    assert any(job["job_id"] == job_id for job in slurm.list_jobs())
    status = jobs.wait_for(run_dir, timeout=JOB_TIMEOUT_S)  # the Train page's refresh
    assert status["state"] == "completed", _why(run_dir)
    assert _job_end(job_id).state == "COMPLETED"
    assert slurm.refresh(run_dir)["slurm_state"] == "COMPLETED"
    assert (run_dir / runs.ADAPTER_DIR / "adapter_model.safetensors").exists()
    assert runs.read_eval(run_dir)["n_validation"] > 0
    assert (run_dir / f"slurm-{job_id}.out").exists() and (run_dir / SBATCH_FILE).exists()


def test_stop_saves_the_adapter_and_resume_resubmits_from_the_checkpoint(
    slurm_cluster, tiny_bert, tmp_path
):
    run_dir = _run_dir(tmp_path, tiny_bert, epochs=12.0)  # 144 steps: stopped long before the end
    job_id = slurm.submit(run_dir)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while runs.read_status(run_dir).get("step", 0) < 2 and time.monotonic() < deadline:
        assert slurm.job_state(job_id).active, _why(run_dir)
        time.sleep(0.5)
    assert jobs.stop_job(run_dir)  # the page's Stop: SIGTERM now, cancel after the grace time
    status = jobs.wait_for(run_dir, timeout=JOB_TIMEOUT_S)
    assert status["state"] == "stopped", _why(run_dir)
    stopped_at = status["step"]
    assert 2 <= stopped_at < status["total_steps"]
    assert (run_dir / runs.ADAPTER_DIR / "adapter_model.safetensors").exists(), _why(run_dir)
    _job_end(job_id)

    resumed = slurm.submit(run_dir, resume="latest")
    status = jobs.wait_for(run_dir, timeout=JOB_TIMEOUT_S)
    assert status["state"] == "completed" and status["step"] == status["total_steps"], _why(run_dir)
    log = (run_dir / f"slurm-{resumed}.out").read_text()
    assert "[step 1/" not in log and f"[step {status['total_steps']}/" in log  # not from step 1
    _job_end(resumed)


def test_pending_job_shows_its_reason_and_stop_cancels_it(slurm_cluster, tmp_path):
    run_dir = runs.create_run(RunConfig(), root=tmp_path)
    job_id = slurm.submit(run_dir, SlurmOptions(extra_lines=("--begin=now+1hour",)))
    status = slurm.refresh(run_dir)
    assert (status["slurm_state"], status["slurm_reason"]) == ("PENDING", "BeginTime")
    assert status["message"] == f"Slurm job {job_id}: PENDING (BeginTime)"  # the pages show it
    assert slurm.stop(job_id, grace_s=5).state == "CANCELLED"
    status = jobs.refresh_status(run_dir)
    assert status["state"] == "stopped" and f"job {job_id}: CANCELLED" in status["message"]
    assert not jobs.stop_job(run_dir)  # nothing left to stop


def test_bad_partition_gives_slurms_reason_and_keeps_the_run(slurm_cluster, tmp_path):
    run_dir = runs.create_run(RunConfig(), root=tmp_path)
    with pytest.raises(slurm.SlurmError, match="(?i)invalid partition") as refused:
        slurm.submit(run_dir, SlurmOptions(partition="no-such-partition"))
    assert "sbatch: error" not in str(refused.value)
    assert (run_dir / runs.CONFIG_FILE).exists()
    status = runs.read_status(run_dir)
    assert status["state"] == "failed" and "no-such-partition" in status["message"]


def test_an_adapter_to_start_from_that_cannot_fit_is_refused_before_sbatch(slurm_cluster, tmp_path):
    """It would fail only once a node runs it, after its wait in the queue: refused at submit."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 16, "peft_type": "LORA"}')
    config = RunConfig().replace(lora={"r": 8, "init_from": str(adapter)})
    run_dir = runs.create_run(config, root=tmp_path / "runs")
    with pytest.raises(slurm.SlurmError, match="trained with rank 16.*set lora.r to 16"):
        slurm.submit(run_dir, SlurmOptions())
    assert not (run_dir / SBATCH_FILE).exists() and not slurm.job_id_of(run_dir)
    assert (run_dir / runs.CONFIG_FILE).exists()


def test_experts_page_submits_to_the_cluster_and_lists_the_job(slurm_cluster, data_root, tmp_path):
    """The page's path: a refused job shows Slurm's reason; an accepted one its id and state."""
    data = write_reviews(tmp_path / "reviews.csv", rows=40)
    at = open_experts_page(RunConfig().replace(data={"path": str(data)}))
    at.text_input(key="cluster.partition").set_value("nope").run()
    button(at, "Submit to Slurm").click().run()
    assert not at.exception
    assert "invalid partition specified: nope" in texts(at.error)
    at.text_input(key="cluster.partition").set_value("").run()
    at.text_area(key="cluster.extra").set_value("--begin=now+1hour").run()
    button(at, "Submit to Slurm").click().run()
    assert not at.exception
    job_id = texts(at.success).split("Slurm job ")[1].split(".")[0]
    run_dir = at.session_state["run_dir"]
    assert slurm.job_id_of(run_dir) == job_id
    table = next(frame.value for frame in at.dataframe if "job_id" in frame.value.columns)
    row = table[table["job_id"] == job_id].iloc[0]
    assert (row["state"], row["reason"]) == ("PENDING", "BeginTime")
    assert jobs.stop_job(run_dir)


@pytest.mark.slow
def test_two_process_job_trains_on_both_ranks_like_a_local_run(slurm_cluster, tiny_bert, tmp_path):
    """srun + torchrun (c10d rendezvous) as the script does: both ranks train, and the losses
    match a local 2-process run of the same config."""
    cluster_run = _run_dir(tmp_path, tiny_bert, epochs=2.0)
    config = runs.read_config(cluster_run).replace(
        parallel={"processes_per_node": 2, "strategy": "ddp"}
    )
    config.save(cluster_run / runs.CONFIG_FILE)
    job_id = slurm.submit(cluster_run)
    local_run = jobs.start_job(config, root=tmp_path / "local")
    assert jobs.wait_for(local_run, timeout=JOB_TIMEOUT_S)["state"] == "completed", _why(local_run)
    assert jobs.wait_for(cluster_run, timeout=JOB_TIMEOUT_S)["state"] == "completed", _why(
        cluster_run
    )
    assert _job_end(job_id).state == "COMPLETED", _why(cluster_run)
    log = (cluster_run / f"slurm-{job_id}.out").read_text()
    assert "rank 0 of 2 starts training" in log and "rank 1 of 2 starts training" in log, log
    losses = [
        [m["loss"] for m in runs.read_metrics(run) if "loss" in m]
        for run in (cluster_run, local_run)
    ]
    assert len(losses[0]) == len(losses[1]) > 1, losses
    assert losses[0] == pytest.approx(losses[1], abs=1e-4)
