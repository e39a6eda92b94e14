"""Home: what the app does, what this machine has, and where to start."""

import streamlit as st

from pages.common import hardware, init_state, require_router

require_router()

init_state()

st.title("Finetune Studio")
st.markdown(
    "Teach a language model your own task from your own examples.  \n"
    "Pick a model, bring your data (we check it for problems), and train a small **LoRA adapter** "
    "with live progress.  \n"
    "Then see how good it is, try it on your own sentences and download it."
)

hw = hardware().to_dict()
st.subheader("This computer")
cols = st.columns(4)
cols[0].metric("CPU cores", hw["cpu_cores"])
cols[1].metric("Memory (RAM)", f"{hw['ram_gb']:.0f} GB")
cols[2].metric("bf16 on CPU", "yes" if hw["cpu_bf16"] else "no")
if hw["gpus"]:
    gpu_text = ", ".join(f"{g['name']} ({g['memory_gb']:.0f} GB)" for g in hw["gpus"])
    cols[3].metric("GPUs", len(hw["gpus"]), help=gpu_text)
    st.caption(f"GPUs: {gpu_text}")
else:
    cols[3].metric("GPUs", "none", help="Training runs on the CPU: fine for small models.")

st.subheader("How do you want to work?")
mode = st.radio(
    "Mode",
    ["Guided", "Expert"],
    index=["Guided", "Expert"].index(st.session_state["mode"]),
    captions=[
        "Presets and plain words: the quickest way to a good result.",
        "Also shows every training setting on the Train page, and the Expert settings page.",
    ],
    horizontal=True,
    label_visibility="collapsed",
)
st.session_state["mode"] = mode

if st.button("Start", type="primary", icon=":material/arrow_forward:"):
    st.switch_page("pages/model.py")
