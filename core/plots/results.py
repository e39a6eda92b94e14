"""Plotly figures for a classifier's results: confusion matrix, per-class precision and recall.

Pure functions. Label names are always categories in the run's label order: labels such as "0"
and "1" (SUBJ) or "1".."4" (AG News) would otherwise be read by Plotly as numbers and drawn on a
continuous axis with ticks at -0.5, 0.5, 1.5.
"""

from __future__ import annotations

import plotly.graph_objects as go


def category_axis(labels: list[str], title: str) -> dict:
    """An axis that shows exactly `labels`, as text, in the given order."""
    return dict(
        type="category",
        categoryorder="array",
        categoryarray=[str(label) for label in labels],
        title=title,
    )


def confusion_figure(confusion: list[list[int]], labels: list[str]) -> go.Figure:
    """Heat map: rows are the true label, columns the predicted one; cells show counts.

    The hover also gives each cell's share of its true label's rows (that row's recall when the
    cell is on the diagonal).
    """
    names = [str(label) for label in labels]
    row_shares = [[count / max(1, sum(row)) for count in row] for row in confusion]
    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=names,
            y=names,
            customdata=row_shares,
            colorscale="Purples",
            showscale=False,
            text=confusion,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z} (%{customdata:.0%} of true %{y})"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis=category_axis(names, "predicted"),
        yaxis={**category_axis(names, "true label"), "autorange": "reversed"},
        height=max(300, 60 + 40 * len(names)),
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return fig


def per_class_figure(report: list[dict]) -> go.Figure:
    """Grouped bars: precision and recall for each label (from `core.evaluate.per_class_report`).

    A label the model never predicts has no precision (None): its precision bar is left out.
    """
    series = [
        (title, [row[key] for row in report], f"{title} for %{{x}}: %{{y:.0%}}<extra></extra>")
        for key, title in (("precision", "precision"), ("recall", "recall"))
    ]
    return _share_bars([str(row["label"]) for row in report], series, y_title=None)


def recall_change_figure(rows: list[dict], first_step: int | None = None) -> go.Figure:
    """Grouped bars per label: recall at the first evaluation and for the final model
    (rows from `core.class_change.recall_changes`)."""
    first = f"first evaluation (step {first_step})" if first_step else "first evaluation"
    series = [
        (
            title,
            [row[key] for row in rows],
            f"recall for %{{x}}, {title}: %{{y:.0%}}<extra></extra>",
        )
        for key, title in (("first", first), ("final", "final model"))
    ]
    return _share_bars([str(row["label"]) for row in rows], series, y_title="recall")


def _share_bars(names: list[str], series: list[tuple], y_title: str | None) -> go.Figure:
    """Grouped bars of shares (0–1) per label: one (name, values, hover template) per series."""
    fig = go.Figure()
    for title, values, hover in series:
        fig.add_trace(go.Bar(x=names, y=values, name=title, hovertemplate=hover))
    fig.update_layout(
        barmode="group",
        xaxis=category_axis(names, "label"),
        yaxis=dict(range=[0, 1], tickformat=".0%", title=y_title),
        height=300,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.12),
    )
    return fig
