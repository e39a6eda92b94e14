import os

from core import runs
from core.settings import RunConfig
from tests.app.conftest import button, go, texts


def test_no_runs_yet(app):
    go(app, "pages/jobs.py")
    assert "No runs yet" in texts(app.info)


def test_lists_runs_and_offers_the_right_actions(app):
    finished = runs.create_run(RunConfig(name="done"))
    runs.write_status(finished, state="stopped", step=5, total_steps=10, message="Stopped by you")
    (finished / runs.CHECKPOINT_DIR / "checkpoint-4").mkdir(parents=True)
    go(app, "pages/jobs.py")
    table = app.dataframe[0].value
    assert list(table["state"]) == ["stopped"] and list(table["step"]) == ["5/10"]
    assert button(app, "Resume from the latest checkpoint")
    waiting = runs.create_run(RunConfig(name="waiting"))
    runs.write_status(waiting, state="queued", pid=os.getpid())
    go(app, "pages/jobs.py")
    app.selectbox[0].set_value(waiting.name).run()
    assert button(app, "Cancel (not started yet)")


def test_cancel_and_resume_act_on_the_run(app, monkeypatch):
    from core import jobs

    calls = []
    monkeypatch.setattr(jobs, "stop_job", lambda path: calls.append(("stop", path.name)))
    monkeypatch.setattr(
        jobs, "start_job", lambda config, resume=None, run_dir=None: calls.append(("start", resume))
    )
    waiting = runs.create_run(RunConfig(name="waiting"))
    runs.write_status(waiting, state="queued", pid=os.getpid())
    go(app, "pages/jobs.py")
    button(app, "Cancel (not started yet)").click().run()
    assert calls == [("stop", waiting.name)]
    runs.write_status(waiting, state="stopped")
    (waiting / runs.CHECKPOINT_DIR / "checkpoint-2").mkdir(parents=True)
    go(app, "pages/jobs.py")
    button(app, "Resume from the latest checkpoint").click().run()
    assert calls[-1] == ("start", "latest")
    assert app.session_state["run_dir"] == str(waiting)
