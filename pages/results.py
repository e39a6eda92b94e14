"""Step 4 · Results: how good the model is, try it, download it."""

import shlex
from functools import partial
from pathlib import Path

import streamlit as st

from core import runs
from core.compare import energy_summary
from core.export import adapter_zip
from core.train.precision import precision_text
from pages.common import readiness, require_router, stepper
from pages.results_classification import show_report
from pages.results_newdata import show_new_data
from pages.results_use import show_use

require_router()


@st.cache_resource(max_entries=2, show_spinner="Loading your model…")
def classifier_for(run: str, saved_at: float):
    """The run's classifier; `saved_at` (the adapter's mtime) reloads it after a resume."""
    from core.evaluate import load_classifier

    return load_classifier(Path(run))


@st.cache_resource(max_entries=2, show_spinner="Loading your model…")
def generator_for(run: str, saved_at: float):
    from core.evaluate import load_generator

    return load_generator(Path(run))


def adapter_time(run: str) -> float:
    adapter = Path(run) / runs.ADAPTER_DIR
    return adapter.stat().st_mtime if adapter.exists() else 0.0


def try_model(make_answer) -> None:
    """Run one "try it" answer; a model that cannot load gets a message, not a traceback."""
    try:
        make_answer()
    except (OSError, ValueError, KeyError) as err:
        st.error(
            f"The trained model could not be loaded: {err}. If you moved the base model's "
            "folder, put it back, or train again.",
            icon=":material/error:",
        )


def classification_results(evaluation: dict, run_dir: str, config) -> None:
    show_report(evaluation, config, runs.read_metrics(Path(run_dir)))
    st.subheader("Try it")
    sentence = st.text_input("Type a sentence", placeholder="The battery died after two days.")
    if sentence.strip():
        from core.evaluate import predict

        def answer():
            result = predict(classifier_for(run_dir, adapter_time(run_dir)), [sentence])[0]
            st.markdown(
                f"Predicted label: **{result['label']}** ({result['probability']:.0%} sure)"
            )
            st.bar_chart(result["probabilities"], horizontal=True, height=160)

        try_model(answer)
    st.caption("Label a whole file (CSV, TSV, JSON, Excel …) from a terminal:")
    st.code(
        f"python -m core.predict --run {shlex.quote(run_dir)} --data YOUR_FILE.csv --out labelled.csv",
        language="bash",
    )


def generation_results(evaluation: dict, run_dir: str) -> None:
    cols = st.columns(3)
    cols[0].metric("Validation loss", f"{evaluation['eval_loss']:.3f}")
    cols[1].metric(
        "Perplexity",
        f"{evaluation['perplexity']:.1f}",
        help="How surprised the model is by the validation answers: lower is better.",
    )
    cols[2].metric("Validation examples", f"{evaluation['n_validation']:,}")
    if evaluation.get("samples"):
        st.subheader("What it writes for validation prompts")
        st.dataframe(evaluation["samples"], width="stretch")
    st.subheader("Try it")
    prompt = st.text_area("Your prompt", placeholder="Write a short reply to a customer…")
    if prompt.strip():
        from core.evaluate import generate

        def answer():
            with st.spinner("Writing…"):
                model = generator_for(run_dir, adapter_time(run_dir))
                st.markdown(f"**Answer:** {generate(model, prompt)}")

        try_model(answer)


stepper("Results")
st.header("How good is your model?")

run_dir = st.session_state.get("run_dir")
done, reason = readiness()["Results"]
if not done:
    st.info(reason)
    if st.button("Go to training"):
        st.switch_page("pages/train.py")
    st.stop()

path = Path(run_dir)
evaluation = runs.read_eval(path)
if not evaluation:
    st.warning("This run saved an adapter but no evaluation. Train again to measure it.")
    st.stop()

config = runs.read_config(path)
st.caption(
    f"Run `{path.name}` · model `{config.model.name_or_path}` · data fingerprint "
    f"`{config.data.fingerprint or 'n/a'}`"
)
if precision_text(evaluation):  # engine: the dtypes read back from the trained model
    st.caption(f"Trained with {precision_text(evaluation)}.")
if evaluation.get("task", "classification") == "classification":
    classification_results(evaluation, run_dir, config)
else:
    generation_results(evaluation, run_dir)

st.subheader("Energy and cost")
st.markdown(energy_summary(path))

st.subheader("Download")
whole_model = config.lora.method == "full"
include_examples = st.checkbox(
    "Include validation examples in the zip",
    help="Off: the zip holds no text from your data (only its file name and fingerprint).",
)
st.download_button(
    "Download the model (.zip)" if whole_model else "Download the adapter (.zip)",
    data=partial(adapter_zip, path, include_examples),  # zipped when clicked, not on every rerun
    file_name=f"{path.name}-{'model' if whole_model else 'adapter'}.zip",
    mime="application/zip",
    type="primary",
    icon=":material/download:",
)
st.caption(
    "Holds the whole fine-tuned model (every weight was trained), tokenizer, label names, this "
    "run's config and a model card."
    if whole_model
    else "Holds the adapter weights, tokenizer, label names, this run's config and a model card."
)

show_new_data(run_dir, evaluation.get("task", "classification"))  # newdata: a new batch scored
show_use(run_dir, evaluation.get("task", "classification"))  # use-model: files, merge, serving
