"""With sign-in, a user's uploads and dataset versions live in their own workspace, and an opened
config may name only their own (plus the operator's roots): another user's upload hash is refused
with the usual message."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from core import paths, runs
from core.data.lineage import save_version
from core.data.load import store_upload
from core.settings import RunConfig

CSV = b"text,label\ngood film,pos\nbad film,neg\n"


@contextmanager
def signed_in(user: str | None):
    runs.set_workspace(user)
    try:
        yield
    finally:
        runs.set_workspace(None)


@pytest.fixture
def roots(data_root, monkeypatch):
    monkeypatch.delenv("STUDIO_ALLOWED_ROOTS", raising=False)
    return paths.allowed_roots(single_user=False)


def _config(path) -> RunConfig:
    return RunConfig().replace(data={"path": str(path)})


def test_uploads_and_versions_land_in_the_users_workspace(roots, data_root):
    with signed_in("ana"):
        upload = store_upload(CSV, "reviews.csv", runs.workspace_root())
        version = save_version(pd.read_csv(upload), runs.workspace_root(), source=upload)
    ana = data_root.resolve() / "users" / runs.user_folder("ana")
    assert ana in upload.resolve().parents and ana / "uploads" in upload.parents
    assert ana / "datasets" in Path(version.path).parents
    assert not (data_root / "uploads").exists() and not (data_root / "datasets").exists()
    with signed_in(None):  # the single local user keeps the data root itself
        assert runs.workspace_root() == data_root.resolve()


def test_another_users_upload_or_version_is_refused_alike(roots, data_root):
    with signed_in("ana"):
        upload = store_upload(CSV, "reviews.csv", runs.workspace_root())
        version = save_version(pd.read_csv(upload), runs.workspace_root(), source=upload)
        assert paths.confine_config(_config(upload), roots).data.path == str(upload.resolve())
        assert paths.confine_config(_config(version.path), roots).data.path == version.path
    missing = str(upload).replace(upload.parent.name, "0" * 16)
    with signed_in("bo"):
        for path in (upload, version.path):
            with pytest.raises(paths.PathRefused) as refused:
                paths.confine_config(_config(path), roots)
            with pytest.raises(paths.PathRefused) as absent:
                paths.confine_config(_config(missing), roots)
            shown = str(refused.value).replace(str(path), "P")
            assert shown == str(absent.value).replace(missing, "P")
            assert "not a file or folder this app can read" in shown
        own = store_upload(CSV, "reviews.csv", runs.workspace_root())  # the same bytes: bo's copy
        assert own != upload and paths.confine_config(_config(own), roots).data.path == str(own)


def test_the_operators_roots_stay_open_to_every_user(roots):
    shared = roots[0] / "team.csv"
    shared.write_bytes(CSV)
    for user in ("ana", "bo"):
        with signed_in(user):
            assert paths.confine_config(_config(shared), roots).data.path == str(shared)


def test_an_admin_config_may_name_any_users_upload_and_a_users_may_not(roots, data_root):
    with signed_in("ana"):
        upload = store_upload(CSV, "reviews.csv", runs.workspace_root())
    with signed_in("bo"):
        opened = paths.confine_config(_config(upload), roots, every_user=True)
        assert opened.data.path == str(upload.resolve())
        with pytest.raises(paths.PathRefused):
            paths.confine_config(_config(upload), roots)
        secret = data_root / "users" / "secret.csv"  # inside the data root, not an upload
        secret.write_bytes(CSV)
        with pytest.raises(paths.PathRefused):  # every_user opens uploads, not anything at all
            paths.confine_config(_config(secret), roots, every_user=True)


def test_an_adapter_to_start_from_may_be_the_users_own_run_only(roots, data_root):
    with signed_in("ana"):
        adapter = runs.runs_root() / "20261127-run" / "adapter"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text("{}")
        start = RunConfig().replace(lora={"init_from": str(adapter)})
        assert paths.confine_config(start, roots).lora.init_from == str(adapter.resolve())
    with signed_in("bo"):
        with pytest.raises(paths.PathRefused, match="not a file or folder this app can read"):
            paths.confine_config(start, roots)
        with pytest.raises(paths.PathRefused):
            paths.confine_config(RunConfig().replace(lora={"init_from": "/etc"}), roots)
