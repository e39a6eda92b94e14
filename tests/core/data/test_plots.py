"""The data figures carry the report's numbers."""

import numpy as np
import pandas as pd

from core.data.drift import compare
from core.data.quality import quality_report
from core.plots import data as plots

TABLE = pd.DataFrame(
    {
        "text": ["alpha beta", "alpha beta", "", "gamma delta epsilon"] * 3,
        "label": ["a", "a", "b", "c"] * 3,
    }
)
MAPPING = {"task": "classification", "text": "text", "label": "label"}


def test_report_figures_show_counts_and_max_length():
    report = quality_report(TABLE, MAPPING, max_length=2)
    findings = plots.findings_chart(report).to_dict()["data"][0]
    assert dict(zip(findings["y"], findings["x"], strict=False))["Empty rows"] == 3
    assert report.verdict in plots.findings_chart(report).layout.title.text
    labels = plots.label_chart(report.label_counts, min_count=4).to_dict()["data"][0]
    assert list(labels["x"]) == ["a", "b", "c"] and labels["marker"]["color"][1] == "#c62828"
    length = plots.length_chart(report.token_lengths, 2)
    assert length.layout.shapes[0].x0 == 2
    assert np.array_equal(length.data[0].x, report.token_lengths)


def test_drift_figures():
    new = TABLE.assign(label="a")
    result = compare(TABLE, new, MAPPING, embed=False)
    bars = plots.drift_label_chart(result).to_dict()["data"]
    assert [b["name"] for b in bars] == ["reference", "new"] and list(bars[1]["y"]) == [1.0, 0, 0]
    checks = plots.drift_checks_chart(result).to_dict()["data"][0]
    assert list(checks["x"]) == [c.name for c in result.checks]
    assert len(plots.drift_length_chart(result).to_dict()["data"]) == 2
