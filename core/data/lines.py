"""Labelled text lines: fastText (`__label__pos great film`) and TREC (`NUM:dist How far is …`).

    table, notes = parse_labelled_lines(text, "trec.label")  # None when the lines are neither

A layout is recognised when most of the first lines follow it; every other line is counted and
reported with its number (never dropped in silence).
"""

from __future__ import annotations

import re

import pandas as pd

from core.data.delimited import bad_lines_record
from core.data.errors import DataError

FASTTEXT = re.compile(r"^((?:__label__\S+\s+)+)(.*\S)\s*$")
# COARSE:fine question — the coarse class is letters, the fine one any non-space run.
COARSE_FINE = re.compile(r"^([A-Za-z]+):(\S+)\s+(.*\S)\s*$")
PROBE_LINES = 200
SHARE_TO_RECOGNISE = 0.8  # of the first non-blank lines
MAX_CLASSES = 100  # more "classes" than this: prose with colons, not labels


def _numbered_lines(text: str) -> list[tuple[int, str]]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]


def _layout(lines: list[tuple[int, str]]) -> str:
    probe = [line for _, line in lines[:PROBE_LINES]]
    for layout, pattern in (("fasttext", FASTTEXT), ("coarse_fine", COARSE_FINE)):
        if probe and sum(bool(pattern.match(p)) for p in probe) >= SHARE_TO_RECOGNISE * len(probe):
            return layout
    return ""


def parse_labelled_lines(text: str, name: str) -> tuple[pd.DataFrame, list[str]] | None:
    """A table from fastText or COARSE:fine lines; None when the text follows neither layout.

    Returns:
        fastText: columns text, label (the first label), plus labels (all, comma-joined) when a
        line has several; COARSE:fine: text, label (coarse), fine_label ("COARSE:fine").

    Raises:
        DataError: the layout was recognised but no line parses.
    """
    lines = _numbered_lines(text)
    layout = _layout(lines)
    if not layout:
        return None
    pattern = FASTTEXT if layout == "fasttext" else COARSE_FINE
    rows, bad = [], []
    for number, line in lines:
        match = pattern.match(line)
        if match:
            rows.append(_row(layout, match))
        else:
            bad.append(((number, number), "does not follow the layout of the other lines", [line]))
    if not rows:
        raise DataError(f"{name}: no line could be read. Check that it is a labelled-lines file.")
    table = pd.DataFrame(rows)
    if layout == "coarse_fine" and table["label"].nunique() > MAX_CLASSES:
        return None
    notes = [_layout_note(layout, table)]
    if layout == "fasttext" and (table["labels"] == table["label"]).all():
        table = table.drop(columns="labels")
    if bad:
        shown = ", ".join(str(s[0]) for s, _, _ in bad[:8])
        notes.append(
            f"Lines that could not be read: {len(bad):,} (line {shown}"
            f"{' …' if len(bad) > 8 else ''}). They are not in the table; they are listed below "
            "the preview."
        )
    table.attrs["bad_lines"] = bad_lines_record(bad)
    return table, notes


def _row(layout: str, match: re.Match) -> dict:
    if layout == "fasttext":
        labels = [part[len("__label__") :] for part in match.group(1).split()]
        return {"text": match.group(2), "label": labels[0], "labels": ",".join(labels)}
    coarse, fine, question = match.groups()
    return {"text": question, "label": coarse, "fine_label": f"{coarse}:{fine}"}


def _layout_note(layout: str, table: pd.DataFrame) -> str:
    if layout == "fasttext":
        several = int((table["labels"] != table["label"]).sum())
        extra = (
            f" Lines with several labels: {several:,}; label is the first, labels lists all."
            if several
            else ""
        )
        return (
            f"Read as fastText lines (__label__x text): {table['label'].nunique()} labels.{extra}"
        )
    return (
        "Read as COARSE:fine lines (TREC style): label is the coarse class "
        f"({table['label'].nunique()} values); fine_label holds the fine class "
        f"({table['fine_label'].nunique()} values) — pick it as the label to predict that instead."
    )
