"""Personal data in text (e-mails, phone numbers, payment cards, IP addresses), found precisely.

    found = find_pii(texts)            # kind → row positions
    masked = mask_pii(texts)           # "call +1 415-555-0134" → "call [PHONE]"

Two stages, so a million rows stay fast and ordinary numbers are not flagged:
1. one RE2 pass (pyarrow) keeps the rows holding something shaped like a kind of PII;
2. each candidate is confirmed in Python: phone numbers by Google's libphonenumber (the
   `phonenumbers` port: a number must be valid for its country, e.g. "+44 20 7946 0958", or for
   `region` when written without a country code, and grouped as that country writes it), cards by issuer prefix, length, digit grouping
   and the Luhn checksum, IP addresses by the octet ranges and the words around them ("version
   1.2.3.4" is a version). Scores ("108-102"), year ranges ("1973-1990"), versions ("2.4.1"),
   model numbers ("737-800"), prices and dates are therefore not PII.
Masking replaces exactly the confirmed spans, so what the report flags is what the fix changes.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.data.dedup import as_arrow

KINDS = ("email", "phone", "card", "ip")
MASKS = {"email": "[EMAIL]", "card": "[CARD]", "phone": "[PHONE]", "ip": "[IP]"}
DEFAULT_REGION = "US"  # national numbers (no "+country") are checked against this country's plan
# Stage 1: broad shapes (RE2 syntax; also valid Python `re`).
CANDIDATES = {
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}",
    "phone": r"\+?\(?\d[\d ().-]{5,}\d",
    "card": r"\b(?:\d[ -]?){12,18}\d\b",
    "ip": r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
}
US_FORMATTED_PHONE = r"(?<![\w-])(?:\(\d{3}\) ?|\d{3}-)\d{3}-\d{4}(?![\w-])"  # (123) 456-7891
FILE_SUFFIXES = {"png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "txt", "css", "js"}  # a@2x.png
VERSION_WORDS = re.compile(r"(?:\bv|version|ver\.?|build|release|firmware|rev\.?)\s*$", re.I)
# Issuer prefixes (IIN) and lengths: Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro.
CARD_ISSUERS = (
    (r"4", (13, 16, 19)),
    (r"5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)", (16,)),
    (r"3[47]", (15,)),
    (r"6(?:011|5|4[4-9])", (16, 19)),
    (r"3(?:0[0-5]|[689])", (14, 16)),
    (r"35(?:2[89]|[3-8])", (16, 19)),
    (r"62", (16, 17, 18, 19)),
    (r"5[06-9]|6[37]", (12, 13, 14, 15, 16, 17, 18, 19)),
)
CARD_GROUPS = {(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 4, 3), (4, 4, 4, 1)}


def find_pii(
    texts: pd.Series, kinds: tuple[str, ...] = KINDS, region: str = DEFAULT_REGION
) -> dict[str, np.ndarray]:
    """Rows that hold each kind of personal data.

    Args:
        texts: one string per row.
        kinds: which of KINDS to look for.
        region: ISO country code for phone numbers written without "+country code".

    Returns:
        kind → sorted positions of the rows where it occurs (confirmed, not only shaped like it).
    """
    array = as_arrow(texts)
    combined = "|".join(f"(?:{CANDIDATES[k]})" for k in kinds)
    shaped = pc.match_substring_regex(array, pattern=combined).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(shaped)  # one pass over every row; the rest reads these rows only
    subset = array.take(pa.array(rows, type=pa.int64()))
    found = {}
    for kind in kinds:
        hit = pc.match_substring_regex(subset, pattern=CANDIDATES[kind]).to_numpy(False)
        texts_of_kind = subset.filter(pa.array(hit)).to_pylist()
        keep = [bool(FINDERS[kind](text or "", region)) for text in texts_of_kind]
        found[kind] = rows[hit][np.asarray(keep, dtype=bool)] if len(keep) else rows[hit]
    return found


def pii_spans(
    text: str, kinds: tuple[str, ...] = KINDS, region: str = DEFAULT_REGION
) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each confirmed piece of personal data in one text, sorted, no overlaps
    (e-mails, then cards, IPs and phones take the characters first, in that order)."""
    spans: list[tuple[int, int, str]] = []
    for kind in ("email", "card", "ip", "phone"):
        if kind not in kinds:
            continue
        for start, end in FINDERS[kind](text, region):
            if all(end <= s or start >= e for s, e, _ in spans):
                spans.append((start, end, kind))
    return sorted(spans)


