"""Turn the bytes of a data file into a table: unwrap .gz/.zip, detect the encoding and the
delimiter, and parse CSV/TSV, JSON, JSONL, Parquet, Excel or plain text.

Only data formats are parsed: nothing is unpickled or executed. Problems become `DataError`s whose
message names the file, what is wrong and what to do; notes about what was guessed (encoding,
delimiter, merged JSON schemas) are returned alongside the table.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import zipfile
from pathlib import PurePath

import pandas as pd

from core.data.archive import read_capped

TABLE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet", ".xlsx", ".txt")
WRAPPERS = (".gz", ".zip")
# Decompressed size limit: a zip bomb must not fill the memory (4 GB is far above any upload).
MAX_UNPACKED_BYTES = 4 * 1024**3
DELIMITERS = ",;\t|"


class DataError(ValueError):
    """The data cannot be used as it is; the message says why and what to do."""


def unwrap(data: bytes, name: str) -> tuple[bytes, str]:
    """Strip .gz / .zip layers; returns the inner bytes and the inner file name.

    Raises:
        DataError: a broken archive, or a zip without a supported data file.
    """
    suffix = PurePath(name).suffix.lower()
    if suffix == ".gz":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
                inner = read_capped(handle, name)  # core/data/archive.py (safety)
        except (OSError, EOFError) as err:
            raise DataError(
                f"{name} is not a readable .gz file ({err}). Compress it again."
            ) from err
        return unwrap(_check_size(inner, name), PurePath(name).stem)
    if suffix == ".zip":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as err:
            raise DataError(f"{name} is not a readable .zip file. Zip it again.") from err
        members = [m for m in archive.infolist() if not m.is_dir() and _is_data_name(m.filename)]
        if not members:
            listed = ", ".join(m.filename for m in archive.infolist()[:5]) or "nothing"
            raise DataError(
                f"{name} holds no data file ({listed}). Put one of {', '.join(TABLE_SUFFIXES)} in it."
            )
        member = members[0]
        if member.file_size > MAX_UNPACKED_BYTES:
            raise DataError(
                f"{member.filename} in {name} unpacks to over 4 GB; load it from a path."
            )
        return unwrap(read_capped(archive.open(member), member.filename), member.filename)
    return data, name


def _is_data_name(name: str) -> bool:
    path = PurePath(name)
    if path.name.startswith(".") or "__MACOSX" in path.parts:
        return False
    return path.suffix.lower() in TABLE_SUFFIXES + (".gz",)


def _check_size(data: bytes, name: str) -> bytes:
    if len(data) > MAX_UNPACKED_BYTES:
        raise DataError(f"{name} unpacks to over 4 GB; load it from a local path instead.")
    return data


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), UTF-16 or Latin-1; returns (text, encoding).

    Raises:
        DataError: the bytes look binary (NUL bytes or many control characters), not text.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    head = data[:65536]
    # UTF-16 without BOM: ASCII text leaves every other byte zero.
    if len(head) >= 4 and head[1::2].count(0) > 0.4 * (len(head) // 2):
        return data.decode("utf-16-le", errors="replace"), "utf-16-le"
    if head.count(0) or _control_share(head) > 0.05:
        raise DataError(
            f"{name} looks like a binary file, not text (it contains NUL or control bytes). "
            "Export your data as CSV, JSON, Parquet or Excel and upload that file."
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Latin-1 maps every byte, so it never fails; cp1252 would change 0x80-0x9F.
        return data.decode("latin-1"), "latin-1"


def _control_share(head: bytes) -> float:
    if not head:
        return 0.0
    controls = sum(head.count(b) for b in range(32) if b not in (9, 10, 13))
    return controls / len(head)


def sniff_delimiter(text: str, suffix: str) -> str:
    """The column separator: tab for .tsv, otherwise the one csv.Sniffer finds in the first lines."""
    if suffix == ".tsv":
        return "\t"
    sample = "\n".join(text[:65536].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def parse_csv(text: str, name: str, delimiter: str) -> pd.DataFrame:
    """Parse delimited text, every cell as a string (empty cells stay "").

    Raises:
        DataError: broken quoting or rows with a different number of fields (line named).
    """
    try:
        table = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{name} holds no rows. Choose a file with a header and rows.") from err
    except pd.errors.ParserError as err:
        raise DataError(
            f"{name} could not be read as a table separated by {delimiter!r}: {str(err)[:200]}. "
            'Usually a quote (") is opened and never closed, or a row has extra separators: '
            "open the file in a spreadsheet, fix that row and save it as CSV again."
        ) from err
    if not isinstance(table.index, pd.RangeIndex):
        # pandas silently turns extra leading fields into an index; that would lose data.
        raise DataError(
            f"{name}: the first rows have more fields than the header ({len(table.columns)} "
            "columns): a row has extra separators or the header is missing a name. Fix it and save again."
        )
    return table


def parse_json(text: str, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Parse a JSON array of objects or an object of equal-length arrays.

    Raises:
        DataError: invalid JSON, or a shape that is not a table.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{name} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}. "
            "If it holds one object per line, rename it to .jsonl."
        ) from err
    if isinstance(value, dict):
        lists = {k: v for k, v in value.items() if isinstance(v, list)}
        if lists and len(lists) == len(value):
            lengths = {k: len(v) for k, v in lists.items()}
            if len(set(lengths.values())) > 1:
                raise DataError(
                    f"{name}: the arrays have different lengths {lengths}; every column needs "
                    "one value per example."
                )
            return pd.DataFrame(lists), []
        for key in ("data", "rows", "examples", "train"):
            if isinstance(value.get(key), list):
                return records_to_table(value[key], name)
        value = [value]
    if not isinstance(value, list):
        raise DataError(f"{name} holds a single {type(value).__name__}, not a list of examples.")
    return records_to_table(value, name)


def parse_jsonl(text: str, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Parse one JSON object per line (blank lines skipped).

    Raises:
        DataError: a line that is not JSON (its number is given).
    """
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(
                f"{name}, line {number} is not valid JSON ({err.msg}): {line[:80]!r}. "
                "Fix or delete that line."
            ) from err
    return records_to_table(records, name)


