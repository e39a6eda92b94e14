"""Plotly figures for the data quality report and drift; pure functions of core results."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.data.drift import DriftResult
from core.data.quality import QualityReport

SEVERITY_COLOURS = {"ok": "#2e7d32", "warning": "#f9a825", "problem": "#c62828"}


def findings_chart(report: QualityReport) -> go.Figure:
    """Rows affected by each finding, coloured by severity."""
    findings = list(reversed(report.findings))
    return go.Figure(
        go.Bar(
            x=[f.count for f in findings],
            y=[f.title for f in findings],
            orientation="h",
            marker_color=[SEVERITY_COLOURS[f.severity] for f in findings],
            text=[f"{f.count:,}" for f in findings],
            textposition="auto",
        ),
        layout={
            "title": f"Findings in {report.rows:,} rows: {report.verdict}",
            "xaxis_title": "rows affected",
            "margin": {"l": 200},
        },
    )


def label_chart(label_counts: dict, min_count: int = 8) -> go.Figure:
    """Examples per label, largest first; labels under min_count are marked as too rare."""
    items = sorted(label_counts.items(), key=lambda kv: -kv[1])
    return go.Figure(
        go.Bar(
            x=[str(k) for k, _ in items],
            y=[v for _, v in items],
            marker_color=["#c62828" if v < min_count else "#1565c0" for _, v in items],
        ),
        layout={
            "title": "Examples per label (red: too few to learn)",
            "xaxis_title": "label",
            "yaxis_title": "rows",
        },
    )


def length_chart(lengths: np.ndarray, max_length: int, estimated: bool = False) -> go.Figure:
    """Histogram of tokens per row with the max length marked."""
    figure = go.Figure(go.Histogram(x=lengths, nbinsx=60, marker_color="#1565c0"))
    figure.add_vline(
        x=max_length,
        line_dash="dash",
        line_color="#c62828",
        annotation_text=f"max length {max_length}",
    )
    suffix = " (estimated)" if estimated else ""
    figure.update_layout(
        title=f"Length in tokens{suffix}", xaxis_title="tokens", yaxis_title="rows"
    )
    return figure


def drift_length_chart(result: DriftResult) -> go.Figure:
    """Overlaid length distributions of the reference and the new data (share of rows)."""
    figure = go.Figure()
    for name, values in (("reference", result.reference_lengths), ("new", result.new_lengths)):
        figure.add_trace(go.Histogram(x=values, name=name, histnorm="probability", opacity=0.6))
    figure.update_layout(
        barmode="overlay", title="Length in words", xaxis_title="words", yaxis_title="share of rows"
    )
    return figure


def drift_label_chart(result: DriftResult) -> go.Figure:
    """Share of each label in the reference and the new data, side by side."""
    labels = sorted(set(result.reference_labels) | set(result.new_labels), key=str)
    figure = go.Figure(
        [
            go.Bar(
                name="reference", x=labels, y=[result.reference_labels.get(k, 0) for k in labels]
            ),
            go.Bar(name="new", x=labels, y=[result.new_labels.get(k, 0) for k in labels]),
        ]
    )
    figure.update_layout(barmode="group", title="Label shares", yaxis_title="share of rows")
    return figure


def drift_checks_chart(result: DriftResult) -> go.Figure:
    """Each drift statistic as a share of its threshold (above 1 = drift)."""
    ratios = [c.value / c.threshold if c.threshold else 0 for c in result.checks]
    return go.Figure(
        go.Bar(
            x=[c.name for c in result.checks],
            y=ratios,
            marker_color=["#c62828" if c.drifted else "#2e7d32" for c in result.checks],
            hovertext=[c.message for c in result.checks],
        ),
        layout={
            "title": f"Drift: {result.verdict}",
            "yaxis_title": "statistic / threshold",
            "shapes": [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": 1,
                    "y1": 1,
                    "line": {"dash": "dash"},
                }
            ],
        },
    )
