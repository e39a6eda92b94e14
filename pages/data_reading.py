"""How the Data page's file was read: the notes (encoding, layout, header guess), a one-click
correction of the header guess, and the lines that could not be read.

Not a page itself (app.py lists the pages explicitly); pages/data.py calls `reading_section`.
"""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.data.lineage import header_choice, reread_with_header
from core.data.load import DataError
from core.runs import workspace_root
from pages.common import set_config

# Widgets whose remembered column would not exist once the columns are named differently.
COLUMN_WIDGETS = ("data-prompt", "data-response", "data-chat", "data-text")


def reading_section(table: pd.DataFrame, config) -> None:
    """The notes, the header correction and the lines left out, under the file's summary."""
    for note in table.attrs.get("notes", []):
        st.caption(f":material/info: {note}")
    chosen = header_choice(config.data.path)
    if chosen is not None:
        source = Path(chosen["source"])
        as_what = "the column names" if chosen["first_row_is_header"] else "data"
        st.caption(
            f":material/info: Read {source.name} again with its first row as {as_what}, as you "
            "chose (the file itself is unchanged)."
        )
        if st.button("Back to the automatic reading", key="data-header-undo"):
            _switch(config, str(source))
    elif "header" in table.attrs:
        is_header = table.attrs["header"]["first_row_is_header"]
        label = "The first row is data" if is_header else "The first row is a header"
        help_text = (
            "Read the file again and take its first row as an example, not as column names."
            if is_header
            else "Read the file again and take its first row as the column names."
        )
        if st.button(label, key="data-header-flip", help=help_text + " Nothing is lost."):
            try:
                version = reread_with_header(config.data.path, not is_header, workspace_root())
            except DataError as err:
                st.error(str(err), icon=":material/error:")
            else:
                _switch(config, str(version))
    bad_lines(table.attrs.get("bad_lines"))


def _switch(config, path: str) -> None:
    for key in COLUMN_WIDGETS:
        st.session_state.pop(key, None)
    empty = {"text_column": "", "label_column": "", "text_pair_column": "", "fingerprint": ""}
    set_config(config.replace(data={"path": path, **empty}))
    st.rerun()


def bad_lines(record: dict | None) -> None:
    """The lines left out of the table, with their numbers and what is wrong with them."""
    if not record or not record.get("count"):
        return
    count = record["count"]
    with st.expander(f"Lines that could not be read: {count:,}", icon=":material/warning:"):
        st.write(
            "These lines are not in the table. Fix them in the file and upload it again, or go "
            "on without them."
        )
        st.dataframe(pd.DataFrame(record["listed"]), hide_index=True, height=200)
        if count > len(record["listed"]):
            st.caption(f"The first {len(record['listed'])} of {count:,} are shown.")
