"""Provenance: which data made which model, and which runs used which data.

The graph is read from what is already on disk, nothing extra is recorded:

    source file (uploads/<hash>/, or any file a run names)
      → dataset versions (datasets/<fingerprint>/version.json: source hash + recipe; a version
        whose recipe extends another version's recipe of the same source hangs below that one)
      → runs (config.yaml data.path / data.fingerprint)
      → adapter (RUN/adapter/) and merged export (RUN/merged/)

`runs_using` and `origin_of` answer the two questions; `delete_version` refuses to remove a
version that any run (of any user) trained on, so nothing a run depends on disappears.
The figure is core.plots.lineage; the page part is pages/lineage.py.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from core import runs
from core.data.lineage import VersionRecord
from core.settings import ConfigError, RunConfig

KINDS = ("source", "version", "run", "adapter", "export")


class ProvenanceError(Exception):
    """An action refused to protect what a run depends on (the message says which runs)."""


@dataclass
class Node:
    """One thing in the graph: `id` is "<kind>:<key>", `path` what opening it shows."""

    id: str
    kind: str
    label: str
    path: str
    detail: dict = field(default_factory=dict)


@dataclass
class Graph:
    """Nodes by id and edges (parent id, child id), parents always upstream."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    data_paths: dict = field(default_factory=dict, repr=False)

    def add(self, node: Node) -> Node:
        return self.nodes.setdefault(node.id, node)

    def link(self, parent: str, child: str) -> None:
        if (parent, child) not in self.edges:
            self.edges.append((parent, child))

    def parents(self, node_id: str) -> list[str]:
        return [p for p, c in self.edges if c == node_id]

    def children(self, node_id: str) -> list[str]:
        return [c for p, c in self.edges if p == node_id]

    def reach(self, node_id: str, up: bool) -> list[str]:
        """Every node upstream (up=True) or downstream of `node_id`, nearest first."""
        step = self.parents if up else self.children
        seen, queue = [], [node_id]
        while queue:
            for other in step(queue.pop(0)):
                if other not in seen:
                    seen.append(other)
                    queue.append(other)
        return seen


def _read_versions(root: Path) -> list[VersionRecord]:
    records = []
    for record_file in sorted((root / "datasets").glob("*/version.json")):
        try:
            records.append(VersionRecord(**json.loads(record_file.read_text())))
        except (OSError, TypeError, json.JSONDecodeError):
            continue  # a damaged record is shown nowhere rather than breaking the graph
    return records


def _source_node(path: str, digest: str) -> Node:
    key = digest[:16] if digest else path
    label = f"{Path(path).name} ({digest[:8]})" if digest else Path(path).name
    return Node(f"source:{key}", "source", label, path, {"sha256": digest})


def _add_data(graph: Graph, root: Path) -> None:
    """Uploads, then versions, each version linked below its source or its nearest parent."""
    for upload in sorted((root / "uploads").glob("*/*")):
        if upload.is_file() and not upload.name.startswith("."):
            # the folder is the bytes' SHA-256 prefix (store_upload): no need to read them again
            graph.add(_source_node(str(upload), upload.parent.name))
    records = _read_versions(root)
    by_source: dict[str, list[VersionRecord]] = {}
    for record in records:
        by_source.setdefault(record.source_hash or record.source, []).append(record)
    for record in records:
        source = graph.add(_source_node(record.source, record.source_hash))
        source.detail["sha256"] = record.source_hash or source.detail["sha256"]
        steps = " → ".join(s.get("step", "?") for s in record.recipe) or "as read"
        graph.add(
            Node(
                f"version:{record.fingerprint}",
                "version",
                f"{record.fingerprint[:8]} · {steps}",
                str(Path(record.path).parent),
                {
                    "rows_before": record.rows_before,
                    "rows_after": record.rows_after,
                    "recipe": record.recipe,
                    "source": record.source,
                },
            )
        )
        parent = _parent_version(record, by_source[record.source_hash or record.source])
        graph.link(
            f"version:{parent.fingerprint}" if parent else source.id,
            f"version:{record.fingerprint}",
        )


def _parent_version(record: VersionRecord, siblings: list[VersionRecord]):
    """The sibling whose recipe is the longest proper prefix of this one's (None: the source)."""
    best = None
    for other in siblings:
        n = len(other.recipe)
        if n < len(record.recipe) and record.recipe[:n] == other.recipe and n:
            best = other if best is None or n > len(best.recipe) else best
    return best


def _data_node(graph: Graph, config: RunConfig) -> str | None:
    """The node a run's data is: its version (by fingerprint or folder), else its file."""
    fp, path = config.data.fingerprint, config.data.path
    if fp and f"version:{fp}" in graph.nodes:
        return f"version:{fp}"
    if not path:
        return None
    if not graph.data_paths:  # resolved data paths → node, built once per graph
        for node in graph.nodes.values():
            if node.kind in ("version", "source"):
                graph.data_paths[Path(node.path).resolve()] = node.id
    resolved = Path(path).resolve()
    found = graph.data_paths.get(resolved) or graph.data_paths.get(resolved.parent)
    if found:
        return found
    return graph.add(_source_node(path, "")).id  # a file outside uploads: named by its path


_CONFIGS: dict[tuple[str, int], RunConfig] = {}


