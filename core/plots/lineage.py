"""The provenance graph (core.provenance) as a left-to-right layered figure. Pure functions.

Plotly has no graph widget, so nodes are laid out by layer: a node's column is one more than
its furthest parent's (sources on the left, exports on the right), its row its order in that
column. Edges are one line trace; each kind of node is one marker trace whose `customdata` is
the node id, so a click (Streamlit's on_select) says which node was picked.
"""

from __future__ import annotations

import plotly.graph_objects as go

COLOURS = {
    "source": "#636efa",
    "version": "#00cc96",
    "run": "#ef553b",
    "adapter": "#ab63fa",
    "export": "#ffa15a",
}


def layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Column of each node: 0 without parents, else 1 + its furthest parent's column."""
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    for parent, child in edges:
        if parent in parents and child in parents:
            parents[child].append(parent)
    column: dict[str, int] = {}

    def place(node: str, trail: frozenset) -> int:
        if node not in column:
            ups = [p for p in parents[node] if p not in trail]  # a cycle cannot loop forever
            column[node] = 1 + max((place(p, trail | {node}) for p in ups), default=-1)
        return column[node]

    for node in nodes:
        place(node, frozenset())
    return column


def positions(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """(x, y) of each node: x its layer, y its place in the layer (top to bottom)."""
    column = layers(nodes, edges)
    rows: dict[int, int] = {}
    placed = {}
    for node in nodes:
        x = column[node]
        placed[node] = (x, -rows.get(x, 0))
        rows[x] = rows.get(x, 0) + 1
    return placed


def lineage_figure(graph, selected: str | None = None) -> go.Figure:
    """Nodes and edges of a core.provenance.Graph; `selected` (a node id) is drawn larger."""
    ids = list(graph.nodes)
    xy = positions(ids, graph.edges)
    fig = go.Figure()
    ex, ey = [], []
    for parent, child in graph.edges:
        ex += [xy[parent][0], xy[child][0], None]
        ey += [xy[parent][1], xy[child][1], None]
    fig.add_trace(
        go.Scatter(
            x=ex,
            y=ey,
            mode="lines",
            line=dict(color="#aaa", width=1),
            hoverinfo="skip",
            showlegend=False,
            name="edges",
        )
    )
    for kind, colour in COLOURS.items():
        members = [n for n in ids if graph.nodes[n].kind == kind]
        if not members:
            continue
        fig.add_trace(
            go.Scatter(
                x=[xy[n][0] for n in members],
                y=[xy[n][1] for n in members],
                mode="markers+text",
                name=kind,
                customdata=members,
                text=[graph.nodes[n].label for n in members],
                textposition="bottom center",
                marker=dict(color=colour, size=[22 if n == selected else 14 for n in members]),
                hovertext=[graph.nodes[n].path for n in members],
                hoverinfo="text",
                # A click selects one point; Plotly's default fades every other node and label
                # to near-invisible, which hides the graph the user is reading.
                unselected=dict(marker=dict(opacity=0.6), textfont=dict(color="#555")),
                cliponaxis=False,  # the first and last labels stick out past the plot area
            )
        )
    height = 140 + 70 * max((1 - y for _, y in xy.values()), default=1)
    fig.update_layout(
        height=min(height, 900),
        margin=dict(l=60, r=60, t=30, b=10),
        xaxis=dict(visible=False),
        yaxis=dict(visible=False),
        legend=dict(orientation="h", y=1.1),
        clickmode="event+select",
    )
    return fig
