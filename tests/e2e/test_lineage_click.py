"""The lineage graph in a real browser: a click on a node of the Plotly figure opens it.

The data root holds a source file → a cleaned dataset version → a finished run trained on it,
and a second run trained on the source as read (built by core functions, no training). The test
opens the Runs page, finds each node's place on screen from the rendered plot (Plotly's own axis
mapping of the node's x and y, read in the page), clicks it with the mouse, and checks that the
node's answer opens. Screenshots land in test-artifacts/e2e/ (look at them).
"""

from __future__ import annotations

import pandas as pd
import pytest

from core import runs
from core.settings import RunConfig
from tests.e2e.conftest import ARTIFACTS, settle

pytestmark = [pytest.mark.browser]

# The screen point (page pixels) of the node whose customdata is `id`, from the figure as drawn:
# its trace and index in the plot's data, then the axes' data-to-pixel mapping and the plot's
# offset in the page.
NODE_POINT = """
([id]) => {
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        for (const trace of plot._fullData) {
            const i = (trace.customdata || []).findIndex(c => String(c) === id);
            if (i < 0) continue;
            const xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis;
            const box = plot.getBoundingClientRect();
            return {x: box.left + xa._offset + xa.d2p(trace.x[i]),
                    y: box.top + ya._offset + ya.d2p(trace.y[i])};
        }
    }
    return null;
}
"""


@pytest.fixture(scope="module")
def lineage(app_data_root):
    """A source, a version of it, a finished run on the version and one on the source."""
    from core.data.clean import Recipe, Step
    from core.data.lineage import save_version
    from core.data.load import store_upload

    source = store_upload(
        b"text,label\ngood,pos\ngood,pos\nbad,neg\n", "reviews.csv", app_data_root
    )
    table = pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "neg"]})
    version = save_version(table, app_data_root, source, Recipe([Step("drop_duplicates")]), 3)
    made = {}
    for name, data in (("on-version", {"path": version.path,
                                        "fingerprint": version.fingerprint}),
                       ("on-source", {"path": str(source)})):  # fmt: skip
        run_dir = runs.create_run(RunConfig(name=name).replace(data=data), app_data_root / "runs")
        (run_dir / runs.ADAPTER_DIR).mkdir()
        runs.write_status(run_dir, state="completed", message="Done")
        made[name] = run_dir
    return {"version": f"version:{version.fingerprint}", **made}


def _click_node(page, node_id: str) -> None:
    point = page.evaluate(NODE_POINT, [node_id])
    assert point, f"node {node_id} is not in the drawn figure"
    page.mouse.click(point["x"], point["y"])
    page.wait_for_timeout(500)
    settle(page)


def _selected(page, key: str) -> str:
    """The shown value of the selectbox with this widget key (its combobox input's value)."""
    return page.locator(f".st-key-{key} input").input_value()


def _wait_selected(page, key: str, part: str) -> None:
    page.wait_for_function(
        "([key, part]) => document.querySelector(`.st-key-${key} input`)?.value.includes(part)",
        arg=[key, part],
        timeout=30_000,
    )


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover label over the picture
    page.wait_for_timeout(1_500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_click_on_a_graph_node_opens_its_answer(app_url, browser, lineage):
    page = browser.new_page(viewport={"width": 1280, "height": 2400})
    page.goto(f"{app_url}/runs")
    settle(page)
    page.get_by_text("Click a node (or pick it below)").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    page.locator(".st-key-lineage_data input").wait_for(timeout=30_000)
    assert _selected(page, "lineage_data").startswith("source: reviews.csv")

    _click_node(page, lineage["version"])
    _wait_selected(page, "lineage_data", "drop_duplicates")
    assert _selected(page, "lineage_data").startswith("version: ")
    used = _answer_tables(page, "lineage_data")
    assert lineage["on-version"].name in used[0] and lineage["on-source"].name not in used[0]
    page.get_by_role("button", name="Delete this version").wait_for()  # a version's own action
    _shot(page, "lineage-click-version")

    shown = _selected(page, "lineage_model")
    other = "on-source" if lineage["on-version"].name in shown else "on-version"
    _click_node(page, f"run:{lineage[other]}")
    _wait_selected(page, "lineage_model", lineage[other].name)
    assert _selected(page, "lineage_data").startswith("version: ")  # the other answer stays
    made = _answer_tables(page, "lineage_model")
    assert "reviews.csv" in made[0] and "Quick: 1 ep" in made[0]  # source file and settings
    if other == "on-source":
        page.get_by_text("Trained on the file as read: no cleaning steps.").wait_for()
    else:
        assert "drop_duplicates" in made[1]
    _shot(page, "lineage-click-run")


def _answer_tables(page, key: str) -> list[str]:
    """The text of each table under the selectbox `key` (st.dataframe draws on a canvas, and
    keeps the same cells in a hidden table for screen readers: that table is read here)."""
    column = page.locator("[data-testid='stColumn']").filter(has=page.locator(f".st-key-{key}"))
    frames = column.locator("[data-testid='stDataFrame']")
    frames.first.locator("table").wait_for(state="attached")
    return [frames.nth(i).locator("table").text_content() for i in range(frames.count())]
