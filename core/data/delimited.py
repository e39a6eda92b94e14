"""Delimited text (CSV, TSV, ';' or '|'): records, the header guess, and lines that do not fit.

    table, notes = parse_delimited(text, "subj.tsv", "\\t")  # header=None: guess it

Real files are not all "a header, then rows": SentEval-style TSVs and AG News have no header,
Excel leaves empty trailing columns, a quote is sometimes never closed. So the file is read with the
`csv` module (it gives each record's line numbers), the first record is judged against the others
(its values recur in a column, its text is as long as the others → data; names like `text` /
`label`, or a word above a numeric column → header), and a record with a different number of fields
is counted and reported with its line numbers, never dropped in silence.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter

import pandas as pd

from core.data.errors import DataError

csv.field_size_limit(2**31 - 1)  # one cell may be a whole document (a 50 MB line is tested)
DELIMITERS = ",;\t|"
# Column names seen in public datasets; a first row made of these is a header.
KNOWN_NAMES = {
    *"text sentence sentence1 sentence2 review content body comment message document".split(),
    *"label labels sentiment class category target rating y intent topic".split(),
    *"id idx title headline question answer context instruction input output prompt".split(),
    *"response chosen rejected messages conversations description summary source name".split(),
}
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
SAMPLE_ROWS = 2000  # rows used to judge the header and name columns
MAX_LISTED = 100  # bad lines kept for display


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


def uses_quotes(text: str, delimiter: str) -> bool:
    """Whether `"` quotes fields. CSV does; many TSVs (SentEval-style) do not, and there a
    sentence that starts with `"` must not swallow the lines after it. So a tab-separated file is
    read with quoting only when one of its first lines has a field in quotes."""
    if delimiter != "\t":
        return True
    for line in text[:65536].splitlines()[:200]:
        for field in line.split("\t"):
            field = field.strip()
            if len(field) >= 2 and field[0] == field[-1] == '"':
                return True
    return False


def read_records(
    text: str, delimiter: str, limit: int | None = None, quoted: bool = True
) -> tuple[list[list[str]], list[tuple[int, int]]]:
    """The non-blank records (the first `limit` of them, or all) and their (first, last) physical
    line numbers (1-based)."""
    quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
    if "\r" in text:  # a bare CR (old Mac line ends, stray bytes) ends a line, as CRLF does
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting)
    records, spans, previous_end = [], [], 0
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            # A blank line is no record; a line of empty cells (",,") is an empty row, kept so
            # the quality report counts it.
            if record and (len(record) > 1 or record[0].strip()):
                records.append(record)
                spans.append((start, reader.line_num))
                if limit is not None and len(records) >= limit:
                    break
    except csv.Error as err:
        raise DataError(
            f"Line {reader.line_num + 1} cannot be read as delimited text ({err}). Check the "
            "file's quoting there, or save it again as CSV from a spreadsheet."
        ) from err
    return records, spans


def fast_read(text: str, delimiter: str, width: int, quoted: bool = True) -> pd.DataFrame | None:
    """Every record as `width` string cells, read by pyarrow's CSV reader (C++, ~6x faster than
    the csv module on 1 M rows); None when any record has another width or the reader fails, so
    that the exact reader (`read_records` + `fit_records`, which knows line numbers) takes over.
    """
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    invalid = []

    def keep_aside(row) -> str:
        invalid.append(row)
        return "skip"

    names = [str(i) for i in range(width)]
    try:
        read = arrow_csv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=arrow_csv.ReadOptions(column_names=names),
            parse_options=arrow_csv.ParseOptions(
                delimiter=delimiter,
                quote_char='"' if quoted else False,
                newlines_in_values=quoted,
                invalid_row_handler=keep_aside,
            ),
            convert_options=arrow_csv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    if invalid:
        return None
    frame = read.to_pandas()
    frame.columns = range(width)
    if width == 1:  # as read_records: a blank line is no record
        frame = frame[frame[0].str.strip() != ""]
    return frame.reset_index(drop=True)


def fit_records(records, spans, text: str, quoted: bool = True):
    """Bring every record to the common width; returns (rows, spans, width, bad, short).

    The width is the most common number of fields. Extra fields that are all empty (trailing
    separators) are cut; a record with extra non-empty fields, or a quote never closed, is bad;
    a shorter record is padded with empty cells and counted as short.
    """
    width = Counter(len(r) for r in records).most_common(1)[0][0]
    unclosed = quoted and text.count('"') % 2 == 1 and spans[-1][1] > spans[-1][0]
    rows, kept, bad, short = [], [], [], []
    for index, (record, span) in enumerate(zip(records, spans, strict=True)):
        if unclosed and index == len(records) - 1:
            bad.append((span, 'a quote (") opened here is never closed', record))
        elif len(record) > width and any(f.strip() for f in record[width:]):
            bad.append((span, f"{len(record)} fields where the others have {width}", record))
        else:
            if len(record) != width:
                short += [span[0]] if len(record) < width else []
                record = (record + [""] * width)[:width]
            rows.append(record)
            kept.append(span)
    return rows, kept, width, bad, short


def _is_number(value: str) -> bool:
    return bool(NUMBER.match(value.strip()))


def guess_header(first: list[str], rows: list[list[str]]) -> tuple[bool, str]:
    """Whether `first` is a header row, judged against the `rows` after it; and why, in words."""
    header = data = 0
    reasons = {"header": [], "data": []}
    for column, value in enumerate(first):
        values = [r[column] for r in rows if r[column].strip()]
        value = value.strip()
        if value.lower() in KNOWN_NAMES:
            header += 2
            reasons["header"].append(f"'{value}' is a usual column name")
        if not values:
            continue
        numeric = sum(map(_is_number, values)) >= 0.9 * len(values)
        if value in set(values):
            data += 2
            reasons["data"].append(f"'{value[:30]}' recurs in column {column + 1}")
        elif numeric and value:
            if _is_number(value):
                data += 2
            else:
                header += 2
                reasons["header"].append(f"'{value}' stands above numbers")
        lengths = sorted(len(v) for v in values)
        if not numeric and statistics.median(lengths) >= 20:
            if len(value) >= lengths[len(lengths) // 10] and value.count(" ") >= 2:
                data += 1
                reasons["data"].append(f"column {column + 1}'s first cell is as long as the others")
            elif len(value) <= 30 and value.count(" ") <= 2:
                header += 1
    filled = [v.strip() for v in first if v.strip()]
    if len(set(filled)) < len(filled):
        data += 1
        reasons["data"].append("the first row repeats a value")
    if data > header:
        return False, "; ".join(reasons["data"][:2])
    return True, "; ".join(reasons["header"][:2])


def name_columns(rows: list[list[str]], width: int) -> tuple[list[str], bool]:
    """Names for a headerless table: label / title / text / id where the content says so, else
    col1…colN; returns (names, named_by_content)."""
    label, texts, ids = [], [], []
    for column in range(width):
        values = [r[column] for r in rows]
        filled = [v for v in values if v.strip()]
        distinct = len(set(filled))
        mean = sum(map(len, filled)) / max(1, len(filled))
        if filled and distinct == len(filled) and all(map(_is_number, filled)):
            ids.append(column)
        elif 2 <= distinct <= max(2, min(100, len(values) // 2)) and mean <= 30:
            label.append(column)
        elif mean >= 10 and sum(" " in v for v in filled) >= 0.5 * len(filled):
            texts.append(column)
    names = [f"col{i + 1}" for i in range(width)]
    if width == 1 and texts:
        return ["text"], True
    if len(label) != 1 or len(texts) not in (1, 2) or len(ids) > 1:
        return names, False
    names[label[0]] = "label"
    if ids:
        names[ids[0]] = "id"
    by_length = sorted(texts, key=lambda c: sum(len(r[c]) for r in rows))
    names[by_length[-1]] = "text"  # the longest text column is the text
    if len(by_length) == 2:
        names[by_length[0]] = "title"
    return names, True


def _unique(names: list[str]) -> list[str]:
    """Column names as pandas reads them: empty → colN, a repeated name gets .1, .2…"""
    seen: Counter = Counter()
    result = []
    for position, name in enumerate(names):
        name = name.strip() or f"col{position + 1}"
        result.append(f"{name}.{seen[name]}" if seen[name] else name)
        seen[name] += 1
    return result


def bad_lines_record(bad: list) -> dict:
    """What the page lists about records left out: their count and the first few, with lines."""
    listed = [
        {"lines": f"{a}" if a == b else f"{a}–{b}", "problem": why, "content": "|".join(r)[:200]}
        for (a, b), why, r in bad[:MAX_LISTED]
    ]
    return {"count": len(bad), "listed": listed}


def _line_list(numbers: list[int], limit: int = 8) -> str:
    shown = ", ".join(map(str, numbers[:limit]))
    return shown + (f" and {len(numbers) - limit:,} more" if len(numbers) > limit else "")


def parse_delimited(
    text: str, name: str, delimiter: str, header: bool | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Parse delimited text, every cell a string; the header is guessed unless `header` is given.

    Returns:
        (table, notes). `table.attrs["header"]` holds {"first_row_is_header", "guessed"};
        `table.attrs["bad_lines"]` the records left out (see bad_lines_record).

    Raises:
        DataError: no rows, or most records do not fit the table (the lines are named).
    """
    raw, bad, short, first_line = _read_raw(text, name, delimiter)
    width = raw.shape[1]
    first = raw.iloc[0].tolist()
    guessed = header is None
    reason = ""
    if guessed:
        header, reason = guess_header(first, raw.iloc[1 : SAMPLE_ROWS + 1].values.tolist())
    table = raw.iloc[1:].reset_index(drop=True) if header else raw
    if table.empty:
        raise DataError(f"{name} holds no rows. Choose a file with a header and rows.")
    if header:
        names, by_content = _unique(first), True
    else:
        names, by_content = name_columns(table.head(SAMPLE_ROWS).values.tolist(), width)
    table.columns = names
    notes = [_header_note(header, guessed, reason, names, by_content)]
    notes += _drop_empty_columns(table, first if header else [""] * width)
    short = [line for line in short if not (header and line == first_line)]
    if short:
        notes.append(
            f"Rows with fewer fields than the others: {len(short):,} (line "
            f"{_line_list(short)}); their missing cells are left empty."
        )
    if bad:
        notes.append(
            f"Lines that could not be read: {len(bad):,} (line "
            f"{_line_list([s[0] for s, _, _ in bad])}). They are not in the table; the "
            "first few are listed with their content."
        )
    table.attrs["header"] = {"first_row_is_header": bool(header), "guessed": guessed}
    table.attrs["bad_lines"] = bad_lines_record(bad)
    return table, notes