def records_to_table(records: list, name: str) -> tuple[pd.DataFrame, list[str]]:
    """A table from a list of objects, with the union of their keys; notes name what differs."""
    if not records:
        raise DataError(f"{name} holds an empty list: there are no examples.")
    if not all(isinstance(r, dict) for r in records):
        if all(isinstance(r, str) for r in records):
            return pd.DataFrame({"text": records}), []
        kinds = sorted({type(r).__name__ for r in records})
        raise DataError(f"{name}: expected a list of objects, found {', '.join(kinds)}.")
    table = pd.DataFrame.from_records(records)
    notes = []
    key_sets = {frozenset(r) for r in records}
    if len(key_sets) > 1:
        common = frozenset.intersection(*key_sets)
        partial = sorted(set(table.columns) - common)
        missing = {c: int(table[c].isna().sum()) for c in partial}
        notes.append(
            "The objects do not all have the same fields; loaded the union of the fields. "
            "Missing in some rows: " + ", ".join(f"{c} ({n} rows)" for c, n in missing.items())
        )
    return table, notes


def parse_text(text: str) -> pd.DataFrame:
    """Plain text: one example per blank-line-separated block if there are blocks, else per line."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip() for b in normalized.split("\n\n") if b.strip()]
    # Blocks only when most of them span several lines; a stray blank line keeps line mode.
    if len(blocks) > 1 and sum("\n" in b for b in blocks) > len(blocks) / 2:
        return pd.DataFrame({"text": blocks})
    lines = [line for line in normalized.split("\n") if line.strip()]
    return pd.DataFrame({"text": lines})


def parse_bytes(data: bytes, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Parse one (already unwrapped) file's bytes by its suffix; returns (table, notes).

    Raises:
        DataError: unknown format, binary junk, or content that does not parse.
    """
    suffix = PurePath(name).suffix.lower()
    if suffix == ".parquet":
        return _parse_binary(pd.read_parquet, data, name, "Parquet"), []
    if suffix == ".xlsx":
        return _parse_binary(pd.read_excel, data, name, "Excel (.xlsx)"), []
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"{name}: the format '{suffix or 'none'}' is not supported. "
            f"Save your data as one of {', '.join(TABLE_SUFFIXES)} (optionally .gz or .zip)."
        )
    text, encoding = decode_text(data, name)
    notes = [] if encoding == "utf-8" else [f"Read {name} with the {encoding} encoding."]
    if not text.strip():
        raise DataError(f"{name} holds only blank space. Choose a file that holds your examples.")
    if suffix in (".csv", ".tsv"):
        delimiter = sniff_delimiter(text, suffix)
        if delimiter != ",":
            notes.append(f"Columns are separated by {delimiter!r}.")
        return parse_csv(text, name, delimiter), notes
    if suffix == ".json":
        table, more = parse_json(text, name)
    elif suffix in (".jsonl", ".ndjson"):
        table, more = parse_jsonl(text, name)
    else:
        table, more = parse_text(text), []
    return table, notes + more


def _parse_binary(reader, data: bytes, name: str, kind: str) -> pd.DataFrame:
    try:
        return reader(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - the readers raise many types for damaged files
        raise DataError(
            f"{name} could not be read as {kind}: {str(err)[:200]}. "
            "Open it in the program that wrote it and save it again."
        ) from err
