"""Expert settings: parallelism and every training knob (being built; see the issue tracker)."""

import streamlit as st

st.header("Expert settings")
st.info("The full experts' page (parallelism, launch files) lands here.")
