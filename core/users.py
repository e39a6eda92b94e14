"""Who may use this server: the sign-in rules, the built-in password file and its CLI.

Three ways to run the app:
- on the loopback address (the shipped default) with no sign-in configured: one local user;
- shared, with an OpenID Connect provider in `.streamlit/secrets.toml` (`[auth]`, Streamlit's
  `st.login`) for organisations;
- shared, with the built-in password file for a team without an identity provider:
  `python -m core.users add NAME [--admin]` (the password is read from stdin, or prompted twice).

A shared server with neither refuses to serve pages (`refusal_message`). The password file holds
only salted scrypt hashes (hashlib's, memory-hard), never a password.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

USERS_FILE = "users.json"
LOCAL_USER = "local"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MIN_PASSWORD = 10
SESSION_SECONDS = 8 * 3600  # a signed-in session lasts a working day, then asks again
# scrypt cost: n=2**14, r=8 takes 16 MB and ~50 ms per check, cheap for one sign-in, costly to guess
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class UserError(ValueError):
    """A user name or password that cannot be used; the message says why and what to do."""


def users_file() -> Path:
    """`$STUDIO_USERS`, or users.json in the data root (never inside the project, never in git)."""
    if os.environ.get("STUDIO_USERS"):
        return Path(os.environ["STUDIO_USERS"])
    from core.runs import data_root

    return data_root() / USERS_FILE


def is_loopback(address: str | None) -> bool:
    """True for an address only this machine can reach (127.x, ::1, localhost).

    Streamlit's default (no address) listens on every interface, so it is not loopback.
    """
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def signin_mode(address: str | None, has_oidc: bool, path: Path | None = None) -> str:
    """How this server signs users in: "oidc", "password", "local" (loopback, nothing configured)
    or "refuse" (reachable from the network, with no sign-in configured)."""
    if has_oidc:
        return "oidc"
    if load_users(path):
        return "password"
    return "local" if is_loopback(address) else "refuse"


def refusal_message(address: str | None) -> str:
    """What to configure before this server may be shared on a network."""
    where = address or "every network interface"
    return (
        f"Finetune Studio is set to listen on {where}, where other computers can reach it, and no "
        "sign-in is configured, so it serves nothing. Either listen on this computer only "
        '(`server.address = "127.0.0.1"` in .streamlit/config.toml), or configure sign-in: an '
        "OpenID Connect provider in .streamlit/secrets.toml ([auth], see the README), or users "
        "in the built-in password file (`python -m core.users add NAME`)."
    )


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=64 * 2**20, **SCRYPT)


def load_users(path: Path | None = None) -> dict:
    """{name: {"salt", "hash", "role"}} from the password file ({} when there is none)."""
    path = path or users_file()
    try:
        return json.loads(path.read_text()).get("users", {})
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        return {}


def add_user(name: str, password: str, admin: bool = False, path: Path | None = None) -> None:
    """Add (or replace the password of) a user in the password file, readable by its owner only.

    Raises:
        UserError: the name is not lower-case letters, digits, '.', '_', '-', or the password is
            shorter than MIN_PASSWORD characters.
    """
    if not NAME_PATTERN.match(name):
        raise UserError(
            f"User name {name!r} is not usable: use 1-40 lower-case letters, digits, '.', '_' or "
            "'-', starting with a letter or digit."
        )
    if len(password) < MIN_PASSWORD:
        raise UserError(f"The password is too short: use at least {MIN_PASSWORD} characters.")
    path = path or users_file()
    users = load_users(path)
    salt = secrets.token_bytes(16)
    users[name] = {
        "salt": salt.hex(),
        "hash": _hash(password, salt).hex(),
        "role": "admin" if admin else "user",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"users": users}, out, indent=1)
    os.replace(tmp, path)


_DUMMY_SALT = secrets.token_bytes(16)


def verify(name: str, password: str, path: Path | None = None) -> str | None:
    """The user's role when name and password match, else None.

    An unknown name costs the same hash as a known one, so timing does not tell which names exist.
    """
    user = load_users(path).get(name)
    if user is None:
        _hash(password, _DUMMY_SALT)
        return None
    digest = _hash(password, bytes.fromhex(user["salt"]))
    if hmac.compare_digest(digest.hex(), user["hash"]):
        return user.get("role", "user")
    return None


@dataclass
class SigninLimiter:
    """Failed sign-ins per user name: after `allowed` failures within `window` seconds, the name is
    locked for `lockout` seconds (whatever the password), which makes guessing slow."""

    allowed: int = 5
    window: float = 900.0
    lockout: float = 60.0
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_seconds(self, name: str, now: float | None = None) -> float:
        """Seconds before `name` may try again (0: now)."""
        now = time.time() if now is None else now
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < self.window]
            self._failures[name] = recent
            if len(recent) < self.allowed:
                return 0.0
            return max(0.0, recent[-1] + self.lockout - now)

    def failed(self, name: str, now: float | None = None) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(time.time() if now is None else now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


LIMITER = SigninLimiter()  # one per server process: Streamlit serves every session from it


def session_expired(signed_in_at: float, now: float | None = None) -> bool:
    """True once a sign-in is older than SESSION_SECONDS."""
    return (time.time() if now is None else now) - signed_in_at > SESSION_SECONDS


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise UserError("The two passwords differ; nothing was changed.")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.users", description="Manage the built-in sign-in's users."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a user, or set a user's password (read from stdin)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may see every user's runs")
    sub.add_parser("list", help="list users and roles")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, user in sorted(load_users().items()):
            print(f"{name}\t{user.get('role', 'user')}")
        return 0
    try:
        add_user(args.name, _read_password(), admin=args.admin)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Saved user {args.name!r} in {users_file()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
