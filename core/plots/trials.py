"""Auto's trials as a Plotly figure: each trial's validation metric against time since the search
began, one line per trial; pruned trials end in an ×, the winner is drawn thicker."""

from __future__ import annotations

import plotly.graph_objects as go

from core.search import describe_params

STATE_MARKER = {"pruned": "x", "failed": "x-thin", "complete": "circle", "running": "circle-open"}


def trials_figure(search: dict, metric_name: str = "validation accuracy") -> go.Figure:
    """One line per trial from search.json: x seconds since the search began, y the metric.

    Args:
        search: the parsed search.json (core.search).
        metric_name: the y axis title.
    """
    figure = go.Figure()
    winner = (search.get("winner") or {}).get("number")
    for trial in search.get("trials", []):
        values = trial.get("values") or []
        if not values:
            continue
        state = trial.get("state", "running")
        params = trial.get("params", {})
        name = f"trial {trial['number'] + 1} ({state})"
        figure.add_trace(
            go.Scatter(
                x=[v[0] for v in values],
                y=[v[1] for v in values],
                mode="lines+markers",
                name=name,
                line={"width": 4 if trial["number"] == winner else 1.5},
                marker={
                    "symbol": ["circle"] * (len(values) - 1) + [STATE_MARKER.get(state, "circle")],
                    "size": [6] * (len(values) - 1) + [12],
                },
                hovertext=describe_params(params) if params else "",
            )
        )
    if search.get("budget_s"):
        figure.add_vline(
            x=search["budget_s"], line_dash="dot", annotation_text="budget", line_color="gray"
        )
    figure.update_layout(
        title="Auto's trials (× = stopped early as weaker)",
        xaxis_title="seconds since the search began",
        yaxis_title=metric_name,
        height=340,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h"},
    )
    return figure
