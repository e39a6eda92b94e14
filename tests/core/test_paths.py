"""Typed paths are confined to the allowed roots; symlinks are resolved first; a refused path gets
the same message whether it exists or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import paths
from core.data.formats import DataError
from core.models import ModelError
from core.settings import ConfigError, RunConfig


@pytest.fixture
def roots(data_root, monkeypatch):
    monkeypatch.delenv("STUDIO_ALLOWED_ROOTS", raising=False)
    allowed = paths.allowed_roots(single_user=False)
    (allowed[0] / "reviews.csv").write_text("text,label\nfine,a\n")
    return allowed


def test_default_roots_are_the_data_and_models_folders_and_home_only_for_one_local_user(roots):
    assert [r.name for r in roots] == ["data", "models"]
    assert Path.home().resolve() not in roots
    assert Path.home().resolve() in paths.allowed_roots(single_user=True)


def test_extra_roots_come_from_the_environment(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOWED_ROOTS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert paths.allowed_roots(single_user=False)[-2:] == [tmp_path / "a", tmp_path / "b"]


def test_a_file_inside_a_root_is_accepted_absolute_or_relative(roots):
    inside = roots[0] / "reviews.csv"
    assert paths.confine(str(inside), roots) == inside
    assert paths.confine("reviews.csv", roots) == inside
    assert paths.confine_source(f"  {inside} ", roots) == str(inside)


def test_refused_paths_get_one_message_whether_they_exist_or_not(roots, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("text\nsecret\n")
    messages = []
    for path in (
        outside,
        tmp_path / "missing.csv",
        "/etc/passwd",
        "/etc/nope",
        "../../x.csv",
        roots[0] / "missing.csv",
    ):
        with pytest.raises(paths.PathRefused) as refused:
            paths.confine(path, roots)
        messages.append(str(refused.value).replace(repr(str(path).strip()), "PATH"))
    assert len(set(messages)) == 1
    assert str(roots[0]) in messages[0] and "STUDIO_ALLOWED_ROOTS" in messages[0]


def test_a_symlink_out_of_a_root_is_refused(roots, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("text\nsecret\n")
    (roots[0] / "link.csv").symlink_to(outside)
    with pytest.raises(paths.PathRefused):
        paths.confine(roots[0] / "link.csv", roots)
    (roots[0] / "up").symlink_to(tmp_path)
    with pytest.raises(paths.PathRefused):
        paths.confine("up/secret.csv", roots)


def test_a_refusal_is_caught_where_data_model_or_config_errors_are(roots):
    for error in (DataError, ModelError, ConfigError):
        with pytest.raises(error):
            paths.confine("/etc/passwd", roots)


def test_hub_ids_pass_but_a_relative_name_that_exists_here_is_refused(roots, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.confine_source("owner/some-dataset", roots) == "owner/some-dataset"
    (tmp_path / "owner").mkdir()
    (tmp_path / "owner" / "users.json").write_text("{}")
    with pytest.raises(paths.PathRefused):
        paths.confine_source("owner/users.json", roots)
    assert paths.confine_source("", roots) == ""


def test_an_opened_config_may_name_allowed_or_app_made_files_only(roots, data_root):
    upload = data_root / "uploads" / "abc" / "d.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text("text\nx\n")
    ok = paths.confine_config(RunConfig().replace(data={"path": str(upload)}), roots)
    assert ok.data.path == str(upload.resolve())
    for bad in (
        {"data": {"path": "/etc/passwd"}},
        {"data": {"path": str(data_root / "users.json")}},
        {"model": {"name_or_path": "/etc"}},
    ):
        with pytest.raises(ConfigError, match="not a file or folder this app can read"):
            paths.confine_config(RunConfig().replace(**bad), roots)
    assert paths.confine_config(RunConfig(), roots) == RunConfig()
