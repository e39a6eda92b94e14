"""Step 2 · Data: upload a file (or use the sample), check it, map the columns, set the split."""

from pathlib import Path

import streamlit as st

from core.data.detect import check_labels, check_text, suggest_columns, suggest_mapping
from core.data.lineage import read_version
from core.data.load import SUPPORTED, DataError, source_path, store_upload
from core.paths import allowed_roots, confine_source, workspace_folders
from core.runs import data_root, workspace_root
from pages.common import get_config, next_button, require_router, set_config, stepper
from pages.data_admin import is_admin, others_section
from pages.data_quality import drift_section, quality_section, read_table
from pages.data_reading import reading_section
from pages.data_tasks import choose_task, generative_mapping, render_examples

require_router()

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "sample_reviews.csv"
MAX_UPLOAD_MB = st.get_option("server.maxUploadSize")
# A new file starts with no column chosen (the suggestion fills them in).
UNMAPPED = {"text_column": "", "text_pair_column": "", "label_column": "", "fingerprint": ""}


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
    stored = store_upload(uploaded.getvalue(), uploaded.name, workspace_root())
    config = config.replace(data={"path": str(stored), **UNMAPPED})
    set_config(config)
with upload_col.expander("Bigger than the upload limit? A path on this computer or a Hub dataset"):
    source = st.text_input(
        "Path or Hub id",
        placeholder="/data/reviews.parquet, a save_to_disk folder, or owner/dataset",
    )
    if st.button("Use this data", disabled=not source.strip()):
        try:
            with st.spinner("Reading…"):
                # an admin may also name any user's uploads and versions (pages/data_admin.py)
                extra = workspace_folders(every_user=True) if is_admin() else []
                found = source_path(confine_source(source, allowed_roots() + extra), data_root())
        except DataError as err:
            st.error(str(err), icon=":material/error:")
        else:
            config = config.replace(data={"path": str(found), **UNMAPPED})
            set_config(config)
opened = others_section(upload_col)
if opened:
    config = config.replace(data={"path": opened, **UNMAPPED})
    set_config(config)
sample_col.write("")
if sample_col.button("Use the sample data", icon=":material/dataset:"):
    config = config.replace(data={"path": str(SAMPLE), **UNMAPPED})
    set_config(config)


def shown_name(path: str) -> str:
    """The file's name; for a saved version (a fix, a header correction), its original's."""
    try:
        record = read_version(path)
    except DataError:  # a damaged record: the file's own name will do here
        record = None
    return f"{Path(record.source).name} (version)" if record else Path(path).name


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
        f"**{shown_name(config.data.path)}**: {len(table):,} rows, {len(table.columns)} columns."
    )
    st.dataframe(table.head(20), width="stretch", height=260)
    reading_section(table, config)

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
        render_examples(table, changes, task, config=config)
        return
    if config.model.task != "classification":
        config = config.replace(model={"task": "classification"})
        set_config(config)
    try:
        suggestion = shape if shape["task"] == "classification" else suggest_columns(table)
    except DataError as err:
        st.error(str(err), icon=":material/error:")
        return
    text_col, pair_col, label_col = classification_columns(config, columns, suggestion)
    try:
        check_text(table, text_col)
        check_labels(table, label_col)
    except DataError as err:
        st.error(str(err), icon=":material/error:")
        set_config(config.replace(data={"text_column": "", "label_column": ""}))
        return
    counts = table[label_col].astype(str).str.strip().value_counts()
    st.caption("Labels: " + ", ".join(f"{name} ({n})" for name, n in counts.items()))
    data = {"text_column": text_col, "text_pair_column": pair_col, "label_column": label_col}
    set_config(config.replace(data={**data, "validation_fraction": fraction}))
    mapping = {"task": "classification", "text": text_col, "label": label_col}
    quality_section(table, mapping, get_config())
    drift_section(table, mapping)


def classification_columns(config, columns: list[str], suggestion: dict) -> tuple[str, str, str]:
    """The text, optional second text and label columns: the config's if still there, else the
    suggestion."""
    left, middle, right = st.columns(3)

    def keep(current: str, options: list[str], suggested: str) -> str:
        return current if current in options else suggested

    text_default = keep(config.data.text_column, columns, suggestion["text"])
    text_col = left.selectbox(
        "Text (what the model reads)", columns, index=columns.index(text_default)
    )
    pair_options = [""] + [c for c in columns if c != text_col]
    # "(none)" is a choice too: the suggestion fills it only when the columns are new.
    mapped = st.session_state.get("data-pair-columns") == columns
    st.session_state["data-pair-columns"] = columns
    pair_default = config.data.text_pair_column if mapped else suggestion.get("text_pair", "")
    pair_col = middle.selectbox(
        "Second text (optional, read with it)",
        pair_options,
        index=pair_options.index(pair_default) if pair_default in pair_options else 0,
        format_func=lambda c: c or "(none)",
        help="A title beside a description, or the second sentence of a pair.",
    )
    label_options = [c for c in columns if c not in (text_col, pair_col)]
    label_default = keep(config.data.label_column, label_options, suggestion["label"])
    label_col = right.selectbox(
        "Label (what it should predict)",
        label_options,
        index=label_options.index(label_default) if label_default in label_options else 0,
    )
    return text_col, pair_col, label_col


map_columns(config)
next_button("Data", "Next: train", "pages/train.py")
