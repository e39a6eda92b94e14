"""Which files the app may read for its users: paths typed into a page or named in an opened config.

On a shared server the Data page's path box, the Model page's folder box and an opened expert
config could otherwise read any file the server can. A typed path is accepted only inside the
allowed roots:

    <data root>/data/      data files too big to upload (the operator copies them here)
    <data root>/models/    model folders
    $STUDIO_ALLOWED_ROOTS  more folders, separated by ':' (set by whoever runs the server)
    your home folder       only on a single-user install (loopback address, no sign-in)

An opened config may also name files the app itself made (uploads, dataset versions, Hub downloads,
the sample data, the embedded model); with sign-in, only the uploads and versions in the user's
own workspace (core/runs.py workspace_root), so another user's upload hash is refused. An admin
may open every user's uploads and versions (workspace_folders, others_data), on the Data page and
in an opened config (confine_config's every_user). Symlinks are resolved
before the check, and a refused path gets the same message whether it exists or not, so the answer
reveals nothing about the server.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.data.formats import DataError
from core.models import EMBEDDED_MODEL, HUB_ID, ModelError, embedded_model_path
from core.settings import ConfigError, RunConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_single_user = False  # set by app.py from the server's sign-in mode, once per script run


class PathRefused(ConfigError, DataError, ModelError):
    """A path outside the allowed roots, or missing: the same message in both cases."""


def set_single_user(single: bool) -> None:
    """Whether this server has one local user (loopback, no sign-in): then home is allowed too."""
    global _single_user
    _single_user = bool(single)


def allowed_roots(single_user: bool | None = None) -> list[Path]:
    """Folders whose files users may name (resolved; created if missing, so they can be filled)."""
    from core.runs import data_root

    roots = [data_root() / "data", data_root() / "models"]
    for root in roots:
        root.mkdir(parents=True, exist_ok=True)
    extra = os.environ.get("STUDIO_ALLOWED_ROOTS", "")
    roots += [Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()]
    if _single_user if single_user is None else single_user:
        roots.append(Path.home())
    return [root.resolve() for root in roots]


def workspace_folders(every_user: bool = False) -> list[Path]:
    """The uploads and dataset-version folders a session may open (resolved): its own workspace's,
    or for an admin (`every_user`) every signed-in user's and the shared ones of a local install."""
    from core.runs import data_root, workspace_root

    bases = [workspace_root()]
    if every_user:
        bases = [data_root(), *sorted(p for p in (data_root() / "users").glob("*") if p.is_dir())]
    return [(base / name).resolve() for base in bases for name in ("uploads", "datasets")]


def others_data() -> list[dict]:
    """Other users' uploads and dataset versions, for an admin to open (read-only: the files are
    never changed; a fix made from one is saved in the admin's own workspace).

    Returns:
        {"owner": the user's folder, "kind": "upload" or "version", "name", "path"}, by owner.
    """
    from core.data.lineage import read_version
    from core.runs import data_root, workspace_root

    own, found = workspace_root().resolve(), []
    for user in sorted((data_root() / "users").glob("*")):
        if user.resolve() == own:
            continue
        for upload in sorted(user.glob("uploads/*/*")):
            if upload.is_file() and not upload.name.startswith("."):
                found.append(_entry(user, "upload", upload.name, upload))
        for record_file in sorted(user.glob("datasets/*/version.json")):
            try:
                record = read_version(record_file.parent)
            except DataError:
                continue  # a damaged record: nothing to open
            name = f"{Path(record.source).name} · version {record.fingerprint[:8]}"
            found.append(_entry(user, "version", name, Path(record.path)))
    return found


def _entry(user: Path, kind: str, name: str, path: Path) -> dict:
    return {"owner": user.name, "kind": kind, "name": name, "path": str(path)}


def app_roots(every_user: bool = False) -> list[Path]:
    """Where the app itself writes data a config may name: this user's uploads and versions (only
    their own workspace's, once signed in; every user's for an admin, `every_user`), shared Hub
    downloads, the sample data, the model."""
    from core.runs import data_root

    folders = workspace_folders(every_user)
    folders.append(data_root() / "hub")
    folders += [PROJECT_ROOT / "assets", Path(embedded_model_path())]
    return [folder.resolve() for folder in folders]


def refusal(shown: str, roots: list[Path]) -> str:
    """The one message for a path that is missing or not allowed."""
    return (
        f"{shown!r} is not a file or folder this app can read. Put data and models in "
        f"{' or '.join(str(r) for r in roots)} (whoever runs the server can allow more folders "
        "with STUDIO_ALLOWED_ROOTS)."
    )


def confine(path: str | Path, roots: list[Path] | None = None) -> Path:
    """The resolved path when it exists inside one of `roots` (default: allowed_roots()).

    A relative path is looked up in each root in turn.

    Raises:
        PathRefused: missing or outside the roots (one message for both).
    """
    roots = allowed_roots() if roots is None else roots
    given = Path(str(path).strip()).expanduser()
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        resolved = candidate.resolve()  # symlinks followed first: a link out of a root is refused
        inside = any(resolved == root or root in resolved.parents for root in roots)
        if inside and resolved.exists():
            return resolved
    raise PathRefused(refusal(str(path).strip(), roots))


def confine_source(source: str, roots: list[Path] | None = None) -> str:
    """A data or model source a user typed: an allowed local path (resolved), or a Hub id.

    "owner/name" is a Hub id unless it names a path inside a root. Such a name that exists
    relative to the server's working folder is refused, since the loaders would read it there.

    Raises:
        PathRefused: a local path that is missing or outside the roots.
    """
    source = (source or "").strip()
    roots = allowed_roots() if roots is None else roots
    if not source or source == EMBEDDED_MODEL:
        return source
    if HUB_ID.match(source) and not source.startswith((".", "~")):
        try:
            return str(confine(source, roots))
        except PathRefused:
            if Path(source).exists():
                raise
            return source
    return str(confine(source, roots))


def confine_config(
    config: RunConfig, roots: list[Path] | None = None, every_user: bool = False
) -> RunConfig:
    """An opened config whose data, model and start-adapter paths are allowed, resolved in place.

    Besides the allowed roots, the data may be a file the app made (app_roots()); for an admin
    (`every_user`) any user's upload or version too, as the Data page lets an admin open them.

    Raises:
        PathRefused: (a ConfigError) the data path, a local model folder or the adapter to start
            from (lora.init_from: also this user's own runs) is not allowed.
    """
    roots = (allowed_roots() if roots is None else roots) + app_roots(every_user)
    changes = {}
    if config.data.path:
        changes["data"] = {"path": str(confine(config.data.path, roots))}
    model = config.model.name_or_path
    if model and model != EMBEDDED_MODEL:
        changes["model"] = {"name_or_path": confine_source(model, roots)}
    if config.lora.init_from:
        changes["lora"] = {"init_from": confine_start_adapter(config.lora.init_from, roots)}
    return config.replace(**changes) if changes else config


def confine_start_adapter(path: str, roots: list[Path] | None = None) -> str:
    """An adapter folder to start a run from (lora.init_from), resolved, when it lies in the
    allowed roots or in this user's own runs (never another user's trained adapter).

    Raises:
        PathRefused: missing or outside those folders (the usual one message).
    """
    from core.runs import runs_root

    roots = allowed_roots() if roots is None else roots
    return str(confine(path, roots + [runs_root().resolve()]))
