"""Per-user workspaces: two signed-in sessions; each sees, reattaches to and stops only its own
runs; an admin sees every user's runs."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core import jobs, runs, users
from core.data.lineage import save_version
from core.data.load import load_table, store_upload
from core.settings import RunConfig
from tests.app.conftest import ROOT, button, texts


@pytest.fixture
def shared_server(data_root, tmp_path, monkeypatch, routed):
    """A shared address with the built-in sign-in and a running job of ana's."""
    monkeypatch.setenv("STUDIO_USERS", str(tmp_path / "users.json"))
    for name in ("ana", "bo", "root"):
        users.add_user(name, "a long password", admin=name == "root")
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    trainer = subprocess.Popen(["sleep", "60"], start_new_session=True)
    runs.set_workspace("ana")
    run_dir = runs.create_run(RunConfig(name="anas-run"))
    runs.write_status(
        run_dir,
        state="running",
        step=3,
        total_steps=10,
        supervisor_pid=trainer.pid,
        supervisor_created=jobs.process_created(trainer.pid),
    )
    runs.set_workspace(None)
    yield run_dir
    trainer.kill()
    trainer.wait()
    st_config.set_option("server.address", before)


def session(name: str, role: str = "user") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["_user"] = {"name": name, "role": role, "since": time.time()}
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["user"] == {
        "name": name,
        "role": role,
        "since": pytest.approx(time.time(), abs=60),
    }
    return at


def test_another_user_neither_sees_nor_reattaches_to_a_running_job(shared_server):
    bo = session("bo")
    bo.switch_page("pages/jobs.py").run()
    assert "No runs yet" in texts(bo.info) and not bo.selectbox
    bo.switch_page("pages/train.py").run()
    assert not bo.exception
    assert bo.session_state["run_dir"] is None  # no reattaching to ana's job
    assert "anas-run" not in texts(bo.markdown) + texts(bo.caption)
    assert jobs.refresh_status(shared_server)["state"] == "running"


def test_the_owner_reattaches_and_an_admin_sees_every_users_runs(shared_server):
    ana = session("ana")
    ana.switch_page("pages/train.py").run()
    assert ana.session_state["run_dir"] == str(shared_server)
    ana.switch_page("pages/jobs.py").run()
    assert ana.selectbox[0].options == [shared_server.name]
    admin = session("root", role="admin")
    admin.switch_page("pages/jobs.py").run()
    assert admin.selectbox[0].options == [f"{runs.user_folder('ana')}/{shared_server.name}"]


def test_one_device_lock_serves_every_users_runs(data_root):
    runs.set_workspace("ana")
    try:
        ana = runs.create_run(RunConfig())
    finally:
        runs.set_workspace(None)
    shared = runs.create_run(RunConfig())
    assert runs.device_lock(ana) == runs.device_lock(shared)


def test_two_users_at_once_each_runs_page_lists_only_their_own(shared_server):
    runs.set_workspace("bo")
    try:
        bos = runs.create_run(RunConfig(name="bos-run"))
        runs.write_status(bos, state="completed", step=10, total_steps=10)
    finally:
        runs.set_workspace(None)
    ana, bo = session("ana"), session("bo")  # two sessions open side by side
    for at, own, other in ((ana, shared_server, bos), (bo, bos, shared_server)):
        at.switch_page("pages/runs.py").run()
        assert not at.exception, at.exception
        compared = next(m for m in at.multiselect if m.label == "Runs to compare")
        assert own.name in compared.options and other.name not in compared.options
        shown = texts(at.markdown) + texts(at.caption) + texts(at.dataframe)
        assert other.name not in shown


def test_an_upload_stays_in_its_users_workspace_and_another_user_cannot_open_it(
    shared_server, monkeypatch
):
    monkeypatch.setenv("STUDIO_ALLOWED_ROOTS", "/nowhere")  # only the operator's default roots
    ana = session("ana")
    ana.switch_page("pages/data.py").run()
    ana.file_uploader[0].upload("mine.csv", b"text,label\ngood,pos\nbad,neg\n", "text/csv").run()
    assert not ana.exception, ana.exception
    stored = Path(ana.session_state["config"].data.path)
    assert stored.parent.parent == runs.data_root() / "users" / runs.user_folder("ana") / "uploads"
    opened = RunConfig().replace(data={"path": str(stored)}).save(stored.parent / "x.yaml")
    bo = session("bo")
    bo.switch_page("pages/experts.py").run()
    bo.file_uploader(key="expert.open").set_value(
        ("anas.yaml", opened.read_text().encode(), "application/x-yaml")
    ).run()
    assert not bo.exception, bo.exception
    assert "not a file or folder this app can read" in texts(bo.error)
    assert bo.session_state["config"].data.path != str(stored)


