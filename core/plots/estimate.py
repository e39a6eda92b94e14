"""Charts of the estimate: the memory breakdown and a what-if across parallel strategies.

Pure functions: they take core.estimate results and return Plotly figures (no Streamlit).
"""

from __future__ import annotations

import plotly.graph_objects as go

from core.estimate import MemoryBreakdown

PART_LABELS = {
    "weights": "Model weights",
    "adapter": "Adapter weights",
    "gradients": "Gradients",
    "optimizer": "Optimizer states",
    "activations": "Activations",
    "logits": "Logits (loss)",
    "overhead": "Framework overhead",
}
PART_COLOURS = {
    "weights": "#4C78A8",
    "adapter": "#72B7B2",
    "gradients": "#F58518",
    "optimizer": "#E45756",
    "activations": "#54A24B",
    "logits": "#B279A2",
    "overhead": "#9D9D9D",
}


def _stacked(bars: dict[str, MemoryBreakdown], capacity_gb: float, title: str) -> go.Figure:
    names = list(bars)
    figure = go.Figure()
    for part, label in PART_LABELS.items():
        values = [round(getattr(bars[name], part), 3) for name in names]
        figure.add_bar(
            name=label,
            x=names,
            y=values,
            marker_color=PART_COLOURS[part],
            hovertemplate="%{x}: %{y:.2f} GB<extra>" + label + "</extra>",
        )
    if capacity_gb > 0:
        figure.add_hline(
            y=capacity_gb,
            line_dash="dash",
            line_color="#D62728",
            annotation_text=f"device memory {capacity_gb:.0f} GB",
        )
    figure.update_layout(
        barmode="stack",
        title=title,
        yaxis_title="GB per device",
        legend_title_text="Memory holds",
        margin={"t": 60, "b": 40},
    )
    return figure


def memory_breakdown_chart(
    memory: MemoryBreakdown, capacity_gb: float = 0.0, label: str = "This run"
) -> go.Figure:
    """One stacked bar: peak memory per device by component, with the device's size as a line.

    Args:
        memory: from core.estimate.estimate_memory (or Estimate.memory).
        capacity_gb: memory of the device; 0 hides the line.
        label: the bar's name.
    """
    return _stacked(
        {label: memory}, capacity_gb, f"Peak memory per device: {memory.total:.1f} GB (estimate)"
    )


def strategy_comparison_chart(
    by_strategy: dict[str, MemoryBreakdown], capacity_gb: float = 0.0
) -> go.Figure:
    """What-if: one stacked bar per parallel strategy (from core.estimate.compare_strategies)."""
    return _stacked(by_strategy, capacity_gb, "Peak memory per device by strategy (estimate)")
