"""Read a user's data file into a table, with messages that say what is wrong and what to do.

Nothing from the user's data is executed or unpickled: only text formats are parsed here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

SUPPORTED = (".csv", ".json", ".jsonl")


class DataError(ValueError):
    """The data cannot be used as it is; the message says why and what to do."""


def load_table(path: str | Path) -> pd.DataFrame:
    """Load a CSV, JSON (array of objects) or JSONL file.

    Raises:
        DataError: empty file, unknown format, or content that does not parse.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"No file at {path}. Upload it again or check the path.")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty (0 bytes). Choose a file that holds your examples.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DataError(
            f"{path.name}: the format '{suffix or 'none'}' is not supported. "
            f"Save your data as {', '.join(SUPPORTED)}."
        )
    try:
        if suffix == ".csv":
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="strict")
        elif suffix == ".jsonl":
            table = pd.read_json(path, lines=True, dtype=False)
        else:
            table = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, json.JSONDecodeError) as err:
        raise DataError(
            f"{path.name} could not be read as {suffix[1:].upper()}: {str(err)[:200]}. "
            "Check that the file is really in that format (open it in a text editor)."
        ) from err
    if table.empty or len(table.columns) == 0:
        raise DataError(
            f"{path.name} holds no rows. Choose a file with at least a header and rows."
        )
    table.columns = [str(c) for c in table.columns]
    return table


def store_upload(data: bytes, filename: str, root: Path) -> Path:
    """Save uploaded bytes once, addressed by content hash; the same bytes land on the same path."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = Path(root) / "uploads" / digest
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(filename).name
    if not target.exists():
        target.write_bytes(data)
    return target
