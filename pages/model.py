"""Step 1 · Model: the embedded default, a local folder, or a Hugging Face Hub id."""

import streamlit as st

from core.models import ModelError, check_model_source
from core.settings import EMBEDDED_MODEL
from pages.common import get_config, next_button, set_config, stepper

stepper("Model")
st.header("Choose a model")
st.write(
    "The model is the starting point: it already knows language; training teaches it your task."
)

config = get_config()
current = config.model.name_or_path
sources = ["Embedded default (works offline)", "A folder on this computer", "Hugging Face Hub id"]
if "model_source" not in st.session_state:  # first visit: show where the current model comes from
    if current == EMBEDDED_MODEL:
        st.session_state["model_source"] = sources[0]
    elif current.startswith(("/", ".", "~")):
        st.session_state["model_source"], st.session_state["model_folder"] = sources[1], current
    else:
        st.session_state["model_source"], st.session_state["model_hub"] = sources[2], current
source = st.radio("Where is the model?", sources, key="model_source")

if source == sources[0]:
    choice = EMBEDDED_MODEL
    st.info(
        "**all-MiniLM-L6-v2** · 22.7 M parameters · a small, fast English encoder for text "
        "classification. It ships with the app, so it works without internet."
    )
elif source == sources[1]:
    choice = st.text_input(
        "Model folder",
        key="model_folder",
        placeholder="/path/to/model (the folder with config.json and model.safetensors)",
    ).strip()
else:
    choice = st.text_input(
        "Hub id",
        key="model_hub",
        placeholder="owner/model, e.g. distilbert/distilbert-base-uncased",
    ).strip()

if choice != current:
    set_config(config.replace(model={"name_or_path": choice}))
if choice:
    try:
        with st.spinner("Checking the model…"):
            found = check_model_source(choice)
    except ModelError as err:
        st.error(str(err), icon=":material/error:")
    else:
        st.success(f"Ready: {found.description}.", icon=":material/check_circle:")

next_button("Model", "Next: your data", "pages/data.py")