def _read_config(run_dir: Path) -> RunConfig | None:
    """A run's config, parsed once per file version (YAML parsing dominates a page view with
    many runs, and a config.yaml is written once); None when unreadable."""
    try:
        key = (str(run_dir), (run_dir / runs.CONFIG_FILE).stat().st_mtime_ns)
        if key not in _CONFIGS:
            if len(_CONFIGS) > 10_000:  # deleted or rewritten runs leave stale entries
                _CONFIGS.clear()
            _CONFIGS[key] = runs.read_config(run_dir)
        return _CONFIGS[key].model_copy(deep=True)
    except (ConfigError, OSError):
        return None


def _add_run(graph: Graph, run_dir: Path) -> None:
    config = _read_config(run_dir)
    if config is None:
        return
    run_id = f"run:{run_dir}"
    state = runs.read_status(run_dir).get("state", "?")
    graph.add(Node(run_id, "run", run_dir.name, str(run_dir), {"state": state}))
    data = _data_node(graph, config)
    if data:
        graph.link(data, run_id)
    for kind, folder in (("adapter", runs.ADAPTER_DIR), ("export", "merged")):
        if (run_dir / folder).is_dir():
            node = graph.add(
                Node(f"{kind}:{run_dir}", kind, f"{run_dir.name} · {kind}", str(run_dir / folder))
            )
            graph.link(run_id, node.id)


def build_graph(root: Path | None = None, run_roots: list[Path] | None = None) -> Graph:
    """The provenance graph of `root`'s uploads and versions (default: this session's workspace,
    the signed-in user's own folder when shared) and the runs under `run_roots` (default: this
    workspace's runs)."""
    root = Path(root) if root else runs.workspace_root()
    graph = Graph()
    _add_data(graph, root)
    for run_root in run_roots if run_roots is not None else [runs.runs_root()]:
        for run_dir in runs.list_runs(run_root):
            _add_run(graph, run_dir)
    return graph


def find_node(graph: Graph, fingerprint_or_path: str) -> str | None:
    """The node of a version fingerprint, a node id, or a file / folder path."""
    key = str(fingerprint_or_path)
    for candidate in (key, f"version:{key}"):
        if candidate in graph.nodes:
            return candidate
    resolved = Path(key).resolve()
    for node in graph.nodes.values():
        if Path(node.path).resolve() in (resolved, resolved.parent):
            return node.id
    return None


def runs_using(fingerprint_or_path: str, graph: Graph | None = None) -> list[dict]:
    """Which runs used this data: {"run", "path", "state", "how"} for each run below it
    ("direct" when it trained on exactly this, else "via <version>" for a derived version)."""
    graph = graph or build_graph()
    start = find_node(graph, fingerprint_or_path)
    if start is None:
        return []
    found = []
    for node_id in graph.reach(start, up=False):
        node = graph.nodes[node_id]
        if node.kind != "run":
            continue
        parents = graph.parents(node_id)
        how = (
            "direct"
            if start in parents
            else "via " + ", ".join(graph.nodes[p].label for p in parents)
        )
        found.append(
            {"run": node.label, "path": node.path, "state": node.detail["state"], "how": how}
        )
    return found


def origin_of(run_dir: str | Path, graph: Graph | None = None) -> dict:
    """What data and settings made this run's model: its source, the versions between (each with
    its recipe steps and rows), the model, the key settings and the card's model revision."""
    from core.card import read_card
    from core.compare import settings_text

    run_dir = Path(run_dir)
    graph = graph or build_graph(run_roots=[run_dir.parent])
    config = runs.read_config(run_dir)
    upstream = [graph.nodes[n] for n in graph.reach(f"run:{run_dir}", up=True)]
    versions = [
        {
            "fingerprint": n.id.removeprefix("version:"),
            "steps": n.label.split(" · ", 1)[1],
            "rows before": n.detail["rows_before"],
            "rows after": n.detail["rows_after"],
        }
        for n in reversed(upstream)
        if n.kind == "version"
    ]
    sources = [n for n in upstream if n.kind == "source"]
    card = read_card(run_dir)
    return {
        "run": run_dir.name,
        "source": sources[0].path if sources else config.data.path or "—",
        "source_sha256": sources[0].detail.get("sha256", "") if sources else "",
        "versions": versions,
        "model": config.model.name_or_path,
        "model_revision": (card.get("model") or {}).get("revision"),
        "settings": settings_text(config),
        "config": config.to_dict(),
    }


def delete_version(version_dir: str | Path, run_roots: list[Path] | None = None) -> str:
    """Remove a dataset version folder unless a run (of any user) trained on it.

    Returns:
        A message saying what was removed.

    Raises:
        ProvenanceError: a run uses it (the message lists the runs), or it is not a version.
    """
    version_dir = Path(version_dir)
    if not (version_dir / "version.json").is_file():
        raise ProvenanceError(
            f"{version_dir} is not a dataset version (no version.json); nothing was removed."
        )
    roots = run_roots if run_roots is not None else runs.all_runs_roots()
    graph = build_graph(version_dir.parent.parent, roots)
    users = [r for r in runs_using(str(version_dir), graph) if r["how"] == "direct"]
    if users:
        names = ", ".join(r["run"] for r in users)
        raise ProvenanceError(
            f"Version {version_dir.name} is kept: {len(users)} run(s) trained on it ({names}). "
            "Delete those runs first if you really want it gone."
        )
    shutil.rmtree(version_dir)
    return f"Removed dataset version {version_dir.name}."