def mask_pii(
    texts: pd.Series, kinds: tuple[str, ...] = KINDS, region: str = DEFAULT_REGION
) -> pd.Series:
    """The texts with each confirmed piece of personal data replaced by a tag such as [PHONE]."""
    values = texts.fillna("").astype(str)
    array = as_arrow(values)
    combined = "|".join(f"(?:{CANDIDATES[k]})" for k in kinds)
    rows = np.flatnonzero(pc.match_substring_regex(array, pattern=combined).to_numpy(False))
    out = values.copy()
    for row in rows:
        out.iloc[row] = mask_text(values.iloc[row], kinds, region)
    return out


def mask_text(text: str, kinds: tuple[str, ...] = KINDS, region: str = DEFAULT_REGION) -> str:
    """One text with its confirmed personal data replaced by tags."""
    for start, end, kind in reversed(pii_spans(text, kinds, region)):
        text = text[:start] + MASKS[kind] + text[end:]
    return text


def mask_example(text: str, limit: int = 120) -> str:
    """A short example with its personal data masked, safe to show on screen."""
    return mask_text(str(text))[:limit]


def _emails(text: str, region: str) -> list[tuple[int, int]]:
    return [
        m.span()
        for m in re.finditer(CANDIDATES["email"], text)
        if m.group().rsplit(".", 1)[-1].lower() not in FILE_SUFFIXES
    ]


def _phones(text: str, region: str) -> list[tuple[int, int]]:
    """Valid numbers written in their country's own grouping ("25 24 23 22 21" is a valid US
    number, grouped as a countdown), with a "+" or a separator (a bare run of digits is more often
    an order or account number); and US-formatted placeholders such as "(123) 456-7891".

    libphonenumber reads only a few characters around each phone-shaped run of 7 to 15 digits:
    on the whole of a long, number-heavy text (maths, tables) it costs milliseconds a row."""
    import phonenumbers

    strict = phonenumbers.Leniency.STRICT_GROUPING
    spans = [m.span() for m in re.finditer(US_FORMATTED_PHONE, text)]
    for shaped in re.finditer(CANDIDATES["phone"], text):
        digits = sum(c.isdigit() for c in shaped.group())
        if not 7 <= digits <= 15 or re.fullmatch(CANDIDATES["ip"], shaped.group()):
            continue  # no number plan is shorter or longer (E.164); cards and IPs are not phones
        start = max(0, shaped.start() - 2)
        window = text[start : shaped.end() + 2]
        spans += [
            (start + m.start, start + m.end)
            for m in phonenumbers.PhoneNumberMatcher(window, region, leniency=strict)
            if not m.raw_string.isdigit()
        ]
    return sorted(set(spans))


def _cards(text: str, region: str) -> list[tuple[int, int]]:
    spans = []
    for m in re.finditer(CANDIDATES["card"], text):
        groups = tuple(len(g) for g in re.split(r"[ -]", m.group()))
        digits = re.sub(r"\D", "", m.group())
        one_separator = len(set(re.findall(r"[ -]", m.group()))) == 1
        grouped = len(groups) == 1 or (groups in CARD_GROUPS and one_separator)
        if grouped and _issuer_length_ok(digits) and _luhn_ok(digits):
            spans.append(m.span())
    return spans


def _issuer_length_ok(digits: str) -> bool:
    return any(re.match(p, digits) and len(digits) in lengths for p, lengths in CARD_ISSUERS)


def _luhn_ok(digits: str) -> bool:
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
        for i, d in enumerate(int(c) for c in reversed(digits))
    )
    return total % 10 == 0


def _ips(text: str, region: str) -> list[tuple[int, int]]:
    spans = []
    for m in re.finditer(CANDIDATES["ip"], text):
        octets = m.group().split(".")
        in_range = all(int(o) <= 255 and (o == "0" or not o.startswith("0")) for o in octets)
        longer = re.match(r"\.\d", text[m.end() :]) or text[: m.start()].endswith(".")
        if in_range and not longer and not VERSION_WORDS.search(text[: m.start()]):
            spans.append(m.span())
    return spans


FINDERS = {"email": _emails, "phone": _phones, "card": _cards, "ip": _ips}
