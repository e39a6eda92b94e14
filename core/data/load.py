"""Read a user's data into a table, with messages that say what is wrong and what to do.

Sources: a file (see `core.data.formats` for the formats), a folder written by `datasets`'
`save_to_disk`, or a Hugging Face Hub dataset id when the machine is online. Nothing from the
user's data is executed or unpickled; Hub datasets are never loaded with remote code.

Notes about guesses (encoding, delimiter, merged schemas) are kept in `table.attrs["notes"]`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from core.data.formats import TABLE_SUFFIXES, WRAPPERS, DataError, parse_bytes, unwrap
from core.data.limits import check_limits
from core.models import HUB_ID

__all__ = [
    "DataError",
    "SUPPORTED",
    "load_source",
    "load_splits",
    "load_table",
    "store_upload",
]

SUPPORTED = TABLE_SUFFIXES + WRAPPERS


def load_table(path: str | Path, header: bool | None = None) -> pd.DataFrame:
    """Load a data file (CSV, TSV, JSON, JSONL, Parquet, .xlsx, .txt, .label, or .gz/.zip of
    these) or a `save_to_disk` folder (its "train" split, else its first split).

    Args:
        path: the file or folder.
        header: for CSV / TSV, whether the first row holds the column names; None guesses.

    Returns:
        The table, columns named by strings; `attrs["notes"]` lists what was guessed,
        `attrs["header"]` the header decision (delimited files), `attrs["bad_lines"]` the lines
        left out ({"count", "listed": [{"lines", "problem", "content"}]}).

    Raises:
        DataError: missing or empty file, unknown format, or content that does not parse.
    """
    path = Path(path)
    if path.is_dir():
        splits = load_splits(path)
        name = "train" if "train" in splits else next(iter(splits))
        return splits[name]
    if not path.exists():
        raise DataError(f"No file at {path}. Upload it again or check the path.")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty (0 bytes). Choose a file that holds your examples.")
    data, inner = unwrap(path.read_bytes(), path.name)
    if not data:
        raise DataError(
            f"{inner} inside {path.name} is empty. Choose a file that holds your examples."
        )
    table, notes = parse_bytes(data, inner, header)
    return _finish(table, path.name, notes)


def _finish(table: pd.DataFrame, name: str, notes: list[str]) -> pd.DataFrame:
    if table.empty or len(table.columns) == 0:
        raise DataError(f"{name} holds no rows. Choose a file with at least a header and rows.")
    table.columns = [str(c) for c in table.columns]
    check_limits(table, name)  # row, column and cell caps (core/data/limits.py, safety)
    table.attrs["notes"] = list(notes)
    return table


def load_splits(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Every split of a `datasets` `save_to_disk` folder (a Dataset gives {"train": ...}).

    Raises:
        DataError: the folder was not written by `save_to_disk`.
    """
    folder = Path(folder)
    marker = ("dataset_info.json", "state.json", "dataset_dict.json")
    if not any((folder / m).exists() for m in marker):
        raise DataError(
            f"{folder} is a folder but not one written by datasets' save_to_disk "
            "(no dataset_dict.json or state.json). Point to a data file instead."
        )
    import datasets  # heavy: only when a folder is actually loaded

    try:
        loaded = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as err:
        raise DataError(f"{folder} could not be read as a saved dataset: {err}") from err
    if isinstance(loaded, datasets.DatasetDict):
        return {name: _finish(part.to_pandas(), name, []) for name, part in loaded.items()}
    return {"train": _finish(loaded.to_pandas(), folder.name, [])}


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face Hub can be reached; False at once when HF_HUB_OFFLINE is set."""
    from core.models import hub_offline

    return not hub_offline(timeout)


def load_source(source: str, split: str = "train") -> pd.DataFrame:
    """Load a local file or folder path, or else a Hub dataset id ("owner/name").

    Args:
        source: a path on this machine, or a Hub dataset id.
        split: the Hub split to load.

    Raises:
        DataError: the path does not exist and the id is not reachable (offline: said at once).
    """
    source = source.strip()
    if Path(source).expanduser().exists():
        return load_table(Path(source).expanduser())
    if not HUB_ID.match(source):
        raise DataError(
            f"No file or folder at {source!r}. Check the path (it must be on this machine)."
        )
    if not hub_reachable():
        raise DataError(
            f"{source!r} looks like a Hugging Face Hub dataset, but this machine is offline "
            "(or HF_HUB_OFFLINE is set). Download it elsewhere and upload the file, or give a local path."
        )
    import datasets

    try:
        loaded = datasets.load_dataset(source, split=split)
    except Exception as err:  # noqa: BLE001 - the Hub raises many types; the user needs the message
        raise DataError(
            f"The Hub dataset {source!r} (split {split!r}) could not be loaded: {err}"
        ) from err
    return _finish(
        loaded.to_pandas(), source, [f"Loaded the {split!r} split of {source} from the Hub."]
    )


def source_path(source: str, root: Path) -> Path:
    """A path the studio can train from, for a local file/folder or a Hub dataset id.

    A local path is used where it is (no copy: it may be larger than the upload limit). A Hub
    dataset is downloaded once and kept as Parquet under `root`/hub/.

    Raises:
        DataError: as load_source (missing path, offline, unreadable).
    """
    local = Path(source.strip()).expanduser()
    table = load_source(source)
    if local.exists():
        return local.resolve()
    target = Path(root) / "hub" / (re.sub(r"[^\w.-]+", "__", source.strip()) + ".parquet")
    target.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(target)
    return target


def store_upload(data: bytes, filename: str, root: Path) -> Path:
    """Save uploaded bytes once, addressed by content hash; the same bytes land on the same path.

    The stored file is never modified: cleaned data becomes a new version elsewhere.
    """
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = Path(root) / "uploads" / digest
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(filename).name
    if not target.exists():  # write beside, then rename: a half-written file never has the name
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    return target
