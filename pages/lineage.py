"""Lineage part of the Runs page: the provenance graph and its two questions (core.provenance).

Clicking a node in the graph (or picking it in a list) answers "which runs used this data?"
for a source or version, and "what data and settings made this model?" for a run, adapter or
export. A version no run trained on can be deleted here; one in use is refused with its runs.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core import provenance
from core.plots.lineage import lineage_figure

DATA_KINDS = ("source", "version")


def _clicked(graph: provenance.Graph) -> None:
    """Route a new click on the graph to the matching question's selectbox (a click already
    routed is not applied again, so picking in the list afterwards is kept)."""
    event = st.session_state.get("lineage_graph") or {}
    points = (event.get("selection") or {}).get("points") or []
    node_id = points[0].get("customdata") if points else None
    if isinstance(node_id, list):
        node_id = node_id[0] if node_id else None
    if node_id not in graph.nodes or st.session_state.get("lineage_click") == node_id:
        return
    st.session_state["lineage_click"] = node_id
    if graph.nodes[node_id].kind in DATA_KINDS:
        st.session_state["lineage_data"] = node_id
    else:
        st.session_state["lineage_model"] = f"run:{_run_of(graph, node_id)}"


def _run_of(graph: provenance.Graph, node_id: str) -> str:
    """The run directory of a run, adapter or export node."""
    node = graph.nodes[node_id]
    return node.path if node.kind == "run" else str(Path(node.path).parent)


def _data_answer(graph: provenance.Graph, node_id: str) -> None:
    node = graph.nodes[node_id]
    used = provenance.runs_using(node_id, graph)
    st.caption(f"{node.kind} `{node.path}`")
    if used:
        st.dataframe(used, width="stretch", hide_index=True)
    else:
        st.info("No run in this workspace used this data.")
    if node.kind == "version" and st.button("Delete this version", key="lineage_delete"):
        try:
            st.success(provenance.delete_version(node.path))
        except provenance.ProvenanceError as err:
            st.error(str(err))


def _model_answer(graph: provenance.Graph, node_id: str) -> None:
    origin = provenance.origin_of(_run_of(graph, node_id), graph)
    facts = [
        {"what": "source file", "value": origin["source"]},
        {"what": "source SHA-256", "value": origin["source_sha256"] or "—"},
        {"what": "model", "value": origin["model"]},
        {"what": "model revision", "value": str(origin["model_revision"] or "—")},
        {"what": "settings", "value": origin["settings"]},
    ]
    st.dataframe(facts, width="stretch", hide_index=True)
    if origin["versions"]:
        st.dataframe(origin["versions"], width="stretch", hide_index=True)
    else:
        st.caption("Trained on the file as read: no cleaning steps.")


def lineage_section() -> None:
    """The graph, then the two questions as selectboxes with their answers."""
    graph = provenance.build_graph()
    if not graph.nodes:
        st.info("No data or runs yet: upload data on the Data page.")
        return
    _clicked(graph)
    data = [n for n in graph.nodes if graph.nodes[n].kind in DATA_KINDS]
    models = [n for n in graph.nodes if graph.nodes[n].kind == "run"]
    for key, options in (("lineage_data", data), ("lineage_model", models)):
        if st.session_state.get(key) not in options:
            st.session_state.pop(key, None)
    st.plotly_chart(
        lineage_figure(graph, st.session_state.get("lineage_data")),
        on_select="rerun",
        selection_mode="points",
        key="lineage_graph",
        width="stretch",
    )
    st.caption("Click a node (or pick it below) to open it.")
    label = {n: f"{graph.nodes[n].kind}: {graph.nodes[n].label}" for n in graph.nodes}
    left, right = st.columns(2)
    with left:
        if data:
            pick = st.selectbox(
                "Which runs used this data?", data, format_func=label.get, key="lineage_data"
            )
            _data_answer(graph, pick)
    with right:
        if models:
            pick = st.selectbox(
                "What data and settings made this model?",
                models,
                format_func=label.get,
                key="lineage_model",
            )
            _model_answer(graph, pick)
