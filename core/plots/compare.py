"""Several runs on one chart: their loss and metric curves overlaid. Pure functions."""

from __future__ import annotations

import plotly.graph_objects as go

LAYOUT = dict(height=340, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.15))


def overlay_figure(curves: dict[str, list[dict]], key: str, title: str) -> go.Figure:
    """One line per run of `key` (e.g. "loss", "eval_loss", "eval_accuracy") against step.

    Args:
        curves: run name → its metrics.jsonl records.
        key: the record field to draw; runs without it are left out.
        title: the y-axis title.
    """
    fig = go.Figure()
    for name, records in curves.items():
        points = [(r["step"], r[key]) for r in records if key in r and "step" in r]
        if points:
            fig.add_trace(
                go.Scatter(
                    x=[s for s, _ in points],
                    y=[v for _, v in points],
                    mode="lines+markers" if key.startswith("eval_") else "lines",
                    name=name,
                )
            )
    fig.update_layout(xaxis_title="step", yaxis_title=title, **LAYOUT)
    return fig


def curve_keys(curves: dict[str, list[dict]]) -> list[str]:
    """The numeric curves at least one run logged, training loss and validation loss first."""
    found = {
        k
        for records in curves.values()
        for r in records
        for k, v in r.items()
        if isinstance(v, (int, float)) and k not in ("step", "epoch")
    }
    first = [k for k in ("loss", "eval_loss") if k in found]
    return first + sorted(k for k in found - set(first) if k.startswith("eval_"))
