"""Bounded decompression: a .gz or .zip member is read in chunks and refused past a cap.

A 4 MB .gz can unpack to 4 GB; read whole, it would fill the server's memory for every user. The
cap is a multiple of the upload limit (Streamlit's server.maxUploadSize, which app.py passes in):
whoever runs the server sizes both with one setting.
"""

from __future__ import annotations

from typing import BinaryIO

UNPACK_RATIO = 5  # unpacked data may be 5 × the upload limit (text compresses ~3-10×)
CHUNK = 1 << 20
_upload_limit = 200 * 2**20  # Streamlit's default maxUploadSize (200 MB) until app.py says


def set_upload_limit(megabytes: float) -> None:
    """The server's upload limit in MB (server.maxUploadSize); the unpack cap follows it."""
    global _upload_limit
    _upload_limit = int(float(megabytes) * 2**20)


def unpack_limit() -> int:
    """The most bytes one archive may unpack to."""
    return UNPACK_RATIO * _upload_limit


def read_capped(stream: BinaryIO, name: str, limit: int | None = None) -> bytes:
    """All of `stream` (a decompressing file object), read in 1 MB chunks up to `limit` bytes.

    Raises:
        DataError: the data unpacks to more than the limit (nothing past it is held in memory).
    """
    from core.data.errors import DataError

    limit = unpack_limit() if limit is None else limit
    parts, total = [], 0
    while chunk := stream.read(min(CHUNK, limit + 1 - total)):
        total += len(chunk)
        if total > limit:
            raise DataError(
                f"{name} unpacks to more than {limit / 2**20:,.0f} MB ({UNPACK_RATIO} × the upload "
                "limit), so it was not opened. Give it as a local path (uncompressed), or split it."
            )
        parts.append(chunk)
    return b"".join(parts)
