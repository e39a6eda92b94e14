"""The Results page's "use the model" part: predict a whole file, a standalone (merged) model,
and the commands that serve it.

Not a page itself (app.py lists the pages explicitly); pages/results.py calls `show_use`.
Long work runs elsewhere: a file's predictions in their own process (core.predict_job, polled
here), the merge in the page with a spinner after its memory check (seconds for small models).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import streamlit as st

from core.data.load import SUPPORTED
from core.merge import MERGED_DIR, MergeError, check_merge_memory, folder_size_gb
from core.predict_job import latest_job, read_progress, start_prediction
from core.serving import ENGINES_NOT_HERE, serving_commands

ZIP_LIMIT_GB = 1.0  # larger merged models are offered as a folder on the server, not a download


def show_use(run_dir: str, task: str) -> None:
    if task != "classification":
        show_playground(run_dir)
    show_file_prediction(run_dir, task)
    show_standalone(run_dir)
    show_serving(run_dir, task)


@st.cache_resource(max_entries=1, show_spinner="Loading your model…")
def playground_generator(run: str, saved_at: float):
    """The run's base + adapter; `saved_at` (the adapter's mtime) reloads it after a resume."""
    from core.evaluate import load_generator

    return load_generator(Path(run))


def show_playground(run_dir: str) -> None:
    """One prompt to the base model and to the tuned one, same decoding settings, side by side."""
    from core.playground import Decoding, side_by_side

    st.subheader("What fine-tuning changed")
    prompt = st.text_area("A prompt for both models", key="playground-prompt")
    cols = st.columns(3)
    tokens = cols[0].number_input("Longest answer (tokens)", 1, 2048, 64, key="playground-tokens")
    temperature = cols[1].slider("Temperature (0: always the same answer)", 0.0, 1.5, 0.0, 0.05,
                                 key="playground-temperature")  # fmt: skip
    seed = cols[2].number_input("Seed", 0, 2**31 - 1, 0, key="playground-seed")
    if not st.button("Compare", disabled=not prompt.strip(), key="playground-compare"):
        return
    adapter = Path(run_dir) / "adapter"
    try:
        generator = playground_generator(run_dir, adapter.stat().st_mtime)
        with st.spinner("Writing both answers…"):
            both = side_by_side(
                generator, prompt, Decoding(int(tokens), temperature, 1.0, int(seed))
            )
    except (OSError, ValueError, KeyError) as err:
        st.error(f"Cannot compare: {err}", icon=":material/error:")
        return
    left, right = st.columns(2)
    left.markdown("**Base model**")
    left.text(both["base"] or "(no text)")
    right.markdown("**Your fine-tuned model**")
    right.text(both["tuned"] or "(no text)")


def show_file_prediction(run_dir: str, task: str) -> None:
    """Upload a file; its rows are predicted in a background job that a reload reattaches to."""
    classification = task == "classification"
    st.subheader("Label a whole file" if classification else "Answer a whole file")
    uploaded = st.file_uploader(
        "A file to predict (the text column is found as on the Data page)",
        type=[s.lstrip(".") for s in SUPPORTED],
        key="predict-upload",
    )
    threshold = None
    if classification and st.checkbox("Mark unsure rows for review", key="predict-review"):
        threshold = st.slider(
            "Review rows the model is less sure of than", 0.5, 0.99, 0.7, 0.01, format="%.2f"
        )
    job = latest_job(run_dir)
    running = job is not None and read_progress(job)["state"] in ("starting", "running")
    if st.button(
        "Predict every row",
        disabled=uploaded is None or running,
        help="Upload a file first." if uploaded is None else None,
        icon=":material/table_view:",
    ):
        start_prediction(Path(run_dir), uploaded.name, uploaded.getvalue(), threshold)
        running = True
    if running:
        prediction_progress(run_dir)
    elif job is not None:
        show_prediction_outcome(job)


@st.fragment(run_every=1.0)
def prediction_progress(run_dir: str) -> None:
    """The running job's progress bar; the whole page reruns once it ends."""
    job = latest_job(run_dir)
    progress = read_progress(job)
    if progress["state"] not in ("starting", "running"):
        st.rerun()
    total, done = progress.get("total") or 0, progress.get("done") or 0
    st.progress(done / total if total else 0.0, text=f"Predicting: {done:,} of {total:,} rows")


