"""The sign-in gate: a shared address without sign-in refuses; signed out, every page is the
sign-in; the password form signs in, rate-limits failures and signs out."""

from __future__ import annotations

import time

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core import users
from tests.app.conftest import ROOT, button, texts


@pytest.fixture
def address():
    """Set server.address for the test, then put the shipped value back."""
    before = st_config.get_option("server.address")
    yield lambda value: st_config.set_option("server.address", value)
    st_config.set_option("server.address", before)


@pytest.fixture
def users_file(tmp_path, monkeypatch):
    path = tmp_path / "users.json"
    monkeypatch.setenv("STUDIO_USERS", str(path))
    monkeypatch.setattr(users, "LIMITER", users.SigninLimiter(allowed=2, lockout=60))
    return path


def fresh() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_shared_address_without_sign_in_serves_nothing_but_the_reason(data_root, address):
    address("0.0.0.0")
    at = fresh()
    assert "no sign-in is configured" in texts(at.error)
    assert "127.0.0.1" in texts(at.error) and "core.users add" in texts(at.error)
    assert not at.button and not at.text_input and not at.metric


def test_signed_out_the_only_registered_page_is_the_sign_in(data_root, users_file, address):
    address("0.0.0.0")
    users.add_user("ana", "a long password", path=users_file)
    at = fresh()
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert not at.dataframe and not at.metric and not at.selectbox
    for page in ("pages/jobs.py", "pages/data.py", "pages/results.py"):
        with pytest.raises(ValueError, match=r"Known pages: \['Sign in'\]"):
            at.switch_page(page)


def test_password_sign_in_rate_limit_and_sign_out(data_root, users_file, address, routed):
    address("0.0.0.0")
    users.add_user("ana", "a long password", path=users_file)
    at = fresh()
    for _ in range(2):
        at.text_input[0].input("ana")
        at.text_input[1].input("wrong password")
        at.button[0].click().run()
        assert "Wrong user name or password" in texts(at.error)
    at.text_input[1].input("a long password")
    at.button[0].click().run()
    assert "Too many failed sign-ins" in texts(at.error)  # even with the right password
    users.LIMITER.succeeded("ana")
    at.text_input[1].input("a long password")
    at.button[0].click().run()
    assert not at.exception
    assert "Signed in as **ana**" in texts(at.caption)
    assert at.session_state["user"]["name"] == "ana"
    button(at, "Sign out").click().run()
    assert "_user" not in at.session_state
    at.run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert not at.metric and not at.radio


def test_an_expired_session_is_asked_to_sign_in_again(data_root, users_file, address, routed):
    address("0.0.0.0")
    users.add_user("ana", "a long password", path=users_file)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["_user"] = {
        "name": "ana",
        "role": "user",
        "since": time.time() - users.SESSION_SECONDS - 1,
    }
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert "session expired" in texts(at.info)
