"""Reading a 1 M-row CSV: the app's load_table (header guess, line accounting) against plain
pandas readers, on a regular file and on the same file with one bad line at the end.

    .venv/bin/python bench/data_read.py             # banking77_train.csv × 100 (1,000,300 rows)
    .venv/bin/python bench/data_read.py --copies 10

Needs ../shared/datasets/banking77_train.csv (CC BY 4.0, PolyAI). The files are written to a
temporary folder first (untimed); each reader runs --repeats times, interleaved, and the best
time is reported. pandas refuses the file with a bad line (ParserError): that is its time to fail.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCE = ROOT.parent / "shared" / "datasets" / "banking77_train.csv"


def write_files(folder: Path, copies: int) -> tuple[Path, Path]:
    header, body = SOURCE.read_bytes().split(b"\r\n", 1)
    regular = folder / "regular.csv"
    regular.write_bytes(header + b"\r\n" + body * copies)
    ragged = folder / "ragged.csv"
    ragged.write_bytes(regular.read_bytes() + b"one,extra,field\r\n")
    return regular, ragged


def pandas_reader(engine: str):
    def read(path: Path):
        text = path.read_bytes().decode("utf-8")
        try:
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, engine=engine)
        except Exception:  # noqa: BLE001 - the refusal is the result being timed
            return None

    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from core.data.load import load_table

    readers = {
        "pandas read_csv (C engine)": pandas_reader("c"),
        "pandas read_csv (pyarrow engine)": pandas_reader("pyarrow"),
        "app load_table": load_table,
    }
    with tempfile.TemporaryDirectory() as folder:
        paths = write_files(Path(folder), args.copies)
        files = dict(zip(("regular", "one bad line"), paths, strict=True))
        best: dict[tuple[str, str], float] = {}
        rows: dict[tuple[str, str], str] = {}
        for _ in range(args.repeats):
            for kind, path in files.items():
                for name, read in readers.items():
                    start = time.perf_counter()
                    table = read(path)
                    seconds = time.perf_counter() - start
                    key = (kind, name)
                    best[key] = min(best.get(key, seconds), seconds)
                    rows[key] = "refused" if table is None else f"{len(table):,} rows"
    for (kind, name), seconds in best.items():
        ratio = seconds / best[(kind, "pandas read_csv (C engine)")]
        print(f"{kind:13} {name:34} {seconds:6.2f} s  ×{ratio:4.2f}  {rows[(kind, name)]}")


if __name__ == "__main__":
    main()
