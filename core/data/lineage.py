"""Dataset versions: a fingerprint (hash of content + recipe) and a record of where each came from.

    record = save_version(cleaned, root, source=upload_path, recipe=recipe, rows_before=len(raw))
    data_fingerprint(record.path)  # what a training run stores in DataSettings.fingerprint

A version lives in ROOT/datasets/<fingerprint>/ as data.parquet (or data.jsonl when a column
cannot be stored in Parquet) plus version.json. Versions are never overwritten; the original
upload is never touched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from core.data.clean import Recipe
from core.data.formats import DataError


def content_hash(table: pd.DataFrame) -> str:
    """SHA-256 of a table's column names and cell values (row order counts; index does not)."""
    digest = hashlib.sha256(json.dumps([str(c) for c in table.columns]).encode())
    for column in table.columns:
        values = table[column]
        if values.dtype == object:
            # Lists/dicts (chat turns) are not hashable by pandas: hash their JSON text instead.
            values = values.map(
                lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
            )
        hashed = pd.util.hash_pandas_object(values.reset_index(drop=True), index=False)
        digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(table: pd.DataFrame, recipe: Recipe | None = None) -> str:
    """The dataset version's fingerprint: 16 hex digits of SHA-256(content hash + recipe JSON).

    Args:
        table: the data as trained on (after the recipe).
        recipe: the cleaning steps that produced it (None: no cleaning).

    Returns:
        The same string for the same content and recipe, on any machine.
    """
    steps = json.dumps(recipe.to_list() if recipe else [], sort_keys=True)
    return hashlib.sha256(f"{content_hash(table)}|{steps}".encode()).hexdigest()[:16]


@dataclass
class VersionRecord:
    """Where a dataset version came from and what was done to it."""

    fingerprint: str = field(metadata={"help": "hash of content + recipe"})
    path: str = field(metadata={"help": "the version's data file"})
    source: str = field(metadata={"help": "the original file"})
    source_hash: str = field(metadata={"help": "SHA-256 of the original file's bytes"})
    recipe: list = field(metadata={"help": "cleaning steps, in order, with parameters"})
    rows_before: int = field(metadata={"help": "rows in the original"})
    rows_after: int = field(metadata={"help": "rows in this version"})
    split_seed: int = field(default=42, metadata={"help": "seed of the train/validation split"})
    content_hash: str = field(default="", metadata={"help": "SHA-256 of this version's cells"})


def save_version(
    table: pd.DataFrame,
    root: str | Path,
    source: str | Path,
    recipe: Recipe | None = None,
    rows_before: int | None = None,
    split_seed: int = 42,
) -> VersionRecord:
    """Store a cleaned table as a new version with its record (an existing one is reused).

    Args:
        table: the cleaned data.
        root: the studio's data folder; versions go to ROOT/datasets/<fingerprint>/.
        source: the original file (hashed, never modified).
        recipe: the steps that produced `table` from the source.
        rows_before: rows in the source (default: len(table)).
        split_seed: the seed the run will split with.

    Returns:
        The VersionRecord, also written as version.json beside the data.
    """
    recipe = recipe or Recipe()
    print_ = fingerprint(table, recipe)
    folder = Path(root) / "datasets" / print_
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "data.parquet"
    if not target.exists() and not (folder / "data.jsonl").exists():
        try:
            table.reset_index(drop=True).to_parquet(target, index=False)
        except (ValueError, TypeError, ImportError):  # Parquet refuses mixed types in a column
            target.unlink(missing_ok=True)
            target = folder / "data.jsonl"
            table.to_json(target, orient="records", lines=True, force_ascii=False)
    elif (folder / "data.jsonl").exists():
        target = folder / "data.jsonl"
    record = VersionRecord(
        print_,
        str(target),
        str(source),
        file_hash(source) if Path(source).is_file() else "",
        recipe.to_list(),
        int(rows_before if rows_before is not None else len(table)),
        len(table),
        split_seed,
        content_hash(table),
    )
    (folder / "version.json").write_text(json.dumps(asdict(record), indent=2))
    return record


def read_version(path: str | Path) -> VersionRecord | None:
    """The record of the version whose data file (or folder) is `path`; None for a plain file."""
    path = Path(path)
    record_file = (path if path.is_dir() else path.parent) / "version.json"
    if not record_file.is_file():
        return None
    try:
        return VersionRecord(**json.loads(record_file.read_text()))
    except (TypeError, json.JSONDecodeError) as err:
        raise DataError(
            f"{record_file} is damaged ({err}); save the dataset version again."
        ) from err


def data_fingerprint(path: str | Path, table: pd.DataFrame | None = None) -> str:
    """The fingerprint a training run records for the data at `path`.

    A saved version gives its recorded fingerprint (content + recipe); any other file gives the
    fingerprint of its content with no recipe. Pass `table` if it is already loaded.

    Raises:
        DataError: the file cannot be loaded.
    """
    record = read_version(path)
    if record is not None:
        return record.fingerprint
    if table is None:
        from core.data.load import load_table

        table = load_table(path)
    return fingerprint(table)


READING_FILE = "reading.json"  # beside a version made by a header correction


def reread_with_header(path: str | Path, first_row_is_header: bool, root: Path) -> Path:
    """Read a CSV / TSV again with the user's header choice and keep the result as a dataset
    version (ROOT/datasets/<fingerprint>/): the file itself is never changed, training reads the
    version, and `header_choice` tells the page where it came from.

    Returns:
        The version's data file.

    Raises:
        DataError: the file cannot be read that way (e.g. nothing is left below the header).
    """
    from core.data.load import load_table

    table = load_table(path, header=first_row_is_header)
    record = save_version(table, root, source=path)
    reading = {"source": str(path), "first_row_is_header": first_row_is_header}
    (Path(record.path).parent / READING_FILE).write_text(json.dumps(reading))
    return Path(record.path)


def header_choice(path: str | Path) -> dict | None:
    """{"source", "first_row_is_header"} for a version made by `reread_with_header`, else None."""
    marker = Path(path).parent / READING_FILE
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return None
