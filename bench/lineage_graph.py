"""Benchmark: how long the Runs page's lineage graph takes to build, cold and warm.

    .venv/bin/python bench/lineage_graph.py --runs 200

Builds a throw-away data root (20 uploads, 3 chained cleaning versions each, N runs spread over
the versions, half with a fingerprint and half by path only), then times `build_graph` three
times in one process: the first parses every config.yaml (the ordinary way: what every page
view cost before the parse cache), the next ones reuse the parsed configs as a rerun of the
page does. Also times `runs_using` on one version.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def populate(root: Path, n_runs: int) -> list:
    import pandas as pd

    from core import runs
    from core.data.clean import Recipe, Step
    from core.data.lineage import save_version
    from core.data.load import store_upload
    from core.settings import RunConfig

    versions = []
    for u in range(20):
        upload = store_upload(f"text,label\nrow{u},a\nrow{u}b,b\n".encode(), f"u{u}.csv", root)
        recipe = Recipe()
        for k, step in enumerate(("drop_empty", "drop_duplicates", "repair_encoding")):
            recipe = recipe.then(Step(step))
            table = pd.DataFrame({"text": [f"row{u}", f"x{k}"], "label": ["a", "b"]})
            versions.append(save_version(table, root, upload, recipe, 2))
    for i in range(n_runs):
        v = versions[i % len(versions)]
        data = {"path": v.path, "fingerprint": v.fingerprint if i % 2 else ""}
        runs.create_run(RunConfig(name=f"r{i}").replace(data=data))
    return versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lineage-bench-"))
    os.environ["STUDIO_DATA"] = str(root)
    from core.provenance import build_graph, runs_using

    versions = populate(root, args.runs)
    for attempt in ("cold", "warm", "warm"):
        start = time.perf_counter()
        graph = build_graph()
        built = time.perf_counter()
        runs_using(versions[0].fingerprint, graph)
        print(
            f"{attempt}: runs={args.runs} nodes={len(graph.nodes)} edges={len(graph.edges)} "
            f"build={built - start:.3f}s runs_using={time.perf_counter() - built:.4f}s"
        )


if __name__ == "__main__":
    main()
