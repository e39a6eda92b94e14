"""Decompression is streamed and capped at a multiple of the upload limit (zip / gzip bombs)."""

from __future__ import annotations

import gzip
import io
import tracemalloc
import zipfile

import pytest

from core.data import archive
from core.data.formats import DataError, unwrap


@pytest.fixture
def upload_limit():
    """A 1 MB upload limit for the test (5 MB unpacked), then the default again."""
    archive.set_upload_limit(1)
    yield archive.unpack_limit()
    archive.set_upload_limit(200)


def _zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(name, data)
    return buffer.getvalue()


def test_the_cap_follows_the_upload_limit(upload_limit):
    assert upload_limit == archive.UNPACK_RATIO * 2**20


@pytest.mark.parametrize("wrap", ["gz", "zip"])
def test_a_bomb_is_refused_without_holding_it_in_memory(upload_limit, wrap):
    bomb = b"a," * (32 * 2**20)  # 64 MB of text
    packed = gzip.compress(bomb) if wrap == "gz" else _zipped("rows.csv", bomb)
    assert len(packed) < 2**20  # small enough to upload
    del bomb
    tracemalloc.start()
    with pytest.raises(DataError, match=r"unpacks to more than 5 MB \(5 × the upload limit\)"):
        unwrap(packed, f"rows.csv.{wrap}" if wrap == "gz" else "rows.zip")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < upload_limit + 4 * 2**20


@pytest.mark.parametrize("wrap", ["gz", "zip"])
def test_data_under_the_cap_unpacks_whole(upload_limit, wrap):
    data = b"text,label\n" + b"fine,a\n" * 300_000  # 2.1 MB: under 5 MB
    packed = gzip.compress(data) if wrap == "gz" else _zipped("rows.csv", data)
    inner, name = unwrap(packed, "rows.csv.gz" if wrap == "gz" else "rows.zip")
    assert inner == data and name == "rows.csv"


def test_a_multi_member_gzip_is_read_to_the_end(upload_limit):
    packed = gzip.compress(b"text\n" + b"a\n" * 10) + gzip.compress(b"b\n" * 10)
    assert unwrap(packed, "rows.csv.gz")[0].count(b"\n") == 21
