"""Provenance: upload → two cleaned versions → three runs → adapter; the two questions; deletion."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from core import runs
from core.data.clean import Recipe, Step, apply_recipe
from core.data.lineage import save_version
from core.data.load import load_table, store_upload
from core.plots.lineage import lineage_figure, positions
from core.provenance import ProvenanceError, build_graph, delete_version, origin_of, runs_using
from core.settings import RunConfig

MAPPING = {"task": "classification", "text": "text", "label": "label"}


@pytest.fixture
def studio(data_root):
    """An upload with a duplicate and an empty row, two versions, three runs (one on the raw
    upload, one on each version), the second with an adapter folder."""
    raw = pd.DataFrame(
        {"text": ["good", "bad", "good", " ", "fine"], "label": ["pos", "neg", "pos", "neg", "pos"]}
    )
    buffer = io.BytesIO()
    raw.to_csv(buffer, index=False)
    upload = store_upload(buffer.getvalue(), "reviews.csv", data_root)
    table = load_table(upload)
    one = Recipe([Step("drop_duplicates")])
    two = one.then(Step("drop_empty"))
    v1 = save_version(apply_recipe(table, MAPPING, one), data_root, upload, one, len(table))
    v2 = save_version(apply_recipe(table, MAPPING, two), data_root, upload, two, len(table))
    made = {}
    for name, path, fp in (
        ("raw", upload, ""),
        ("first", v1.path, v1.fingerprint),
        ("second", v2.path, v2.fingerprint),
    ):
        config = RunConfig(name=name).replace(
            data={"path": str(path), "fingerprint": fp}, training={"learning_rate": 1e-3}
        )
        made[name] = runs.create_run(config)
    (made["second"] / runs.ADAPTER_DIR).mkdir()
    return {"root": data_root, "upload": upload, "v1": v1, "v2": v2, **made}


def test_edges_run_from_the_upload_through_each_recipe_step_to_the_adapter(studio):
    graph = build_graph()
    source = [n for n in graph.nodes.values() if n.kind == "source"]
    assert len(source) == 1 and source[0].path == str(studio["upload"])
    v1, v2 = f"version:{studio['v1'].fingerprint}", f"version:{studio['v2'].fingerprint}"
    assert (source[0].id, v1) in graph.edges and (v1, v2) in graph.edges
    assert (source[0].id, v2) not in graph.edges  # v2 extends v1's recipe: it hangs below v1
    assert (source[0].id, f"run:{studio['raw']}") in graph.edges
    assert (v1, f"run:{studio['first']}") in graph.edges
    assert (f"run:{studio['second']}", f"adapter:{studio['second']}") in graph.edges
    assert graph.nodes[v2].detail["rows_after"] == 3  # duplicate and blank row gone


def test_which_runs_used_this_data(studio):
    graph = build_graph()
    by_source = {r["run"]: r["how"] for r in runs_using(str(studio["upload"]), graph)}
    assert set(by_source) == {studio[n].name for n in ("raw", "first", "second")}
    assert by_source[studio["raw"].name] == "direct"
    assert by_source[studio["second"].name].startswith("via ")
    by_v1 = {r["run"]: r["how"] for r in runs_using(studio["v1"].fingerprint, graph)}
    assert set(by_v1) == {studio["first"].name, studio["second"].name}
    assert by_v1[studio["first"].name] == "direct"
    assert by_v1[studio["second"].name].startswith("via ")
    assert [r["run"] for r in runs_using(studio["v2"].path, graph)] == [studio["second"].name]
    assert runs_using("no-such-fingerprint", graph) == []


def test_what_data_and_settings_made_this_model(studio):
    origin = origin_of(studio["second"])
    assert origin["source"] == str(studio["upload"]) and len(origin["source_sha256"]) == 64
    assert [v["steps"] for v in origin["versions"]] == [
        "drop_duplicates",
        "drop_duplicates → drop_empty",
    ]
    assert origin["versions"][-1]["rows after"] == 3
    assert "lr 0.001" in origin["settings"]
    assert origin_of(studio["raw"])["versions"] == []


def test_a_version_a_run_trained_on_is_kept_and_an_unused_one_removed(studio):
    v1_dir, v2_dir = Path(studio["v1"].path).parent, Path(studio["v2"].path).parent
    with pytest.raises(ProvenanceError, match=studio["first"].name):
        delete_version(v1_dir)
    assert v1_dir.is_dir()
    shutil.rmtree(studio["second"])  # the only run on v2 is gone: v2 may go
    assert "Removed" in delete_version(v2_dir)
    assert not v2_dir.exists() and v1_dir.is_dir()
    with pytest.raises(ProvenanceError, match="not a dataset version"):
        delete_version(studio["root"] / "runs")


def test_figure_lays_out_left_to_right_with_node_ids_to_click(studio):
    graph = build_graph()
    xy = positions(list(graph.nodes), graph.edges)
    for parent, child in graph.edges:
        assert xy[parent][0] < xy[child][0]
    figure = lineage_figure(graph, selected=f"run:{studio['raw']}").to_dict()
    traces = {t["name"]: t for t in figure["data"]}
    assert set(traces) == {"edges", "source", "version", "run", "adapter"}
    assert sorted(traces["run"]["customdata"]) == sorted(
        f"run:{studio[n]}" for n in ("raw", "first", "second")
    )
    sizes = dict(zip(traces["run"]["customdata"], traces["run"]["marker"]["size"], strict=True))
    assert sizes[f"run:{studio['raw']}"] > sizes[f"run:{studio['first']}"]
    assert traces["edges"]["x"].count(None) == len(graph.edges)


def test_a_run_on_a_file_outside_the_uploads_hangs_below_that_file(studio, tmp_path):
    outside = tmp_path / "mine.csv"
    outside.write_text("text,label\nhi,pos\n")
    run_dir = runs.create_run(RunConfig(name="own").replace(data={"path": str(outside)}))
    graph = build_graph()
    assert (f"source:{outside}", f"run:{run_dir}") in graph.edges
    assert [r["run"] for r in runs_using(str(outside), graph)] == [run_dir.name]
    assert origin_of(run_dir, graph)["source"] == str(outside)


def test_a_signed_in_user_s_graph_holds_their_own_uploads_and_runs_only(data_root):
    uploads = {}
    for user in ("ana", "ben"):
        runs.set_workspace(user)
        try:
            home = runs.workspace_root()
            uploads[user] = store_upload(f"text,label\n{user},x\n".encode(), f"{user}.csv", home)
            # An upload no run has used yet: only the workspace's uploads folder shows it.
            uploads[f"{user}-new"] = store_upload(
                f"text,label\n{user}!,y\n".encode(), "new.csv", home
            )
            runs.create_run(
                RunConfig(name=f"{user}-run").replace(data={"path": str(uploads[user])})
            )
        finally:
            runs.set_workspace(None)
    runs.set_workspace("ana")
    try:
        paths = {node.path for node in build_graph().nodes.values()}
    finally:
        runs.set_workspace(None)
    assert {str(uploads["ana"]), str(uploads["ana-new"])} <= paths
    assert not {str(uploads["ben"]), str(uploads["ben-new"])} & paths
    assert not any(Path(p).name.startswith("ben") for p in paths)
