"""The sign-in gate app.py runs before st.navigation: who is using this session, or a sign-in form.

A signed-out visitor gets a navigation holding only the sign-in page, so every page URL shows the
sign-in and nothing else. The rules (which mode, password checks, rate limit, expiry) are in
core/users.py.
"""

from __future__ import annotations

import sys
import time

import streamlit as st

from core import users


def _has_oidc() -> bool:
    """True when .streamlit/secrets.toml has an [auth] section (Streamlit's st.login)."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # noqa: BLE001 - a broken secrets file must not crash the gate
        return False


def current_user() -> dict | None:
    """{"name", "role"} of this session's user, or None while signed out (the gate shows why).

    On a loopback address with no sign-in configured the one local user is an admin.
    """
    address = st.get_option("server.address")
    mode = users.signin_mode(address, _has_oidc())
    if mode == "refuse":
        print(users.refusal_message(address), file=sys.stderr, flush=True)
        st.error(users.refusal_message(address), icon=":material/lock:")
        st.stop()
    if mode == "local":
        return {"name": users.LOCAL_USER, "role": "admin"}
    if mode == "oidc":
        if not st.user.is_logged_in:
            return None
        email = str(st.user.get("email") or st.user.get("sub") or "")
        admins = [str(a) for a in st.secrets.get("studio", {}).get("admins", [])]
        return {"name": email, "role": "admin" if email in admins else "user"}
    user = st.session_state.get("_user")
    if user and users.session_expired(user["since"]):
        st.session_state.pop("_user", None)
        st.session_state["_signin_note"] = "Your session expired; please sign in again."
        return None
    return user


def sign_in_page() -> None:
    """The only page a signed-out visitor sees."""
    st.title("Finetune Studio")
    note = st.session_state.pop("_signin_note", None)
    if note:
        st.info(note)
    if users.signin_mode(st.get_option("server.address"), _has_oidc()) == "oidc":
        try:
            import authlib  # noqa: F401 - st.login needs it
        except ImportError:
            st.error(
                "Sign-in with your organisation's account needs the Authlib package on the "
                "server: `pip install 'Authlib>=1.3.2'`, then restart the app."
            )
            return
        st.button("Sign in", type="primary", on_click=st.login)
        return
    with st.form("signin"):
        st.text_input("User name", key="_signin_name")
        st.text_input("Password", type="password", key="_signin_password")
        st.form_submit_button("Sign in", type="primary", on_click=_check)
    problem = st.session_state.pop("_signin_error", None)
    if problem:
        st.error(problem)


def _check() -> None:
    """The form's callback: runs before the script, so a success shows the app on this run."""
    name = st.session_state.get("_signin_name", "").strip().lower()
    password = st.session_state.pop("_signin_password", "")
    wait = users.LIMITER.wait_seconds(name)
    if wait > 0:
        st.session_state["_signin_error"] = (
            f"Too many failed sign-ins for this name. Try again in {wait:.0f} s."
        )
        return
    role = users.verify(name, password)
    if role is None:
        users.LIMITER.failed(name)
        st.session_state["_signin_error"] = "Wrong user name or password."
        return
    users.LIMITER.succeeded(name)
    st.session_state["_user"] = {"name": name, "role": role, "since": time.time()}


def sign_out() -> None:
    """Forget this session's user (and the OIDC cookie where st.login set one)."""
    if st.session_state.pop("_user", None) is None and _has_oidc():
        st.logout()
