"""Pattern scans over a text column: possible PII and encoding damage, with masking.

One combined RE2 pass (pyarrow) finds the rows that may hold any pattern; the per-kind patterns
then run only on those rows, so a million clean rows cost one pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.data.dedup import as_arrow

PII_PATTERNS = {
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}",
    "card": r"\b(?:\d[ -]?){12,18}\d\b",
    "phone": r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{3,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?\b",
    "ip": r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b",
}
DAMAGE_PATTERNS = {
    # UTF-8 read as Latin-1/cp1252 leaves these pairs ("Ã©" for "é", "â€™" for "’").
    "mojibake": r"Ã[\x{80}-\x{BF}]|Ã[©¨ª«¢¤§®¯¼½¾¶´³²±°¹º»¿]|â€|Â[\x{A0}-\x{BF} ]|\x{FFFD}",
    "control": r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]",
    "html": r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|&(?:[a-z]{2,8}|#\d{2,5});",
}
MASKS = {"email": "[EMAIL]", "card": "[CARD]", "phone": "[PHONE]", "ip": "[IP]"}


def _array(texts: pd.Series) -> pa.Array:
    return as_arrow(texts)


def scan(texts: pd.Series, patterns: dict[str, str]) -> dict[str, np.ndarray]:
    """Row positions that match each pattern.

    Args:
        texts: one string per row.
        patterns: name → RE2 regular expression.

    Returns:
        name → sorted positions of the rows where that pattern occurs.
    """
    array = _array(texts)
    combined = "|".join(f"(?:{p})" for p in patterns.values())
    hits = np.flatnonzero(
        pc.match_substring_regex(array, pattern=combined).to_numpy(zero_copy_only=False)
    )
    subset = array.take(pa.array(hits, type=pa.int64()))
    found = {}
    for name, pattern in patterns.items():
        mask = pc.match_substring_regex(subset, pattern=pattern).to_numpy(zero_copy_only=False)
        found[name] = hits[mask]
    if "card" in found:
        found["card"] = found["card"][[_has_luhn_number(texts.iloc[i]) for i in found["card"]]]
    return found


def _has_luhn_number(text: str) -> bool:
    """Whether a card-like digit run passes the Luhn checksum (most random digit runs do not)."""
    import re

    for match in re.finditer(PII_PATTERNS["card"], text):
        digits = [int(c) for c in match.group() if c.isdigit()]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
            for i, d in enumerate(reversed(digits))
        )
        if total % 10 == 0:
            return True
    return False


def mask_pii(texts: pd.Series, kinds: tuple[str, ...] = tuple(PII_PATTERNS)) -> pd.Series:
    """The texts with each PII match replaced by a tag such as [EMAIL]; other text unchanged."""
    array = _array(texts)
    # Cards before phones: a card number also looks like a long phone number.
    for kind in ("email", "card", "ip", "phone"):
        if kind in kinds:
            array = pc.replace_substring_regex(
                array, pattern=PII_PATTERNS[kind], replacement=MASKS[kind]
            )
    return pd.Series(array.to_numpy(zero_copy_only=False), index=texts.index, dtype=object)


def strip_html(texts: pd.Series) -> pd.Series:
    """Tags removed and the common entities decoded."""
    array = pc.replace_substring_regex(
        _array(texts), pattern=r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>", replacement=" "
    )
    for entity, char in (
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", '"'),
        ("&#39;", "'"),
        ("&nbsp;", " "),
    ):
        array = pc.replace_substring(array, pattern=entity, replacement=char)
    array = pc.utf8_trim_whitespace(
        pc.replace_substring_regex(array, pattern=r"  +", replacement=" ")
    )
    return pd.Series(array.to_numpy(zero_copy_only=False), index=texts.index, dtype=object)


def repair_text(text: str) -> str:
    """Undo UTF-8-read-as-Latin-1 mojibake when that round-trips, and drop control characters."""
    import re

    try:
        repaired = text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        try:
            repaired = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            repaired = text
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", repaired)


def mask_example(text: str, limit: int = 120) -> str:
    """A short example with its PII masked, safe to show on screen."""
    return str(mask_pii(pd.Series([text])).iloc[0])[:limit]