def _read_raw(text: str, name: str, delimiter: str):
    """All records as a frame of string cells (columns 0…width-1, the first record included);
    returns (frame, bad records, lines of short records, the first record's line).

    Raises:
        DataError: no records, or most records do not fit.
    """
    quoted = uses_quotes(text, delimiter)
    sample, _ = read_records(text, delimiter, SAMPLE_ROWS + 1, quoted)
    if not sample:
        raise DataError(f"{name} holds no rows. Choose a file with a header and rows.")
    width = Counter(len(r) for r in sample).most_common(1)[0][0]
    # An odd number of quotes: one is never closed; only the exact reader can say where.
    odd = quoted and text.count('"') % 2
    fast = None if odd else fast_read(text, delimiter, width, quoted)
    if fast is not None and len(fast):
        return fast, [], [], 1
    records, spans = read_records(text, delimiter, quoted=quoted)
    rows, spans, width, bad, short = fit_records(records, spans, text, quoted)
    if len(bad) > len(rows) - 1:
        (first, _), why, _ = bad[0]
        raise DataError(
            f"{name} could not be read as a table separated by {delimiter!r}: {len(bad):,} of "
            f'{len(records):,} records do not fit (line {first}: {why}). Usually a quote (") is '
            "opened and never closed, or a row has extra separators: open the file in a "
            "spreadsheet, fix that row and save it as CSV again."
        )
    return pd.DataFrame(rows, dtype="str"), bad, short, spans[0][0]


def _header_note(header, guessed, reason, names, by_content) -> str:
    listed = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
    if header:
        why = f" (why: {reason})" if guessed and reason else ""
        told = "" if guessed else ", as you chose"
        return f"The first row is the header{told}: columns {listed}{why}."
    what = "named" if by_content else "numbered"
    if guessed:
        why = f" (the first row looks like data: {reason})" if reason else ""
        return f"No header row found: columns {what} {listed}{why}."
    return f"The first row is data, as you chose: columns {what} {listed}."


def _drop_empty_columns(table: pd.DataFrame, header_row: list[str]) -> list[str]:
    """Drop columns without a name whose cells are all empty (trailing separators)."""
    empty = [
        column
        for column, title in zip(list(table.columns), header_row, strict=True)
        if not title.strip() and not table[column].str.strip().astype(bool).any()
    ]
    table.drop(columns=empty, inplace=True)
    if not empty:
        return []
    return [f"Left out {len(empty)} empty column(s) without a name ({', '.join(empty)})."]
