"""Turn the bytes of a data file into a table: unwrap .gz/.zip, detect the encoding and the
delimiter, and parse CSV/TSV, JSON, JSONL, Parquet, Excel or plain text.

Only data formats are parsed: nothing is unpickled or executed. Problems become `DataError`s whose
message names the file, what is wrong and what to do; notes about what was guessed (encoding,
delimiter, merged JSON schemas) are returned alongside the table.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import zipfile
from pathlib import PurePath

import pandas as pd

from core.data.archive import read_capped
from core.data.delimited import bad_lines_record, parse_delimited, sniff_delimiter
from core.data.errors import DataError
from core.data.lines import parse_labelled_lines

__all__ = ["DataError", "parse_bytes", "unwrap", "decode_text", "TABLE_SUFFIXES", "WRAPPERS"]

# .label: TREC-style `COARSE:fine text` lines.
TABLE_SUFFIXES = (
    ".csv",
    ".tsv",
    ".json",
    ".jsonl",
    ".ndjson",
    ".parquet",
    ".xlsx",
    ".txt",
    ".label",
)
WRAPPERS = (".gz", ".zip")
MAX_REPORTED_BYTES = 1000  # invalid bytes looked at one by one before calling a file Latin-1
SEPARATOR_NAMES = {"\t": "tabs", ";": "semicolons (;)", "|": "bars (|)"}
MAX_LINE_REPORT = 20  # up to this many stray bytes: reported line by line
# Decompressed size limit: a zip bomb must not fill the memory (4 GB is far above any upload).
MAX_UNPACKED_BYTES = 4 * 1024**3


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
    """Decode bytes as UTF-8 (with or without BOM), UTF-16 or Latin-1; returns (text, note), the
    note empty for plain UTF-8, else naming the encoding (and the lines of stray bytes).

    Raises:
        DataError: the bytes look binary (NUL bytes or many control characters), not text.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), f"Read {name} as {encoding}."
    head = data[:65536]
    # UTF-16 without BOM: ASCII text leaves every other byte zero.
    if len(head) >= 4 and head[1::2].count(0) > 0.4 * (len(head) // 2):
        return data.decode("utf-16-le", errors="replace"), f"Read {name} as utf-16-le."
    if head.count(0) or _control_share(head) > 0.05:
        raise DataError(
            f"{name} looks like a binary file, not text (it contains NUL or control bytes). "
            "Export your data as CSV, JSON, Parquet or Excel and upload that file."
        )
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        return decode_mixed(data, name)


def decode_mixed(data: bytes, name: str) -> tuple[str, str]:
    """UTF-8 where it is valid, each invalid byte read as Latin-1 (which maps every byte; cp1252
    would change 0x80-0x9F); returns (text, note naming the lines).

    A few stray bytes in a UTF-8 file (TREC's `sister\\xf0city` on line 66) are kept and their
    lines reported; many, with no valid multi-byte UTF-8 at all, make it a Latin-1 file.
    """
    pieces, bad, position, valid_multibyte = [], [], 0, False
    while position < len(data):
        try:
            pieces.append(data[position:].decode("utf-8"))
            break
        except UnicodeDecodeError as err:
            good = data[position : position + err.start]
            pieces.append(good.decode("utf-8"))
            valid_multibyte |= any(b >= 0x80 for b in good)
            at = position + err.start
            pieces.append(data[at : at + 1].decode("latin-1"))
            bad.append((data.count(b"\n", 0, at) + 1, data[at]))
            position = at + 1
            if len(bad) >= MAX_REPORTED_BYTES and not valid_multibyte:
                pieces.append(data[position:].decode("latin-1"))  # a Latin-1 file: stop looking
                break
    lines = sorted({line for line, _ in bad})
    shown = ", ".join(map(str, lines[:8])) + (" …" if len(lines) > 8 else "")
    line, byte = bad[0]
    example = f"line {line}: 0x{byte:02X} → {bytes([byte]).decode('latin-1')!r}"
    if len(bad) <= MAX_LINE_REPORT or valid_multibyte:
        return "".join(pieces), (
            f"{name} is not all valid UTF-8: {len(bad):,} byte(s) read as latin-1 ({example}); "
            f"check line(s) {shown}."
        )
    return "".join(pieces), f"Read {name} with the latin-1 encoding: it is not UTF-8 ({example})."


def _control_share(head: bytes) -> float:
    if not head:
        return 0.0
    controls = sum(head.count(b) for b in range(32) if b not in (9, 10, 13))
    return controls / len(head)


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
    """Parse one JSON object per line (blank lines skipped); a line that is not JSON is left out,
    counted and listed (its number and text in `attrs["bad_lines"]`).

    Raises:
        DataError: no line is valid JSON.
    """
    records, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            bad.append(((number, number), f"not valid JSON ({err.msg})", [line]))
    if not records:
        (first, _), why, line = bad[0]
        raise DataError(
            f"{name}: none of its {len(bad):,} lines is valid JSON (line {first}: {why}: "
            f"{line[0][:80]!r}). A .jsonl file holds one JSON object per line; if the file is "
            "one JSON array, rename it to .json."
        )
    table, notes = records_to_table(records, name)
    if bad:
        shown = ", ".join(str(s[0]) for s, _, _ in bad[:8]) + (" …" if len(bad) > 8 else "")
        notes.append(
            f"Lines that are not valid JSON: {len(bad):,} (line {shown}). They are not in the "
            "table; the first few are listed with their content. Fix or delete them."
        )
    table.attrs["bad_lines"] = bad_lines_record(bad)
    return table, notes


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
    return flatten_instances(table, notes)


# Keys that make a list of objects a list of (input →) output examples, as in Self-Instruct.
OUTPUT_KEYS = {"output", "response", "answer", "completion"}


def flatten_instances(table: pd.DataFrame, notes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """A column holding lists of {input, output} objects becomes columns, one row per object
    (Self-Instruct's `instances`); chat turns (role/content) are left as they are."""
    for column in table.columns:
        cells = table[column].dropna()
        if cells.empty or not all(isinstance(c, list) and c for c in cells):
            continue
        items = [item for cell in cells for item in cell]
        if not all(isinstance(i, dict) for i in items):
            continue
        keys = set().union(*items)
        if not keys & OUTPUT_KEYS or keys & {"role", "from"}:
            continue
        exploded = table.explode(column, ignore_index=True)
        inner = pd.DataFrame.from_records(
            [i if isinstance(i, dict) else {} for i in exploded[column]]
        )
        inner.columns = [c if c not in table.columns else f"{column}_{c}" for c in inner.columns]
        flat = pd.concat([exploded.drop(columns=column), inner], axis=1)
        several = len(flat) - len(table)
        notes.append(
            f"Each row's '{column}' list became columns {', '.join(inner.columns)}"
            + (f" ({several:,} extra rows: one per item)." if several else " (one item per row).")
        )
        return flat, notes
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


def parse_bytes(
    data: bytes, name: str, header: bool | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Parse one (already unwrapped) file's bytes by its suffix; returns (table, notes).

    `header` is for delimited files: True / False say whether the first row holds the column
    names; None guesses it (the guess is a note and `table.attrs["header"]`).

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
    text, encoding_note = decode_text(data, name)
    notes = [encoding_note] if encoding_note else []
    if not text.strip():
        raise DataError(f"{name} holds only blank space. Choose a file that holds your examples.")
    if suffix in (".csv", ".tsv"):
        delimiter = sniff_delimiter(text, suffix)
        if delimiter != ",":
            notes.append(f"Columns are separated by {SEPARATOR_NAMES[delimiter]}.")
        table, more = parse_delimited(text, name, delimiter, header)
    elif suffix == ".json":
        table, more = parse_json(text, name)
    elif suffix in (".jsonl", ".ndjson"):
        table, more = parse_jsonl(text, name)
    else:
        table, more = parse_lines(text, name)
    return table, notes + more


def parse_lines(text: str, name: str) -> tuple[pd.DataFrame, list[str]]:
    """.txt / .label: labelled lines (fastText, COARSE:fine) when most lines are, else plain text.

    Raises:
        DataError: a .label file whose lines follow neither labelled layout.
    """
    labelled = parse_labelled_lines(text, name)
    if labelled is not None:
        return labelled
    if name.lower().endswith(".label"):
        raise DataError(
            f"{name}: its lines are neither `COARSE:fine text` (TREC) nor `__label__x text` "
            "(fastText). Save it as .txt to train on it as plain text, or as CSV with a label column."
        )
    return parse_text(text), []


def _parse_binary(reader, data: bytes, name: str, kind: str) -> pd.DataFrame:
    try:
        return reader(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - the readers raise many types for damaged files
        raise DataError(
            f"{name} could not be read as {kind}: {str(err)[:200]}. "
            "Open it in the program that wrote it and save it again."
        ) from err
