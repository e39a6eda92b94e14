"""The Train page's "Where to run" and the Jobs page's Slurm column: unavailable without sbatch
(with the reason), and against the real one-node Slurm a refused job says Slurm's reason while
an accepted one shows its job id and state on the Train and Jobs pages."""

from __future__ import annotations

import pytest

from core import jobs, runs
from core.cluster import slurm
from core.cluster.sbatch import SBATCH_FILE
from core.settings import RunConfig
from tests.app.conftest import allow_test_folders, app, button, go, texts  # noqa: F401
from tests.cluster.slurm_daemons import PARTITION

WHERE = "Where to run"


def _where(at):
    return next(radio for radio in at.radio if radio.label == WHERE)


def test_without_sbatch_the_cluster_option_says_why(app, reviews_csv, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    go(app, "pages/train.py")
    where = _where(app)
    assert where.value == "This computer" and where.disabled
    assert "Unavailable: no sbatch, squeue, scancel on the PATH" in where.proto.captions[1]
    assert button(app, "Start training")  # a local run is still offered


@pytest.mark.slurm
def test_train_page_submits_to_slurm_and_jobs_lists_the_job(
    slurm_cluster,
    app,  # noqa: F811
    reviews_csv,
):
    app.session_state["config"] = app.session_state["config"].replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"}
    )
    app.session_state["preset"] = "Quick"
    go(app, "pages/train.py")
    assert not _where(app).disabled
    _where(app).set_value("A Slurm cluster").run()
    assert (
        f"default partition {PARTITION}" in _where(app).proto.captions[1]
    )  # the default partition, from sinfo
    app.text_input(key="train.cluster.partition").set_value("nope").run()
    button(app, "Start training").click().run()
    assert not app.exception
    assert "invalid partition specified: nope" in texts(app.error)
    assert not app.session_state["run_dir"]

    app.text_input(key="train.cluster.partition").set_value("").run()
    app.text_area(key="train.cluster.extra").set_value("--begin=now+1hour").run()
    button(app, "Start training").click().run()
    assert not app.exception, app.exception
    run_dir = app.session_state["run_dir"]
    job_id = slurm.job_id_of(run_dir)
    assert job_id and f"Slurm job {job_id}: PENDING (BeginTime)" in texts(app.caption)

    go(app, "pages/jobs.py")
    table = app.dataframe[0].value
    assert f"{job_id} PENDING" in list(table["slurm"])
    assert jobs.stop_job(run_dir)


@pytest.mark.slurm
def test_an_adapter_that_cannot_fit_blocks_a_cluster_run_too(
    slurm_cluster,
    app,  # noqa: F811
    reviews_csv,
    tmp_path,
):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 16, "peft_type": "LORA"}')
    (adapter / "labels.json").write_text('{"labels": ["sports", "world"]}')
    app.session_state["config"] = app.session_state["config"].replace(
        data={"path": str(reviews_csv), "text_column": "text", "label_column": "label"},
        lora={"init_from": str(adapter), "r": 16},
    )
    app.session_state["preset"] = "Quick"
    go(app, "pages/train.py")
    _where(app).set_value("A Slurm cluster").run()
    assert "learned 2 labels (sports, world)" in texts(app.warning)
    assert button(app, "Start training").disabled


def _stopped_cluster_run(job_id: str):
    run_dir = runs.create_run(RunConfig(name="on the cluster"))
    runs.write_status(run_dir, state="stopped", step=4, total_steps=10, message="Slurm ended it")
    runs.write_json_atomic(run_dir / slurm.SLURM_FILE, {"job_id": job_id})
    (run_dir / SBATCH_FILE).write_text("#!/bin/bash\n")
    (run_dir / runs.CHECKPOINT_DIR / "checkpoint-4").mkdir(parents=True)
    return run_dir


def test_jobs_page_resumes_a_cluster_run_on_the_cluster(app, tmp_path, monkeypatch):  # noqa: F811
    calls = []
    monkeypatch.setattr(slurm, "resubmit", lambda path, resume: calls.append(("slurm", resume)))
    monkeypatch.setattr(jobs, "start_job", lambda *args, **kwargs: calls.append(("local", None)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # Slurm cannot be asked for the state
    run_dir = _stopped_cluster_run("4242")
    go(app, "pages/jobs.py")
    assert list(app.dataframe[0].value["slurm"]) == ["4242 UNKNOWN"]
    button(app, "Resume from the latest checkpoint").click().run()
    assert not app.exception
    assert calls == [("slurm", "latest")]  # resubmitted, not started on this computer
    assert app.session_state["run_dir"] == str(run_dir)


def test_jobs_page_says_why_a_cluster_run_cannot_resume(app, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    run_dir = _stopped_cluster_run("4243")
    go(app, "pages/jobs.py")
    button(app, "Resume from the latest checkpoint").click().run()
    assert not app.exception
    assert "Not resumed: no sbatch, squeue, scancel on the PATH" in texts(app.error)
    assert (run_dir / runs.CHECKPOINT_DIR / "checkpoint-4").is_dir()
    assert runs.read_status(run_dir)["state"] == "stopped"


def test_defaults_come_from_sinfo(app, tmp_path, monkeypatch):  # noqa: F811
    """The default partition and its own time limit, as a cluster's `sinfo` lists them."""
    bin_dir = tmp_path / "slurm-bin"
    bin_dir.mkdir()
    for name in ("sbatch", "squeue", "scancel"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sinfo").write_text(
        '#!/bin/sh\ncase "$*" in\n'
        '  *"%P|%l"*) printf "long|infinite\\nshort*|4:00:00\\n" ;;\n'
        '  *) printf "long\\nshort*\\n" ;;\nesac\n'
    )
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    go(app, "pages/train.py")
    assert "default partition short" in _where(app).proto.captions[1]
    _where(app).set_value("A Slurm cluster").run()
    assert app.text_input(key="train.cluster.time").value == "4:00:00"
    assert "long" in app.text_input(key="train.cluster.partition").help
