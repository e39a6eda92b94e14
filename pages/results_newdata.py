"""The Results page's "Will it still work on new data?" part: a new labelled batch scored
against the run's validation figures, with the drift report and one plain verdict.

Not a page itself (app.py lists the pages explicitly); pages/results.py calls `show_new_data`.
The logic is core.newdata; the check runs as a background job (core.newdata_job), polled here,
so a big batch never freezes the page and a reload reattaches to it. An uploaded batch is kept
beside the run (run/newdata/uploads/), the report too (run/newdata/<key>/report.json).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import streamlit as st

from core.data.formats import DataError
from core.data.load import SUPPORTED
from core.newdata_job import RUNNING, checks, job_spec, latest_check, read_report, start_check
from core.predict_job import read_progress


def show_new_data(run_dir: str, task: str) -> None:
    classification = task == "classification"
    st.subheader("Will it still work on new data?")
    st.caption(
        "Give it a new labelled batch: it is scored as validation was, and compared with the "
        "training data. Columns are found as on the Data page."
        if classification
        else "Give it a new batch of texts: its loss and perplexity are measured as "
        "validation's were."
    )
    uploaded = st.file_uploader(
        "A new batch", type=[s.lstrip(".") for s in SUPPORTED], key="newdata-upload"
    )
    typed = st.text_input("…or a file on the server", key="newdata-path")
    text_col = label_col = ""
    embed = False
    if classification:
        left, right = st.columns(2)
        text_col = left.text_input("Text column (blank: found for you)", key="newdata-text")
        label_col = right.text_input("Label column (blank: found for you)", key="newdata-label")
        embed = st.checkbox(
            "Compare meaning too (sentence embeddings: a few seconds more)",
            value=True,
            key="newdata-embed",
        )
    job = latest_check(run_dir)
    running = job is not None and read_progress(job)["state"] in RUNNING
    if st.button(
        "Check the new batch",
        disabled=(uploaded is None and not typed.strip()) or running,
        help="A check is running: wait for it." if running else None,
        icon=":material/fact_check:",
        key="newdata-check",
    ):
        if start(run_dir, uploaded, typed, text_col, label_col, embed):
            st.rerun()  # drawn again with the button off and the check's progress (or report)
    if running:
        check_progress(run_dir)
    elif job is not None:
        show_outcome(pick_check(run_dir, job))


def start(run_dir, uploaded, typed, text_col, label_col, embed) -> Path | None:
    """Start (or reopen) the check of the batch; a bad path becomes a message and None."""
    st.session_state.pop("newdata-earlier", None)  # the new check shows, not an earlier pick
    try:
        path = batch_path(run_dir, uploaded, typed)
        name = uploaded.name if uploaded is not None else path.name
        return start_check(Path(run_dir), path, name, text_col.strip() or None,
                           label_col.strip() or None, embed)  # fmt: skip
    except (DataError, OSError) as err:
        st.error(str(err), icon=":material/error:")
        return None


@st.fragment(run_every=1.0)
def check_progress(run_dir: str) -> None:
    """The running check's progress bar; the whole page reruns once it ends."""
    progress = read_progress(latest_check(run_dir))
    if progress["state"] not in RUNNING:
        st.rerun()
    total, done = progress.get("total") or 0, progress.get("done") or 0
    stage = progress.get("stage") or "Starting"
    st.progress(done / total if total else 0.0, text=f"{stage}: {done:,} of {total:,} rows")


def pick_check(run_dir: str, latest: Path) -> Path:
    """The check to show: the latest, or an earlier one picked from the list (each reopens
    its saved report, nothing is scored again)."""
    found = [str(j) for j in checks(run_dir) if read_progress(j)["state"] not in RUNNING]
    if len(found) < 2:
        return latest

    def label(job: str) -> str:
        spec = job_spec(Path(job))
        when = datetime.fromtimestamp(spec.get("started", 0)).strftime("%Y-%m-%d %H:%M")
        return f"{spec.get('name', Path(job).name)} · {when}"

    return Path(st.selectbox("Checks of this run", found, format_func=label, key="newdata-earlier"))


def show_outcome(job: Path) -> None:
    progress = read_progress(job)
    name = job_spec(job).get("name", "batch")
    if progress["state"] == "failed":
        st.error(f"{name}: {progress.get('error')}", icon=":material/error:")
        return
    report = read_report(job)
    if report is None:
        st.error(f"{name}: the check's report is missing: check the batch again.")
        return
    (show_class_report if "labels" in report else show_text_report)(report)


def batch_path(run_dir: str, uploaded, typed: str) -> Path:
    """The upload, kept under the run (content-addressed), or the typed path once confined."""
    from core.data.load import store_upload
    from core.paths import confine

    if uploaded is not None:
        return store_upload(uploaded.getvalue(), uploaded.name, Path(run_dir) / "newdata")
    path = confine(typed.strip())
    if not path.is_file():
        raise DataError(f"No file at {typed.strip()}: check the path.")
    return path


def show_class_report(report: dict) -> None:
    from core.plots.results import confusion_figure

    st.info(f"**{report['verdict']}**", icon=":material/lightbulb:")
    if report["unknown_labels"]:
        named = ", ".join(f"{k} ({v})" for k, v in list(report["unknown_labels"].items())[:8])
        st.warning(
            f"{sum(report['unknown_labels'].values()):,} rows have labels the model never saw: "
            f"{named}. They are left out of the scores; retrain with them to predict them.",
            icon=":material/new_label:",
        )
    st.caption(
        f"{report['scored']:,} of {report['rows']:,} rows scored (text `{report['text_column']}`,"
        f" label `{report['label_column']}`); macro-F1 over the {report['macro_f1_labels']} "
        "labels the batch holds, on both sides."
    )
    old, new = report["validation"], report["new"]
    cols = iter(st.columns(4))
    for name, key in (("Accuracy", "accuracy"), ("Macro-F1", "macro_f1")):
        next(cols).metric(f"{name}, validation", f"{old[key]:.1%}")
        change = 100 * (new[key] - old[key])
        next(cols).metric(f"{name}, new batch", f"{new[key]:.1%}", f"{change:+.1f} points")
    left, right = st.columns(2)
    left.markdown("**Per class** (worst change first)")
    left.dataframe(report["per_class"], hide_index=True)
    right.plotly_chart(
        confusion_figure(report["confusion"], report["labels"]),
        width="stretch",
        key="newdata-confusion",
    )
    drift = report["drift"]
    if drift is None:
        st.info("The training file is no longer on this server: no drift report.")
        return
    st.markdown(f"**Drift from the training data: {drift['verdict']}**")
    for check in drift["checks"]:
        st.caption(check["message"])


def show_text_report(report: dict) -> None:
    st.info(f"**{report['verdict']}**", icon=":material/lightbulb:")
    old, new = report["validation"], report["new"]
    cols = st.columns(4)
    cols[0].metric("Loss, validation", f"{old['eval_loss']:.3f}")
    cols[1].metric("Loss, new batch", f"{new['eval_loss']:.3f}",
                   f"{new['eval_loss'] - old['eval_loss']:+.3f}", delta_color="inverse")  # fmt: skip
    cols[2].metric("Perplexity, validation", f"{old['perplexity']:.1f}")
    cols[3].metric("Perplexity, new batch", f"{new['perplexity']:.1f}",
                   f"{new['perplexity'] - old['perplexity']:+.1f}", delta_color="inverse")  # fmt: skip
    st.caption(f"{report['scored']:,} of {report['rows']:,} rows measured "
               f"({report['n_tokens']:,} tokens).")  # fmt: skip
