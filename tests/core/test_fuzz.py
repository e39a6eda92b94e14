"""Fuzz: 200 damaged data files and 200 damaged configs. Every one either loads or is refused with
the app's own message (DataError / ConfigError); none raises anything else or hangs."""

from __future__ import annotations

import copy
import gzip
import io
import json
import random
import zipfile

import pandas as pd
import pytest

from core.data.formats import DataError
from core.data.load import load_table
from core.settings import ConfigError, RunConfig

SEEDS = {
    "csv": b'text,label\n"great, really",pos\nawful,neg\n',
    "tsv": b"text\tlabel\ngreat\tpos\nawful\tneg\n",
    "jsonl": b'{"text": "great", "label": "pos"}\n{"text": "awful", "label": "neg"}\n',
    "json": b'[{"instruction": "Say hi", "output": "hi"}]',
    "txt": b"one line\nanother line\n",
}
NOISE = [b"\x00", b'"', b",", b"\t", b"\n", b"{", b"]", b"\xff\xfe", b"\xe9", b"\r", b"'" * 3]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice, at = rng.random(), rng.randrange(len(data) + 1)
        if choice < 0.3 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif choice < 0.6:
            data[at:at] = rng.choice(NOISE) * rng.randint(1, 50)
        elif choice < 0.8:
            del data[at : at + rng.randint(1, 20)]
        else:
            data = data[:at]
    return bytes(data)


def _wrap(data: bytes, name: str, rng: random.Random) -> tuple[bytes, str]:
    roll = rng.random()
    if roll < 0.1:
        return gzip.compress(data)[: rng.randint(5, 200)], name + ".gz"  # often truncated
    if roll < 0.2:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(rng.choice([name, "__MACOSX/x", "nested.zip"]), data)
        return buffer.getvalue(), name.rsplit(".", 1)[0] + ".zip"
    if roll < 0.27:
        frame = pd.DataFrame({"text": ["a", None], "label": [1, 2]})
        return _mutate(frame.to_parquet(), rng), name.rsplit(".", 1)[0] + ".parquet"
    return data, name


def test_200_damaged_files_load_or_are_refused_with_a_message(tmp_path):
    rng = random.Random(12)
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(200):
        suffix = rng.choice(list(SEEDS))
        data, name = _wrap(_mutate(SEEDS[suffix], rng), f"f{i}.{suffix}", rng)
        path = tmp_path / name
        path.write_bytes(data)
        try:
            load_table(path)
            outcomes["loaded"] += 1
        except DataError as err:
            assert str(err) and "Traceback" not in str(err)
            outcomes["refused"] += 1
        except Exception as err:  # noqa: BLE001 - the finding: report the input that broke it
            pytest.fail(f"{name} ({data[:80]!r}) raised {type(err).__name__}: {err}")
    assert min(outcomes.values()) > 10, outcomes  # the fuzz reaches both outcomes


def _odd_value(rng: random.Random):
    return rng.choice(
        [None, -1, 0, 10**12, 1e-12, float("nan"), "", "abc", [], {}, [1, "x"], True, "1e3", -0.5]
    )


def test_200_damaged_configs_open_or_are_refused_with_a_message():
    rng = random.Random(7)
    base = RunConfig().to_dict()
    outcomes = {"opened": 0, "refused": 0}
    for _ in range(200):
        raw = copy.deepcopy(base)
        for _ in range(rng.randint(1, 4)):
            section = rng.choice(list(raw))
            if not isinstance(raw[section], dict) or rng.random() < 0.05:
                raw[section] = _odd_value(rng)
                continue
            key = rng.choice([*raw[section], "no_such_setting"])
            if rng.random() < 0.15:
                raw[section].pop(key, None)
            else:
                raw[section][key] = _odd_value(rng)
        try:
            RunConfig.from_dict(raw)
            outcomes["opened"] += 1
        except ConfigError as err:
            assert str(err)
            outcomes["refused"] += 1
        except Exception as err:  # noqa: BLE001 - the finding: report the input that broke it
            pytest.fail(f"{json.dumps(raw, default=str)[:300]} raised {type(err).__name__}: {err}")
    assert min(outcomes.values()) > 10, outcomes
