"""Step 2 · Data: upload a file (or use the sample), check it, map the columns, set the split."""

import json
from pathlib import Path

import streamlit as st

from core.data.clean import Recipe, Step, apply_step, preview_step
from core.data.detect import check_labels, suggest_columns, suggest_mapping
from core.data.lineage import data_fingerprint, read_version, save_version
from core.data.load import SUPPORTED, DataError, load_table, source_path, store_upload
from core.runs import data_root
from pages.common import get_config, next_button, set_config, stepper
from pages.data_tasks import choose_task, generative_mapping, render_examples

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "sample_reviews.csv"
MAX_UPLOAD_MB = st.get_option("server.maxUploadSize")


@st.cache_data(show_spinner="Reading the data…", max_entries=8)
def read_table(path: str):
    return load_table(path)


def check_quality(path: str, text: str, label: str, max_length: int):
    """The quality report, with a progress bar the first time (1 M rows take ~20 s); kept for
    this session until the data or its mapping changes."""
    from core.data.quality import quality_report

    key = (path, text, label, max_length)
    kept = st.session_state.get("quality-report")
    if kept and kept[0] == key:
        return kept[1]
    bar = st.progress(0.0, text="Checking the data…")
    mapping = {"task": "classification", "text": text, "label": label}
    report = quality_report(
        read_table(path),
        mapping,
        max_length=max_length,
        progress=lambda done, what: bar.progress(min(1.0, done), text=f"Checking: {what}…"),
    )
    bar.empty()
    st.session_state["quality-report"] = (key, report)
    return report


def overlap_finding(table, config):
    """Leakage on the very split training will make (same columns, share and seed)."""
    from core.data.quality import split_overlap
    from core.data.split import classification_split

    train, validation = classification_split(table, config.data)
    return split_overlap(train["text"], validation["text"])


def lineage(path: str):
    """(original file, recipe so far) of the data at `path` (a saved version or an upload)."""
    record = read_version(path)
    if record is None:
        return path, Recipe()
    return record.source, Recipe.from_list(record.recipe)


def apply_fix(table, mapping, config, step: Step) -> None:
    """Apply one fix, store the result as a new version and point the config at it."""
    source, recipe = lineage(config.data.path)
    cleaned = apply_step(table, mapping, step)
    rows_before = len(read_table(source))
    record = save_version(
        cleaned, data_root(), source, recipe.then(step), rows_before, config.data.split_seed
    )
    set_config(config.replace(data={"path": record.path, "fingerprint": record.fingerprint}))


def show_finding(finding, table, mapping, config) -> None:
    icon = {"ok": "check_circle", "warning": "warning", "problem": "error"}[finding.severity]
    with st.expander(
        f"{finding.title}: {finding.count:,}",
        expanded=finding.severity == "problem",
        icon=f":material/{icon}:",
    ):
        st.write(finding.message)
        for example in finding.examples:
            st.code(example, language=None)
        if finding.fix is None or finding.count == 0:
            return
        step = Step(finding.fix["step"], finding.fix["params"])
        name = step.step.replace("_", " ")
        try:
            preview = preview_step(table, mapping, step)
        except DataError as err:
            st.error(str(err), icon=":material/error:")
            return
        st.caption(f"Fix '{name}' would leave {preview.summary}.")
        if len(preview.dropped):
            st.dataframe(preview.dropped, height=150)
        if len(preview.after):
            st.dataframe(preview.after, height=150)
        if st.button(f"Apply: {name}", key=f"fix-{finding.key}"):
            apply_fix(table, mapping, config, step)
            st.rerun()


def quality_section(table, mapping, config) -> None:
    """The quality report, one expander per finding with its fix; recipe and fingerprint."""
    from core.plots.data import findings_chart, label_chart, length_chart

    st.subheader("Is the data ready?")
    report = check_quality(
        config.data.path, mapping["text"], mapping["label"], config.training.max_length
    )
    say = {"ready": st.success, "usable with warnings": st.warning, "needs fixing": st.error}
    say[report.verdict](f"Verdict: **{report.verdict}**. " + " · ".join(report.top_fixes))
    for finding in report.findings + [overlap_finding(table, config)]:
        show_finding(finding, table, mapping, config)
    charts = st.tabs(["Findings", "Labels", "Lengths"])
    charts[0].plotly_chart(findings_chart(report))
    charts[1].plotly_chart(label_chart(report.label_counts))
    charts[2].plotly_chart(
        length_chart(report.token_lengths, report.max_length, report.lengths_estimated)
    )
    source, recipe = lineage(config.data.path)
    fingerprint = data_fingerprint(config.data.path, table)
    if fingerprint != config.data.fingerprint:
        set_config(get_config().replace(data={"fingerprint": fingerprint}))
    st.caption(f"Data fingerprint (content + cleaning recipe): `{fingerprint}`")
    if recipe.steps:
        st.caption(
            f"Cleaned from {Path(source).name} with: "
            + " → ".join(s.step.replace("_", " ") for s in recipe.steps)
        )
        left, right = st.columns(2)
        left.download_button(
            "Download the recipe",
            json.dumps({"recipe": recipe.to_list()}, indent=2),
            "recipe.json",
            "application/json",
        )
        if right.button("Back to the original data"):
            set_config(get_config().replace(data={"path": source, "fingerprint": ""}))
            st.rerun()