def show_prediction_outcome(job: Path) -> None:
    progress = read_progress(job)
    name = json.loads((job / "job.json").read_text()).get("name", "file")
    if progress["state"] == "failed":
        st.error(f"{name}: {progress.get('error')}", icon=":material/error:")
        return
    for warning in progress.get("warnings", []):
        st.warning(warning, icon=":material/warning:")
    if progress.get("warnings") and st.button("Run the drift check", key="predict-drift"):
        show_drift(job)
    table = read_table(job / "predictions.csv")
    stem = Path(name).stem
    summary = f"{name}: {progress.get('done', 0):,} rows predicted"
    if "review" in table:
        summary += f", {int(table['review'].sum()):,} marked for review"
    st.success(summary, icon=":material/check_circle:")
    st.dataframe(table.head(20), hide_index=True)
    left, right = st.columns(2)
    left.download_button("Download CSV", (job / "predictions.csv").read_bytes(),
                         f"{stem}-predicted.csv", "text/csv")  # fmt: skip
    right.download_button("Download JSONL", (job / "predictions.jsonl").read_bytes(),
                          f"{stem}-predicted.jsonl", "application/jsonl")  # fmt: skip


def read_table(path: Path):
    import pandas as pd

    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def show_drift(job: Path) -> None:
    from core.predict_job import drift_against_training

    with st.spinner("Comparing with the training data…"):
        result = drift_against_training(job)
    if result is None:
        st.info("The training file is no longer on this server: nothing to compare with.")
        return
    st.markdown(f"**Drift check: {result.verdict}**")
    for check in result.checks:
        st.caption(check.message)


def show_standalone(run_dir: str) -> None:
    """Build the merged model (after its memory check), download it, push it to the Hub."""
    from core.merge import saved_adapter

    st.subheader("A standalone model")
    st.caption(
        "The adapter folded into the base model: one folder (safetensors weights, tokenizer, "
        "config, model card) that loads with plain transformers, no peft. It holds no text from "
        "your data."
    )
    try:
        need = check_merge_memory(saved_adapter(Path(run_dir))["base_model"])
    except MergeError as err:
        st.info(str(err), icon=":material/memory:")
        return
    merged = Path(run_dir) / MERGED_DIR
    if st.button(f"Build it (needs about {need['needed_gb']:.1f} GB of memory)"):
        build_merged(run_dir)
    if not (merged / "config.json").exists():
        return
    size = folder_size_gb(merged)
    if size <= ZIP_LIMIT_GB:
        st.download_button(
            f"Download the standalone model ({size * 1000:.0f} MB .zip)",
            data=zipped(str(merged), merged.stat().st_mtime),
            file_name=f"{Path(run_dir).name}-merged.zip",
            mime="application/zip",
            icon=":material/download:",
        )
    else:
        st.info(f"The merged model ({size:.1f} GB) is in `{merged}` on the server.")
    offer_hub_push(merged)


def build_merged(run_dir: str) -> None:
    from core.merge import export_merged

    with st.spinner("Merging the adapter into the base model…"):
        try:
            export_merged(Path(run_dir))
        except MergeError as err:
            st.error(str(err), icon=":material/error:")


@st.cache_data(max_entries=1, show_spinner="Packing the model…")
def zipped(folder: str, saved_at: float) -> bytes:
    """The merged folder as a zip; `saved_at` (its mtime) repacks it after a rebuild."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(Path(folder).iterdir()):
            archive.write(path, f"merged/{path.name}")
    return buffer.getvalue()


def offer_hub_push(merged: Path) -> None:
    """Push to a private Hub repo; the token is typed here (kept in memory only) or HF_TOKEN."""
    from core.merge import push_to_hub

    with st.expander("Push to the Hugging Face Hub"):
        repo_id = st.text_input("Repository", placeholder="your-name/my-model", key="hub-repo")
        token = None
        if not os.environ.get("HF_TOKEN"):
            token = st.text_input("Write token", type="password", key="hub-token",
                                  help="Used for this upload only; never saved.")  # fmt: skip
        if st.button("Push", disabled=not repo_id, key="hub-push"):
            try:
                st.success(f"Uploaded: {push_to_hub(merged, repo_id, token)}")
            except MergeError as err:
                st.error(str(err), icon=":material/cloud_off:")


def show_serving(run_dir: str, task: str) -> None:
    st.subheader("Serve it")
    try:
        commands = serving_commands(Path(run_dir))
    except FileNotFoundError as err:
        st.warning(str(err))
        return
    for entry in commands:
        st.markdown(f"**{entry['engine']}**")
        st.code(entry["command"], language="bash", wrap_lines=True)
        if entry["note"]:
            st.caption(entry["note"])
    if task != "classification":
        st.caption(ENGINES_NOT_HERE)
