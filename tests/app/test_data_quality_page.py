"""The Data page's quality report on real data, as a user sees it: the verdict, and fix buttons
that say how many rows they remove or change."""

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.data.lineage import read_version
from core.settings import RunConfig

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "data.py")


@pytest.fixture(autouse=True)
def studio_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "studio"))


def open_page(path: Path) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["config"] = RunConfig().replace(data={"path": str(path)})
    return at.run()


def ag_news_csv(folder: Path, shared: Path) -> Path:
    """AG News with a header (the file has none; read with pandas until the loader detects it)."""
    table = pd.read_csv(
        shared / "ag_news_test.csv", header=None, names=["label", "title", "body"], dtype=str
    )
    path = folder / "ag_news.csv"
    pd.DataFrame({"text": table.title + " " + table.body, "label": table.label}).to_csv(
        path, index=False
    )
    return path


def test_ag_news_report_is_usable_and_buttons_count_rows(tmp_path, shared_datasets):
    at = open_page(ag_news_csv(tmp_path, shared_datasets))
    assert not at.exception
    verdicts = [m.value for m in [*at.success, *at.warning, *at.error] if "Verdict" in m.value]
    assert verdicts and "usable with warnings" in verdicts[0], verdicts
    labels = {b.key: b.label for b in at.button if b.key and b.key.startswith("fix-")}
    near = at.session_state["quality-report"][1].get("near_duplicates").count
    assert near > 0 and labels["fix-near_duplicates"] == f"Remove {near} rows"
    assert labels["fix-pii"] == "Mask personal data in 1 row"
    assert labels["fix-damage"].startswith("Remove HTML in ")
    assert not any(
        e.label.startswith("Empty rows") and "error" in e.proto.icon for e in at.expander
    )
    at.button(key="fix-near_duplicates").click().run()
    assert not at.exception
    record = read_version(at.session_state["config"].data.path)
    assert record.rows_before - record.rows_after == near
