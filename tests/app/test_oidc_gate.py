"""The gate's OpenID Connect branch (st.login), as far as it goes without a provider: with an
[auth] secrets section a signed-out visitor sees only the sign-in button on every page URL; a
signed-in user (AppTest.user, Streamlit's own seam for st.user) gets the app, in a workspace named
by their e-mail (or sub), and is an admin when [studio] admins lists them."""

from __future__ import annotations

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core import runs
from core.settings import RunConfig
from tests.app.conftest import ROOT, texts

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a test cookie secret, never used to sign anything here",
    "client_id": "studio",
    "client_secret": "not a secret",
    "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
}


@pytest.fixture
def oidc_server(data_root, routed):
    """A shared address whose only sign-in is OIDC, and one run in ana@example.org's workspace."""
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    runs.set_workspace("ana@example.org")
    try:
        run_dir = runs.create_run(RunConfig(name="anas-run"))
    finally:
        runs.set_workspace(None)
    yield run_dir
    st_config.set_option("server.address", before)


def visit(user: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.secrets["studio"] = {"admins": ["root@example.org"]}
    at.user = user
    at.run()
    assert not at.exception, at.exception
    return at


def test_signed_out_only_the_sign_in_button_on_every_page(oidc_server):
    at = visit({"is_logged_in": False})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.text_input and not at.selectbox and not at.dataframe and not at.metric
    assert "user" not in at.session_state and "anas-run" not in texts(at.markdown)
    for page in ("pages/jobs.py", "pages/data.py", "pages/runs.py", "pages/experts.py"):
        with pytest.raises(ValueError, match=r"Known pages: \['Sign in'\]"):
            at.switch_page(page)


def test_signed_in_the_workspace_is_the_e_mail_and_admins_come_from_secrets(oidc_server):
    ana = visit({"is_logged_in": True, "email": "ana@example.org", "sub": "id-1"})
    assert ana.session_state["user"] == {"name": "ana@example.org", "role": "user"}
    assert "Signed in as **ana@example.org**" in texts(ana.caption)
    ana.switch_page("pages/jobs.py").run()
    assert not ana.exception and ana.selectbox[0].options == [oidc_server.name]
    bo = visit({"is_logged_in": True, "email": "bo@example.org"})
    bo.switch_page("pages/jobs.py").run()
    assert "No runs yet" in texts(bo.info) and not bo.selectbox
    root = visit({"is_logged_in": True, "email": "root@example.org"})
    assert root.session_state["user"]["role"] == "admin" and "(admin)" in texts(root.caption)
    root.switch_page("pages/jobs.py").run()
    folder = runs.user_folder("ana@example.org")
    assert root.selectbox[0].options == [f"{folder}/{oidc_server.name}"]


def test_without_an_e_mail_the_workspace_is_the_subject(oidc_server):
    at = visit({"is_logged_in": True, "sub": "id-7"})
    assert at.session_state["user"] == {"name": "id-7", "role": "user"}
