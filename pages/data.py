"""Step 2 · Data: upload a file (or use the sample), check it, map the columns, set the split."""

from pathlib import Path

import streamlit as st

from core.data.detect import check_labels, suggest_columns
from core.data.load import DataError, load_table, store_upload
from core.runs import data_root
from pages.common import get_config, next_button, set_config, stepper

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "sample_reviews.csv"
MAX_UPLOAD_MB = st.get_option("server.maxUploadSize")


@st.cache_data(show_spinner="Reading the data…", max_entries=8)
def read_table(path: str):
    return load_table(path)


stepper("Data")
st.header("Bring your data")
st.write(
    "A table of examples: one column with the text, one with the label the model should learn. "
    f"CSV, JSON or JSON Lines, up to {MAX_UPLOAD_MB} MB."
)

config = get_config()
upload_col, sample_col = st.columns([3, 1])
uploaded = upload_col.file_uploader("Upload a file", type=["csv", "json", "jsonl"])
if uploaded is not None:
    stored = store_upload(uploaded.getvalue(), uploaded.name, data_root())
    if str(stored) != config.data.path:
        config = config.replace(data={"path": str(stored), "text_column": "", "label_column": ""})
        set_config(config)
sample_col.write("")
if sample_col.button("Use the sample data", icon=":material/dataset:"):
    config = config.replace(data={"path": str(SAMPLE), "text_column": "", "label_column": ""})
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
    st.dataframe(table.head(20), width="stretch", height=260)

    try:
        suggestion = suggest_columns(table)
    except DataError as err:
        st.error(str(err), icon=":material/error:")
        return

    columns = list(table.columns)
    st.subheader("Which column is which?")
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
    fraction = st.slider(
        "Share held out for validation",
        0.05,
        0.5,
        float(config.data.validation_fraction),
        0.05,
        help="These rows are never trained on; they measure how good the model is.",
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


map_columns(config)
next_button("Data", "Next: train", "pages/train.py")