def _anas_upload_and_version() -> tuple[Path, Path]:
    """An upload of ana's and a dataset version made from it, in her workspace."""
    runs.set_workspace("ana")
    try:
        data = b"text,label\nsecret one,pos\nsecret two,neg\nsecret three,pos\n"
        upload = store_upload(data, "anas.csv", runs.workspace_root())
        record = save_version(load_table(upload).head(2), runs.workspace_root(), upload, None, 3)
        return upload, Path(record.path)
    finally:
        runs.set_workspace(None)


def _use_path(at: AppTest, path: str) -> AppTest:
    next(box for box in at.text_input if box.label == "Path or Hub id").set_value(path).run()
    return button(at, "Use this data").click().run()


def test_an_admin_opens_another_users_upload_and_version_and_changes_neither(
    shared_server, monkeypatch
):
    monkeypatch.setenv("STUDIO_ALLOWED_ROOTS", "/nowhere")  # only the operator's default roots
    upload, version = _anas_upload_and_version()
    before = {path: path.read_bytes() for path in (upload, version)}
    admin = session("root", role="admin")
    admin.switch_page("pages/data.py").run()
    pick = admin.selectbox(key="data-admin-pick")
    assert [label.split(" · ")[1:] for label in pick.options] == [
        ["upload", "anas.csv"],
        ["version", "anas.csv", f"version {version.parent.name[:8]}"],
    ]
    for index, path, rows in ((1, version, "2 rows"), (0, upload, "3 rows")):
        pick.select_index(index).run()
        admin.button(key="data-admin-open").click().run()
        assert not admin.exception, admin.exception
        assert admin.session_state["config"].data.path == str(path.resolve())
        assert "anas.csv" in texts(admin.success) and rows in texts(admin.success)
    _use_path(admin, str(version))  # a typed path to her version is accepted for an admin too
    assert admin.session_state["config"].data.path == str(version.resolve())
    assert {path: path.read_bytes() for path in before} == before  # read-only


def test_a_user_gets_the_one_refusal_for_another_users_upload(shared_server, monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOWED_ROOTS", "/nowhere")
    upload, _ = _anas_upload_and_version()
    bo = session("bo")
    bo.switch_page("pages/data.py").run()
    assert "data-admin-pick" not in [box.key for box in bo.selectbox]
    missing = str(upload.with_name("nothing-here.csv"))
    messages = []
    for path in (str(upload), missing):
        _use_path(bo, path)
        assert not bo.exception, bo.exception
        assert "not a file or folder this app can read" in texts(bo.error)
        messages.append(texts(bo.error).replace(path, "PATH"))
        assert bo.session_state["config"].data.path != path
    assert messages[0] == messages[1]  # an existing file of ana's reads as a missing one


def _open_expert_config(at: AppTest, data_path: Path, tmp_path: Path) -> AppTest:
    text = RunConfig().replace(data={"path": str(data_path)}).save(tmp_path / "e.yaml").read_bytes()
    at.switch_page("pages/experts.py").run()
    at.file_uploader(key="expert.open").set_value(("e.yaml", text, "application/x-yaml")).run()
    assert not at.exception, at.exception
    return at


def test_an_expert_config_naming_another_users_upload_opens_for_an_admin_only(
    shared_server, monkeypatch, tmp_path
):
    monkeypatch.setenv("STUDIO_ALLOWED_ROOTS", "/nowhere")
    upload, version = _anas_upload_and_version()
    admin = session("root", role="admin")
    for path in (upload, version):  # each file differs, so each is opened
        _open_expert_config(admin, path, tmp_path)
        assert admin.session_state["config"].data.path == str(path.resolve())
        assert not texts(admin.error), texts(admin.error)
    bo = _open_expert_config(session("bo"), upload, tmp_path)
    assert "cannot be opened" in texts(bo.error)
    assert "not a file or folder this app can read" in texts(bo.error)
    assert bo.session_state["config"].data.path != str(upload.resolve())
