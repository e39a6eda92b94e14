"""Finetune Studio: the router. Run with `streamlit run app.py`.

The sign-in gate runs before st.navigation: a signed-out visitor's navigation holds only the
sign-in page, so no page URL shows anything else (pages/signin.py, core/users.py).
"""

import streamlit as st

from core import paths, runs, users
from core.data import archive
from pages.common import init_state
from pages.signin import current_user, sign_in_page, sign_out

st.set_page_config(page_title="Finetune Studio", page_icon="assets/logo.svg", layout="wide")
archive.set_upload_limit(st.get_option("server.maxUploadSize"))  # caps what a .gz unpacks to

user = current_user()
if user is None:
    st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/lock:")]).run()
    st.stop()
# Only a signed-in session counts as routed: a deep link that reaches a page before the router
# (pages.common.require_router) is sent back through this gate.
st.session_state["_routed"] = True
st.session_state["user"] = user
paths.set_single_user(user["name"] == users.LOCAL_USER)  # home is readable only then
runs.set_workspace(None if user["name"] == users.LOCAL_USER else user["name"])  # per-user runs
init_state()

pages = {
    "Guided": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/model.py", title="1 · Model", icon=":material/neurology:"),
        st.Page("pages/data.py", title="2 · Data", icon=":material/table:"),
        st.Page("pages/train.py", title="3 · Train", icon=":material/model_training:"),
        st.Page("pages/results.py", title="4 · Results", icon=":material/insights:"),
    ],
    "Experts": [
        st.Page("pages/experts.py", title="Expert settings", icon=":material/tune:"),
        st.Page("pages/jobs.py", title="Jobs", icon=":material/list:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/compare_arrows:"),
    ],
}
page = st.navigation(pages)
if user["name"] != users.LOCAL_USER:
    with st.sidebar:
        st.caption(
            f"Signed in as **{user['name']}**" + (" (admin)" if user["role"] == "admin" else "")
        )
        st.button("Sign out", on_click=sign_out)
page.run()
