"""Plotly figures for a run: loss curves and training signals. Pure functions.

The confusion matrix and per-class figures are in core.plots.results.
"""

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


SIGNALS = (
    ("learning_rate", "learning rate"),
    ("grad_norm", "gradient norm"),
    ("tokens_per_s", "tokens / s"),
    ("memory_mb", "memory (MB)"),
)


def signals_figure(metrics: list[dict]) -> go.Figure:
    """Learning rate, gradient norm, speed and memory against step, one small panel each."""
    from plotly.subplots import make_subplots

    present = [(key, title) for key, title in SIGNALS if any(key in m for m in metrics)]
    fig = make_subplots(rows=1, cols=max(1, len(present)), subplot_titles=[t for _, t in present])
    for col, (key, title) in enumerate(present, start=1):
        points = [(m["step"], m[key]) for m in metrics if key in m and "loss" in m]
        fig.add_trace(
            go.Scatter(
                x=[s for s, _ in points], y=[v for _, v in points], mode="lines", name=title
            ),
            row=1,
            col=col,
        )
    fig.update_layout(height=220, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    return fig
