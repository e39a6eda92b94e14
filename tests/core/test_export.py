"""The downloaded zip holds no raw validation texts unless asked, and no absolute server paths."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

from core import runs
from core.export import EMBEDDED_PUBLIC_ID, adapter_zip
from core.models import EMBEDDED_MODEL, embedded_model_path
from core.settings import RunConfig


@pytest.fixture
def finished(data_root, tmp_path):
    """A run directory as the trainer leaves it, with the server paths peft and we record."""
    data = tmp_path / "private" / "customers.csv"
    data.parent.mkdir()
    data.write_text("text,label\nmy card 4111 is blocked,complaint\n")
    config = RunConfig().replace(
        model={"name_or_path": EMBEDDED_MODEL}, data={"path": str(data), "text_column": "text"}
    )
    run_dir = runs.create_run(config)
    adapter = run_dir / runs.ADAPTER_DIR
    adapter.mkdir()
    base = embedded_model_path()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    (adapter / "README.md").write_text(f"---\nbase_model: {base}\n---\nsaved in {run_dir}\n")
    (adapter / "labels.json").write_text(json.dumps({"labels": ["a"], "base_model": base}))
    (adapter / "adapter_model.safetensors").write_bytes(b"\x00weights")
    (adapter / "training_args.bin").write_bytes(b"pickle")
    evaluation = {
        "accuracy": 0.9,
        "macro_f1": 0.9,
        "n_validation": 1,
        "chance_accuracy": 0.5,
        "labels": ["complaint"],
        "mistakes": [{"text": "my card 4111 is blocked", "label": "a", "predicted": "b"}],
    }
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(evaluation))
    return run_dir, data


def _texts(blob: bytes) -> dict[str, str]:
    archive = zipfile.ZipFile(io.BytesIO(blob))
    return {n: archive.read(n).decode("utf-8", "replace") for n in archive.namelist()}


def test_no_raw_validation_text_and_no_server_path_leaves_by_default(finished, data_root):
    run_dir, data = finished
    texts = _texts(adapter_zip(run_dir))
    assert "adapter/training_args.bin" not in texts
    everything = "\n".join(texts.values())
    assert "4111" not in everything and "mistakes" not in texts["eval.json"]
    for server_path in (
        str(data),
        str(data.parent),
        str(run_dir),
        str(data_root),
        embedded_model_path(),
        sys.prefix,
        str(Path.home()),
    ):
        assert server_path not in everything, server_path
    assert json.loads(texts["adapter/adapter_config.json"])["base_model_name_or_path"] == (
        EMBEDDED_PUBLIC_ID
    )
    assert "customers.csv" in texts["config.yaml"] and EMBEDDED_PUBLIC_ID in texts["README.md"]
    assert json.loads(texts["eval.json"])["accuracy"] == 0.9


def test_validation_examples_are_included_when_the_user_opts_in(finished):
    run_dir, data = finished
    texts = _texts(adapter_zip(run_dir, include_examples=True))
    mistakes = json.loads(texts["eval.json"])["mistakes"]
    assert mistakes[0]["text"] == "my card 4111 is blocked"
    assert str(data) not in "\n".join(texts.values())


def test_a_local_model_folder_is_named_by_its_folder_name(finished, tmp_path):
    run_dir, _ = finished
    folder = tmp_path / "models" / "my-bert"
    folder.mkdir(parents=True)
    config = runs.read_config(run_dir).replace(model={"name_or_path": str(folder)})
    config.save(run_dir / runs.CONFIG_FILE)
    (run_dir / runs.ADAPTER_DIR / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": str(folder)})
    )
    texts = _texts(adapter_zip(run_dir))
    assert str(folder) not in "\n".join(texts.values())
    assert json.loads(texts["adapter/adapter_config.json"])["base_model_name_or_path"] == "my-bert"
