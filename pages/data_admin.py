"""An admin's part of the Data page: open another user's upload or dataset version, read-only.

Not a page itself (app.py lists the pages explicitly); pages/data.py calls `others_section`.
Only an admin sees it; for everyone else another user's file stays behind the one refusal message
(core/paths.py).
"""

import streamlit as st

from core.paths import PathRefused, confine, others_data, workspace_folders


def is_admin() -> bool:
    return st.session_state.get("user", {}).get("role") == "admin"


def others_section(column) -> str | None:
    """The expander listing other users' uploads and versions; the path opened on this run, if
    any (already checked against every user's folders)."""
    if not is_admin():
        return None
    others = others_data()
    if not others:
        return None
    with column.expander("Another user's data (admin, read-only)", icon=":material/shield_person:"):
        labels = [f"{o['owner']} · {o['kind']} · {o['name']}" for o in others]
        pick = st.selectbox(
            "Their uploads and dataset versions",
            range(len(others)),
            format_func=labels.__getitem__,
            key="data-admin-pick",
        )
        st.caption(
            "Their file is never changed: a fix you make is saved in your own workspace, and a "
            "run you start from it is yours."
        )
        if not st.button("Open it here", key="data-admin-open"):
            return None
        try:
            return str(confine(others[pick]["path"], workspace_folders(every_user=True)))
        except PathRefused as err:  # removed since the list was drawn
            st.error(str(err), icon=":material/error:")
            return None
