"""The Data page's quality report, one-click fixes, versions and drift section.

Not a page itself (app.py lists the pages explicitly); pages/data.py calls `quality_section` and
`drift_section`.
"""

import json
from pathlib import Path

import streamlit as st

from core.data.clean import Recipe, Step, apply_step, preview_step
from core.data.lineage import data_fingerprint, read_version, save_version
from core.data.load import SUPPORTED, DataError, load_table, store_upload
from core.data.quality import fix_label
from core.runs import workspace_root
from pages.common import get_config, set_config


@st.cache_data(show_spinner="Reading the data…", max_entries=8)
def read_table(path: str):
    return load_table(path)


def check_quality(path: str, text: str, label: str, max_length: int):
    """The quality report, with a progress bar the first time (1 M rows take ~20 s); kept for
    this session until the data or its mapping changes."""
    from core.worker import quality_report_for  # a big file: in a worker process (safety)

    key = (path, text, label, max_length)
    kept = st.session_state.get("quality-report")
    if kept and kept[0] == key:
        return kept[1]
    bar = st.progress(0.0, text="Checking the data…")
    mapping = {"task": "classification", "text": text, "label": label}
    report = quality_report_for(
        path,
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
        cleaned, workspace_root(), source, recipe.then(step), rows_before, config.data.split_seed
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
        st.caption(f"What '{name}' would do: {preview.summary}.")
        if len(preview.dropped):
            st.dataframe(preview.dropped, height=150)
        if len(preview.after):
            st.dataframe(preview.after, height=150)
        label = fix_label(step.step, preview.removed_count, preview.changed_count)
        if st.button(label, key=f"fix-{finding.key}", help=f"Applies '{name}' as a new version"):
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
            new = load_table(store_upload(other.getvalue(), other.name, workspace_root()))
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