def drift_section(table, mapping) -> None:
    """Compare this data with another file (e.g. a new batch)."""
    with st.expander("Compare with another dataset (drift)"):
        other = st.file_uploader(
            "The other dataset", type=[s.lstrip(".") for s in SUPPORTED], key="drift-upload"
        )
        embed = st.checkbox("Also compare meaning with the sentence model (slower)", value=False)
        if other is None:
            return
        try:
            new = load_table(store_upload(other.getvalue(), other.name, data_root()))
            missing = [c for c in (mapping["text"],) if c not in new.columns]
            if missing:
                raise DataError(f"{other.name} has no column {missing[0]!r}; rename it to match.")
        except DataError as err:
            st.error(str(err), icon=":material/error:")
            return
        from core.data.drift import compare
        from core.plots.data import drift_checks_chart, drift_label_chart, drift_length_chart

        result = compare(table, new, mapping, embed=embed)
        st.markdown(f"**{result.verdict.capitalize()}**")
        for check in result.checks:
            mark = ":red[:material/error:]" if check.drifted else ":green[:material/check_circle:]"
            st.markdown(f"{mark} {check.message}")
        cols = st.columns(2)
        cols[0].plotly_chart(drift_length_chart(result))
        cols[1].plotly_chart(drift_label_chart(result))
        st.plotly_chart(drift_checks_chart(result))


stepper("Data")
st.header("Bring your data")
st.write(
    "A table of examples: one column with the text, one with the label the model should learn. "
    "CSV, TSV, JSON, JSON Lines, Parquet, Excel or plain text (also .gz / .zip), up to "
    f"{MAX_UPLOAD_MB} MB (the limit is `server.maxUploadSize` in `.streamlit/config.toml`)."
)

config = get_config()
upload_col, sample_col = st.columns([3, 1])
uploaded = upload_col.file_uploader("Upload a file", type=[s.lstrip(".") for s in SUPPORTED])
if uploaded is not None and uploaded.file_id != st.session_state.get("data-upload-id"):
    # Only a new upload switches the data: a fix or the sample chosen later stays chosen.
    st.session_state["data-upload-id"] = uploaded.file_id
    stored = store_upload(uploaded.getvalue(), uploaded.name, data_root())
    config = config.replace(
        data={"path": str(stored), "text_column": "", "label_column": "", "fingerprint": ""}
    )
    set_config(config)
with upload_col.expander("Bigger than the upload limit? A path on this computer or a Hub dataset"):
    source = st.text_input(
        "Path or Hub id",
        placeholder="/data/reviews.parquet, a save_to_disk folder, or owner/dataset",
    )
    if st.button("Use this data", disabled=not source.strip()):
        try:
            with st.spinner("Reading…"):
                found = source_path(source, data_root())
        except DataError as err:
            st.error(str(err), icon=":material/error:")
        else:
            config = config.replace(
                data={"path": str(found), "text_column": "", "label_column": "", "fingerprint": ""}
            )
            set_config(config)
sample_col.write("")
if sample_col.button("Use the sample data", icon=":material/dataset:"):
    config = config.replace(
        data={"path": str(SAMPLE), "text_column": "", "label_column": "", "fingerprint": ""}
    )
    set_config(config)


def map_columns(config) -> None:
    """Preview the chosen file, suggest and check the column mapping, set the split."""
    if not config.data.path:
        st.info("No data yet: upload a file, or try the app with the sample product reviews.")
        return

    try:
        table = read_table(config.data.path)
    except DataError as err:
        st.error(str(err), icon=":material/error:")
        st.caption("Your previous choices are kept; upload a corrected file to go on.")
        set_config(config.replace(data={"text_column": "", "label_column": ""}))
        return

    st.success(
        f"**{Path(config.data.path).name}**: {len(table):,} rows, {len(table.columns)} columns."
    )
    for note in table.attrs.get("notes", []):
        st.caption(f":material/info: {note}")
    st.dataframe(table.head(20), width="stretch", height=260)

    try:
        shape = suggest_mapping(table)
    except DataError as err:
        st.error(str(err), icon=":material/error:")
        return

    columns = list(table.columns)
    st.subheader("Which column is which?")
    task = choose_task(config, shape)
    fraction = st.slider(
        "Share held out for validation",
        0.05,
        0.5,
        float(config.data.validation_fraction),
        0.05,
        help="These rows are never trained on; they measure how good the model is.",
    )
    if task != "classification":
        changes = generative_mapping(table, config, shape, task)
        changes["validation_fraction"] = fraction
        config = config.replace(model={"task": task}, data=changes)
        set_config(config)
        render_examples(table, changes, task)
        return
    if config.model.task != "classification":
        config = config.replace(model={"task": "classification"})
        set_config(config)
    try:
        suggestion = suggest_columns(table)
    except DataError as err:
        st.error(str(err), icon=":material/error:")
        return
    left, right = st.columns(2)
    text_default = (
        config.data.text_column if config.data.text_column in columns else suggestion["text"]
    )
    text_col = left.selectbox(
        "Text (what the model reads)", columns, index=columns.index(text_default)
    )
    label_options = [c for c in columns if c != text_col]
    label_default = (
        config.data.label_column
        if config.data.label_column in label_options
        else suggestion["label"]
    )
    label_col = right.selectbox(
        "Label (what it should predict)",
        label_options,
        index=label_options.index(label_default) if label_default in label_options else 0,
    )

    try:
        check_labels(table, label_col)
    except DataError as err:
        st.error(str(err), icon=":material/error:")
        set_config(config.replace(data={"text_column": "", "label_column": ""}))
    else:
        counts = table[label_col].astype(str).str.strip().value_counts()
        st.caption("Labels: " + ", ".join(f"{name} ({n})" for name, n in counts.items()))
        set_config(
            config.replace(
                data={
                    "text_column": text_col,
                    "label_column": label_col,
                    "validation_fraction": fraction,
                }
            )
        )
        mapping = {"task": "classification", "text": text_col, "label": label_col}
        quality_section(table, mapping, get_config())
        drift_section(table, mapping)


map_columns(config)
next_button("Data", "Next: train", "pages/train.py")
