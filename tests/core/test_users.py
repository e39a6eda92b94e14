"""Sign-in rules: loopback detection, which mode, salted password hashes, rate limit, expiry, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core import users

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "address, loopback",
    [
        ("127.0.0.1", True),
        ("127.4.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        (None, False),
        ("192.168.1.20", False),
        ("::", False),
        ("myhost", False),
    ],
)
def test_loopback_addresses(address, loopback):
    assert users.is_loopback(address) is loopback


def test_a_shared_address_without_sign_in_is_refused_and_sign_in_makes_it_allowed(tmp_path):
    path = tmp_path / "users.json"
    assert users.signin_mode("127.0.0.1", False, path) == "local"
    assert users.signin_mode("0.0.0.0", False, path) == "refuse"
    assert users.signin_mode(None, False, path) == "refuse"
    assert "server.address" in users.refusal_message("0.0.0.0")
    assert "python -m core.users add" in users.refusal_message("0.0.0.0")
    assert users.signin_mode("0.0.0.0", True, path) == "oidc"
    users.add_user("ana", "correct horse battery", path=path)
    assert users.signin_mode("0.0.0.0", False, path) == "password"
    assert users.signin_mode("127.0.0.1", False, path) == "password"  # configured: always asked


def test_passwords_are_stored_as_salted_hashes_readable_by_the_owner_only(tmp_path):
    path = tmp_path / "users.json"
    users.add_user("ana", "correct horse battery", path=path)
    users.add_user("bo", "correct horse battery", admin=True, path=path)
    text = path.read_text()
    assert "correct horse" not in text
    stored = json.loads(text)["users"]
    assert stored["ana"]["hash"] != stored["bo"]["hash"]  # same password, different salts
    assert path.stat().st_mode & 0o077 == 0
    assert users.verify("ana", "correct horse battery", path) == "user"
    assert users.verify("bo", "correct horse battery", path) == "admin"
    assert users.verify("ana", "correct horse batterY", path) is None
    assert users.verify("nobody", "correct horse battery", path) is None


@pytest.mark.parametrize(
    "name, password", [("Ana", "long enough pw"), ("../x", "long enough pw"), ("ana", "short")]
)
def test_bad_names_and_short_passwords_are_refused_with_the_reason(tmp_path, name, password):
    with pytest.raises(users.UserError, match="name|password"):
        users.add_user(name, password, path=tmp_path / "users.json")
    assert not (tmp_path / "users.json").exists()


def test_failed_sign_ins_lock_the_name_for_a_while():
    limiter = users.SigninLimiter(allowed=3, window=100, lockout=30)
    for t in range(3):
        assert limiter.wait_seconds("ana", now=1000 + t) == 0
        limiter.failed("ana", now=1000 + t)
    assert limiter.wait_seconds("ana", now=1003) == pytest.approx(29)
    assert limiter.wait_seconds("bo", now=1003) == 0
    assert limiter.wait_seconds("ana", now=1033) == 0
    limiter.succeeded("ana")
    assert limiter.wait_seconds("ana", now=1003) == 0


def test_sessions_expire():
    assert not users.session_expired(1000, now=1000 + users.SESSION_SECONDS - 1)
    assert users.session_expired(1000, now=1000 + users.SESSION_SECONDS + 1)


def test_cli_adds_a_user_from_stdin_and_refuses_a_short_password(tmp_path):
    env = {"STUDIO_USERS": str(tmp_path / "u.json"), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        [sys.executable, "-m", "core.users", "add", "ana", "--admin"],
        input="a long password\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert ok.returncode == 0, ok.stderr
    assert users.verify("ana", "a long password", tmp_path / "u.json") == "admin"
    bad = subprocess.run(
        [sys.executable, "-m", "core.users", "add", "bo"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "too short" in bad.stderr and "Traceback" not in bad.stderr
