"""Finetune Studio: the router. Run with `streamlit run app.py`."""

import streamlit as st

from pages.common import init_state

st.set_page_config(page_title="Finetune Studio", page_icon="assets/logo.svg", layout="wide")
init_state()
st.session_state["_routed"] = True  # this session went through the router (pages.common)

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
st.navigation(pages).run()
