"""Results figures: numeric-looking labels stay categories, in the run's label order."""

import pytest

from core.evaluate import per_class_report
from core.plots.results import confusion_figure, per_class_figure


@pytest.mark.parametrize("labels", [["0", "1"], ["1", "2", "3", "4"], ["neg", "pos"]])
def test_confusion_axes_are_the_label_names_as_categories(labels):
    n = len(labels)
    confusion = [[(i + 1) * 10 if i == j else j for j in range(n)] for i in range(n)]
    layout = confusion_figure(confusion, labels).to_dict()["layout"]
    for axis in ("xaxis", "yaxis"):
        assert layout[axis]["type"] == "category"
        assert list(layout[axis]["categoryarray"]) == labels
        assert layout[axis]["categoryorder"] == "array"


def test_confusion_rows_are_true_labels_with_counts_and_row_shares():
    fig = confusion_figure([[5, 1], [2, 6]], ["0", "1"]).to_dict()
    heat = fig["data"][0]
    assert [list(r) for r in heat["z"]] == [[5, 1], [2, 6]]
    assert list(heat["y"]) == ["0", "1"] and list(heat["x"]) == ["0", "1"]
    assert [list(r) for r in heat["customdata"]] == [[5 / 6, 1 / 6], [0.25, 0.75]]
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"


def test_per_class_figure_shows_precision_and_recall_per_label_as_categories():
    report = per_class_report([[3, 1, 0], [0, 0, 0], [2, 0, 4]], ["1", "2", "3"])
    fig = per_class_figure(report).to_dict()
    assert [t["name"] for t in fig["data"]] == ["precision", "recall"]
    assert list(fig["data"][0]["x"]) == ["1", "2", "3"]
    assert list(fig["data"][0]["y"]) == [0.6, 0.0, 1.0]
    assert list(fig["data"][1]["y"]) == [0.75, None, 4 / 6]
    assert fig["layout"]["xaxis"]["type"] == "category"
