"""Plotly figures for a run: loss curves, throughput, confusion matrix. Pure functions."""

from __future__ import annotations

import plotly.graph_objects as go


def loss_figure(metrics: list[dict], smooth: float = 0.0, log_scale: bool = False) -> go.Figure:
    """Training loss (raw, and smoothed when `smooth` > 0) and validation loss against step."""
    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m]
    val = [(m["step"], m["eval_loss"]) for m in metrics if "eval_loss" in m]
    fig = go.Figure()
    if train:
        fig.add_trace(
            go.Scatter(
                x=[s for s, _ in train],
                y=[v for _, v in train],
                mode="lines",
                name="training loss",
                opacity=0.4 if smooth else 1.0,
            )
        )
        if smooth:
            fig.add_trace(
                go.Scatter(
                    x=[s for s, _ in train],
                    y=ema([v for _, v in train], smooth),
                    mode="lines",
                    name="training loss (smoothed)",
                )
            )
    if val:
        fig.add_trace(
            go.Scatter(
                x=[s for s, _ in val],
                y=[v for _, v in val],
                mode="lines+markers",
                name="validation loss",
            )
        )
    fig.update_layout(
        xaxis_title="step",
        yaxis_title="loss",
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.12),
    )
    if log_scale:
        fig.update_yaxes(type="log")
    return fig


def ema(values: list[float], weight: float) -> list[float]:
    """Exponential moving average, as TensorBoard smooths curves (weight in [0, 1))."""
    smoothed, last = [], None
    for value in values:
        last = value if last is None else weight * last + (1 - weight) * value
        smoothed.append(last)
    return smoothed


def confusion_figure(confusion: list[list[int]], labels: list[str]) -> go.Figure:
    """Heat map: rows are the true label, columns the predicted one; cells show counts."""
    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=labels,
            y=labels,
            colorscale="Purples",
            showscale=False,
            text=confusion,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="predicted",
        yaxis_title="true label",
        height=360,
        yaxis=dict(autorange="reversed"),
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return fig
